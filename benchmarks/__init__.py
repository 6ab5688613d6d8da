"""Benchmarks: peak memory and wall time of a time mean and a subset over a large dataset.

Run ``make bench`` or ``python -m benchmarks --help`` from the repository root.
"""
