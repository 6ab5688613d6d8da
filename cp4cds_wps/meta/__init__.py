"""The meta-WPS: resolve selections over the inventory, estimate requests, show availability.

Served beside the main WPS: ``/meta-wps`` (:mod:`cp4cds_wps.meta.service`, processes in
:mod:`cp4cds_wps.meta.processes`) and ``/api/constraints`` (:mod:`cp4cds_wps.meta.api`); the
main WPS's inputs link to it (:mod:`cp4cds_wps.meta.links`) and its processes can refuse
over-limit requests with :func:`cp4cds_wps.meta.estimate.check_limits`.
"""
