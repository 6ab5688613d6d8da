"""Outputs of a request: netCDF files, their names, the Metalink listing them, provenance.

Plain functions and classes, independent of the WPS layer:

- :func:`cp4cds_wps.output.netcdf.write_netcdf` writes a dataset to a CF-clean netCDF file;
- :func:`cp4cds_wps.output.naming.output_filename` names it after its source file;
- :func:`cp4cds_wps.output.metalink.metalink4` lists the files for download;
- :class:`cp4cds_wps.output.provenance.Provenance` records what was done, in W3C PROV.
"""
