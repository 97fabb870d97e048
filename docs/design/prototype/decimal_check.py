"""Same SQL, DECIMAL money: result types and values on DuckDB vs Spark (via sqlglot)."""
import duckdb, sqlglot

import run_sql

SETUP = ("SELECT CAST(m AS DECIMAL(18,2)) AS m FROM (VALUES ('12.34'), ('1.01'), ('0.05')) AS v(m)")
QUERIES = {
    "avg": "SELECT AVG(m) FROM t",
    "sum": "SELECT SUM(m) FROM t",
    "div_int": "SELECT MIN(m / 3) FROM t",
    "int_div_decimal_literal": "SELECT 7 / 86400.0",
    "ln": "SELECT MIN(LN(1 + m)) FROM t",
}
con = duckdb.connect()
con.execute(f"CREATE TABLE t AS {SETUP}")
spark = run_sql.spark_session("decimal")
spark.sql(sqlglot.transpile(SETUP, read="duckdb", write="spark")[0]).createOrReplaceTempView("t")
for name, q in QUERIES.items():
    d = con.sql(q)
    s = spark.sql(sqlglot.transpile(q, read="duckdb", write="spark")[0])
    print(f"{name:24} duckdb {d.types[0]!s:14} {d.fetchall()[0][0]!r:28} "
          f"spark {s.schema[0].dataType.simpleString():14} {s.collect()[0][0]!r}")
spark.stop()
