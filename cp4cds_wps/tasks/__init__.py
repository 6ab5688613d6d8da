"""Tasks: a user request resolved against the inventory, run with ops, written with output.

Nothing here knows about WPS; processes (and job workers) call these functions.
"""
