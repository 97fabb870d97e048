"""Customer analytics transforms: pure functions, DataFrame in -> DataFrame out.

Rules and thresholds live in ``rules.py`` so the Spark engine reuses them.
"""
