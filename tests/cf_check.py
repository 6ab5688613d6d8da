"""CF compliance of output files, checked as users check it: IOOS compliance-checker, offline."""

from __future__ import annotations

import warnings

import xarray as xr

#: How the tests decode times: cftime objects in every calendar.
CFTIME = xr.coders.CFDatetimeCoder(use_cftime=True)


def cf_failures(path) -> set[str]:
    """Failed high-priority checks of the IOOS compliance checker (CF 1.8)."""
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, errors = suite.run_all(suite.load_dataset(str(path)), ["cf:1.8"], [])["cf:1.8"]
    assert not errors, errors
    failures = set()
    for result in results:
        scored, possible = (result.value, True) if isinstance(result.value, bool) else result.value
        if result.weight == 3 and scored != possible:
            failures.update(result.msgs)
    return failures
