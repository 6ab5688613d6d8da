"""cp4cds-wps: a Web Processing Service next to an ESGF climate data archive."""

__version__ = "0.1.0"
