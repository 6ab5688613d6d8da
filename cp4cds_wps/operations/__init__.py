"""The operations of the service, each declared once in a module of its own.

A module declares an :class:`~cp4cds_wps.operations.base.Operation`: its inputs, the parser
of their values into a frozen request, its planning against the inventory, its sizing, its
run and, for workflow steps, the function applied to each dataset.
:mod:`cp4cds_wps.operations.registry` lists them; the WPS processes, the meta-WPS
``estimate`` and the workflow steps are made from that list.
"""
