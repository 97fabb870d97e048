"""Runs a ``Stage`` on Spark: the same views, transpiled from DuckDB's dialect by sqlglot.

``to_spark`` is the whole translation: sqlglot's, plus the one function it leaves alone
(``TRY_STRPTIME``, which Spark spells ``TRY_TO_TIMESTAMP`` with a Java pattern, taken from the
format pairs of ``rules.py`` so no pattern is guessed). A materialized view is cached
(memory, then disk) until the engine is closed.

Reading a delivery gives the input view the stages expect (``sql/__init__.py``): every
column as text (an empty field is NULL), ``_malformed`` from Spark's corrupt-record column
(a line with more or fewer fields than the header), and ``_row``, the line's place in file
order whatever the split size: the byte offset of its split plus its position inside the
split. A split is one task of the CSV reader, which reads its lines in order, and one file
makes one split per task, so offsets never collide (a split holds fewer lines than bytes).
A line is malformed when it has fewer fields than the header (its last column is missing,
not empty) or more (a spare column after the header's holds something), as on DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from finance_platform.transforms.customers import rules
from finance_platform.transforms.customers.sql import SPARE_COLUMNS, Stage, View

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# strftime -> Java pattern, for every format the rules parse
SPARK_PATTERNS: dict[str, str] = dict(
    (*rules.DATE_FORMATS, *rules.DATETIME_FORMATS, *rules.MONTH_FORMATS)
)
_CORRUPT = "__corrupt_record"
# What the stages need of the session, whatever started it (a cluster's own defaults differ).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}


@cache
def to_spark(query: str) -> str:
    """``query`` (DuckDB SQL) as Spark SQL."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(query, read="duckdb")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.upper() == "TRY_STRPTIME":
            text, fmt = node.expressions
            if not isinstance(fmt, exp.Literal) or fmt.this not in SPARK_PATTERNS:
                raise ValueError(f"TRY_STRPTIME with a format not in rules.py: {fmt.sql()}")
            pattern = exp.Literal.string(SPARK_PATTERNS[fmt.this])
            return exp.Anonymous(this="TRY_TO_TIMESTAMP", expressions=[text, pattern])
        return node

    return tree.transform(rewrite).sql(dialect="spark")


class SparkEngine:
    """A stage's inputs and views on one Spark session."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        for key, value in SESSION_CONF.items():
            spark.conf.set(key, value)
        self._cached: list[DataFrame] = []

    def read_csv(
        self,
        view: str,
        uri: str,
        columns: tuple[str, ...],
        header: tuple[str, ...] = (),
        encoding: str = "utf-8",
    ) -> None:
        """A delivery as input view ``view`` (see the module's docstring)."""
        from pyspark.sql import functions as F

        reader = self.spark.read.option("header", True).option("inferSchema", False)
        if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
            # Spark 4 reads charsets other than UTF-8 only with the legacy Java charsets
            self.spark.conf.set("spark.sql.legacy.javaCharsets", "true")
            reader = reader.option("encoding", encoding.upper())
        if not header:
            header = tuple(c.strip().lstrip("\ufeff") for c in reader.csv(uri).columns)
        missing = [c for c in columns if c not in header]
        if missing:
            raise KeyError(f"{uri} is missing required column(s): {', '.join(missing)}")
        names = [n if n and n not in header[:i] else f"__column_{i}" for i, n in enumerate(header)]
        spare = [f"__spare_{i}" for i in range(1, SPARE_COLUMNS + 1)]
        schema = ", ".join(f"`{n}` string" for n in (*names, *spare)) + f", `{_CORRUPT}` string"
        frame = (
            reader.schema(schema)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", _CORRUPT)
            # no text reads as NULL: an empty field is '' (made NULL below), a missing one NULL
            .option("nullValue", "\u0001")
            .csv(uri)
        )
        within = F.monotonically_increasing_id() - F.shiftleft(
            F.spark_partition_id().cast("long"), 33
        )
        # the corrupt-record column alone misses short lines in some charsets (GB18030)
        malformed = (
            F.col(_CORRUPT).isNotNull()
            | F.col(f"`{names[-1]}`").isNull()
            | F.col(spare[0]).isNotNull()
        )
        frame.select(
            *[F.expr(f"NULLIF(`{c}`, '')").alias(c) for c in columns],
            (F.col("_metadata.file_block_start") + within).alias("_row"),
            malformed.alias("_malformed"),
        ).createOrReplaceTempView(view)

    def read_parquet(self, view: str, uri: str) -> None:
        self.spark.read.parquet(uri).createOrReplaceTempView(view)

    def register(self, view: str, table: pa.Table) -> None:
        """An in-memory Arrow table as input view ``view`` (tests)."""
        self.spark.createDataFrame(table).createOrReplaceTempView(view)

    def create(self, view: View) -> None:
        frame = self.spark.sql(to_spark(view.query))
        if view.materialize:
            from pyspark import StorageLevel

            frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
            self._cached.append(frame)
        frame.createOrReplaceTempView(view.name)

    def run(self, stage: Stage) -> None:
        for view in stage.views:
            self.create(view)

    def table(self, view: str) -> DataFrame:
        return self.spark.table(view)

    def rows(self, view: str) -> list[dict[str, Any]]:
        """A (small) stats view as plain rows."""
        return [row.asDict() for row in self.spark.table(view).collect()]

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()


def run_on_tables(
    spark: SparkSession, stage: Stage, inputs: Mapping[str, Any]
) -> dict[str, pa.Table]:
    """``stage`` on in-memory Arrow ``inputs``; outputs and stats back as Arrow (tests)."""
    missing = [name for name in stage.inputs if name not in inputs]
    if missing:
        raise KeyError(f"stage {stage.name} needs input(s) {missing}")
    engine = SparkEngine(spark)
    try:
        for name in stage.inputs:
            engine.register(name, inputs[name])
        engine.run(stage)
        return {view: engine.table(view).toArrow() for view in (*stage.outputs, *stage.stats)}
    finally:
        engine.close()
