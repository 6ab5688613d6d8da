"""Benchmarks: wall time and peak memory of each operation, ours against clisops and CDO.

Run ``make bench`` or ``python -m benchmarks --help`` from the repository root.
"""
