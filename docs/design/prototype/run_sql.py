"""Approach B: rules.sql written once (DuckDB dialect); DuckDB runs it, Spark runs sqlglot's
transpilation. Reads the delivery's CSVs, writes dedup_removed/outliers/segments as Parquet.

    python run_sql.py duckdb DELIVERY_DIR OUT_DIR [--memory 2GB] [--threads 2] [--order]
    python run_sql.py spark  DELIVERY_DIR OUT_DIR [--split-mb 16] [--order]
--order also writes order.parquet (_row, id) to prove both engines see the same file order.
"""
import argparse, glob, os, pathlib, time

HERE = pathlib.Path(__file__).parent
OUTPUTS = ("dedup_removed", "outliers", "segments")


def statements() -> list[str]:
    """rules.sql as statements (comment lines dropped, split on ';')."""
    lines = [ln for ln in (HERE / "rules.sql").read_text().splitlines()
             if not ln.strip().startswith("--")]
    return [s for s in "\n".join(lines).split(";") if s.strip()]


def files(delivery: str) -> tuple[str, str]:
    beh = glob.glob(os.path.join(delivery, "customer_behavior_assets", "*.csv"))[0]
    base = glob.glob(os.path.join(delivery, "customer_base", "*.csv"))[0]
    return beh, base


def run_duckdb(a) -> None:
    import duckdb
    beh, base = files(a.delivery)
    os.makedirs(a.out, exist_ok=True)
    db = os.path.join(a.out, "work.duckdb")
    con = duckdb.connect(db)
    con.execute(f"SET memory_limit='{a.memory}'; SET threads={a.threads}; "
                f"SET temp_directory='{a.out}/tmp'; SET preserve_insertion_order=false")
    for name, path in (("raw_behavior", beh), ("raw_base", base)):
        # the row number is taken at read time: WITH ORDINALITY numbers the scan's rows
        con.execute(f"""CREATE OR REPLACE TEMP VIEW {name} AS
            SELECT * EXCLUDE (ordinality), ordinality AS _row
            FROM read_csv('{path}', header=true, all_varchar=true) WITH ORDINALITY""")
    for s in statements():
        con.execute(s)
    for name in OUTPUTS + (("order",) if a.order else ()):
        t = time.perf_counter()
        src = "SELECT _row, id FROM raw_behavior" if name == "order" else f"SELECT * FROM {name}"
        con.execute(f"COPY ({src}) TO '{a.out}/{name}.parquet' (FORMAT parquet)")
        print(f"duckdb {name}: {time.perf_counter() - t:.1f}s", flush=True)
    con.close()
    os.remove(db)


def spark_session(name: str):
    from pyspark.sql import SparkSession
    return (SparkSession.builder.master("local[2]").appName(name)
            .config("spark.driver.memory", "2g")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.ui.enabled", "false")
            .getOrCreate())


def spark_read(spark, path: str):
    """CSV as text plus _row, a file-order key taken at read time that does not depend on
    how Spark splits the file: the split's byte offset plus the row's position in the split
    (a split has fewer lines than bytes, so offsets never collide). No global window."""
    from pyspark.sql import Window, functions as F
    df = spark.read.csv(path, header=True, inferSchema=False)  # every column a string
    df = df.select("*", F.col("_metadata.file_block_start").alias("_blk"),
                   F.spark_partition_id().alias("_pid"),
                   F.monotonically_increasing_id().alias("_mid"))
    first = F.min("_mid").over(Window.partitionBy("_blk", "_pid"))
    return df.withColumn("_row", F.col("_blk") + F.col("_mid") - first).drop("_blk", "_pid", "_mid")


def run_spark(a) -> None:
    import sqlglot
    spark = spark_session("rules-sql")
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(a.split_mb * 2**20))
    beh, base = files(a.delivery)
    spark_read(spark, beh).createOrReplaceTempView("raw_behavior")
    spark_read(spark, base).createOrReplaceTempView("raw_base")
    for s in statements():
        for sql in sqlglot.transpile(s, read="duckdb", write="spark"):
            spark.sql(sql)
    for name in OUTPUTS + (("order",) if a.order else ()):
        t = time.perf_counter()
        df = spark.sql("SELECT _row, id FROM raw_behavior" if name == "order" else f"SELECT * FROM {name}")
        df.write.mode("overwrite").parquet(f"{a.out}/{name}.parquet")
        print(f"spark {name}: {time.perf_counter() - t:.1f}s", flush=True)
    spark.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("engine", choices=("duckdb", "spark"))
    p.add_argument("delivery"); p.add_argument("out")
    p.add_argument("--memory", default="2GB"); p.add_argument("--threads", type=int, default=2)
    p.add_argument("--split-mb", type=int, default=16); p.add_argument("--order", action="store_true")
    a = p.parse_args()
    (run_duckdb if a.engine == "duckdb" else run_spark)(a)
