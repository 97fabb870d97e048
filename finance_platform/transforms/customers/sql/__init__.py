"""The customer rules, written once in SQL (DuckDB's dialect) and run by every engine.

A ``Stage`` is an ordered list of named views over named input views. The engine provides
the inputs, creates the views in order and writes the ``outputs`` views to the lake: DuckDB
runs the SQL as written (``sql/duckdb_engine.py``), Spark runs what sqlglot makes of it
(``sql/spark_engine.py``). Constants come from ``rules.py`` through ``render.py``; table
shapes from ``contract.py``. A view marked ``materialize`` is computed once and kept (DuckDB:
a table in the step's work file, spilled to disk beyond the memory budget; Spark: cached),
because several outputs and statistics read it.

Input views the engines provide:
- a raw delivery (``contract.DELIVERIES``, by its name, e.g. ``raw_customer_base``): the
  contract columns as VARCHAR (an empty field is NULL), ``_row`` BIGINT (unique, increasing
  in file order, taken at read time) and ``_malformed`` BOOLEAN (the line did not split into
  the header's fields; its fields as far as they went);
- a lake table (``contract.TABLES`` / ``QUARANTINES``, by name): the Parquet an engine wrote.

The portable subset (what DuckDB 2.x and Spark 4.3 after sqlglot 30 compute alike), measured
in ``docs/design/customer-rules-engine.md``:
- numbers are DOUBLE or BIGINT, cast explicitly: a float literal is written ``render.lit``
  (``CAST(x AS DOUBLE)``), because Spark reads ``86400.0`` as DECIMAL; no DECIMAL arithmetic
  but the exact sums of money (``render.exact_sum``, the same total in any order);
  every division has a ``NULLIF`` denominator (DuckDB divides by zero to inf, Spark to NULL);
- a number or a date is text of an exact shape (characters and width, ``expressions.py``)
  before it is cast, as each engine's own cast accepts different extras (``1_000``, ``1d``,
  ``2023-1-5``);
- rounding is ``render.round_`` (half away from zero on the binary value): the engines'
  ``ROUND`` differ on halves;
- no ``QUANTILE_*`` / ``APPROX_*`` (different or invalid on Spark), no CTE referenced twice
  (Spark 4.3.0's optimizer fails on it: make it a view of its own);
- first-in-file-order is ``MIN(_row)``; ties elsewhere are broken by ``customer_id``;
- per-customer work is a GROUP BY and a join, not a window: both engines spill them to disk
  and Spark spreads them over executors. Windows are left for rules that are global by
  definition (quantile bins, the target ranking) and the per-customer best offer.
"""

from __future__ import annotations

from dataclasses import dataclass

# Both readers give a delivery this many columns beyond its header, so a line with extra
# fields is caught as malformed instead of losing them.
SPARE_COLUMNS = 8


@dataclass(frozen=True)
class View:
    """``CREATE VIEW name AS query`` (or a table, when ``materialize``)."""

    name: str
    query: str
    materialize: bool = False


@dataclass(frozen=True)
class Stage:
    """One step's SQL: ``views`` over ``inputs``; ``outputs`` are written as tables.

    ``stats``: small views (a few rows) the asset reads back for its metadata and checks.
    """

    name: str
    inputs: tuple[str, ...]
    views: tuple[View, ...]
    outputs: tuple[str, ...]
    stats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [v.name for v in self.views]
        if len(set(names)) != len(names):
            raise ValueError(f"stage {self.name}: a view is defined twice in {names}")
        clash = set(names) & set(self.inputs)
        if clash:
            raise ValueError(f"stage {self.name}: views {sorted(clash)} shadow inputs")
        for wanted in (*self.outputs, *self.stats):
            if wanted not in names:
                raise ValueError(f"stage {self.name}: no view named {wanted!r}")
