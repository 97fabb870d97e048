"""Approach A: the same three rules as Ibis expressions, compiled by Ibis 12 for DuckDB and
for PySpark. The engine adapters (read with _row, write Parquet) are run_sql.py's.

    python ibis_rules.py duckdb DELIVERY_DIR OUT_DIR [--memory 2GB] [--threads 2]
    python ibis_rules.py spark  DELIVERY_DIR OUT_DIR [--split-mb 16]
"""
import argparse, os, time

import ibis
from ibis import _

import run_sql

LIFECYCLE = {"新客户": "new", "成长客户": "growth", "成熟客户": "mature", "价值客户": "value",
             "忠诚客户": "loyal"}


def log1p_pos(x):
    return (ibis.greatest(x, 0) + 1).ln()


def clip01(x):
    return ibis.least(ibis.greatest(x, 0), 1)


# -- the rules (one definition) ---------------------------------------------------------
def rules(raw_b, raw_base) -> dict:
    # (1) dedup: first row per (customer_id, stat_month) in file order (_row)
    first = ibis.row_number().over(group_by=["customer_id", "stat_month"], order_by="_row")
    t = raw_b.mutate(_rn=first)
    dedup_removed = t.filter(_._rn > 0).select("customer_id", "stat_month", "id", "_row")
    beh = t.filter(_._rn == 0).select(
        "_row", "id", "customer_id", "stat_month",
        total_assets=_.total_assets.try_cast("float64"),
        spend=_.credit_card_monthly_expense.try_cast("float64"),
        logins=_.app_login_count.try_cast("int64"),
        investments=_.investment_monthly_count.try_cast("int64"),
        last_login=_.last_app_login_time.try_cast("timestamp"),
        month_start=(_.stat_month + "-01").try_cast("date"),
    )
    usable = beh.filter(_.total_assets.notnull(), _.total_assets >= 0, _.month_start.notnull())
    # (2) own-history outlier, leave-one-out
    per = ibis.window(group_by="customer_id")
    s = usable.select("_row", "customer_id", "stat_month", x=log1p_pos(_.total_assets))
    s = s.mutate(n=_.x.count().over(per), mean=_.x.mean().over(per))
    s = s.mutate(d=_.x - _.mean)
    s = s.mutate(centred=(_.d * _.d).sum().over(per))
    s = s.mutate(
        deviation=ibis.ifelse(_.n >= 3, _.n * _.d / (_.n - 1), ibis.null("float64")),
        spread=ibis.ifelse(
            _.n >= 3, (ibis.greatest(_.centred - _.n * _.d * _.d / (_.n - 1), 0) / (_.n - 1)).sqrt(),
            ibis.null("float64")),
    )
    outliers = s.filter(_.n >= 3, _.deviation.abs() > 3.0 * _.spread,
                        _.deviation.abs() > ibis.literal(2.0).ln()
                        ).select("_row", "customer_id", "stat_month", "deviation", "spread")
    clean = usable.anti_join(outliers.select("_row"), "_row")
    # (3) features, bins, engagement, segments
    latest = clean.mutate(latest_month=_.month_start.max().over(per))
    as_of = clean.aggregate(newest=_.month_start.max()).select(
        as_of=(_.newest.truncate("M") + ibis.interval(months=1) - ibis.interval(days=1)))
    averages = (latest.filter(_.month_start > _.latest_month - ibis.interval(months=3))
                .group_by("customer_id")
                .aggregate(avg_logins_3m=_.logins.mean(), avg_investments_3m=_.investments.mean()))
    cur = latest.filter(_.month_start == _.latest_month).select(
        "customer_id", "total_assets", "spend", "investments", "last_login")
    base = (raw_base.mutate(_rn=ibis.row_number().over(group_by="customer_id", order_by="_row"))
            .filter(_._rn == 0)
            .select("customer_id",
                    lifecycle_code=_.lifecycle_stage.substitute(LIFECYCLE, else_="unknown")))
    j = cur.join(averages, "customer_id").cross_join(as_of).left_join(base, "customer_id")
    days = (j.as_of.cast("timestamp").epoch_seconds() - j.last_login.epoch_seconds()) / 86400.0
    parts = j.select(
        "customer_id", "total_assets", "spend", "investments", "lifecycle_code",
        log_total_assets=log1p_pos(j.total_assets),
        recency=clip01(1 - days.fill_null(90) / 90),
        frequency=0.5 * clip01(j.avg_logins_3m / 30.0) + 0.5 * clip01(j.avg_investments_3m / 6.0),
        monetary=0.5 * clip01(log1p_pos(j.spend) / ibis.literal(50001.0).ln())
        + 0.5 * clip01(log1p_pos(j.total_assets) / ibis.literal(5000001.0).ln()),
    )
    rank = ibis.row_number().over(order_by=["log_total_assets", "customer_id"])
    raw_score = 100 * (0.35 * _.recency + 0.40 * _.frequency + 0.25 * _.monetary)
    f = parts.mutate(asset_tier=rank * 5 // _.customer_id.count().over(ibis.window()) + 1,
                     engagement_raw=raw_score, engagement_score=raw_score.round(2))
    hnw, mid = f.total_assets >= 1_000_000, f.total_assets >= 500_000
    active, investor = f.engagement_score >= 50, f.investments >= 3
    spender, new = f.spend >= 15_000, f.lifecycle_code == "new"
    segment = ibis.cases(
        (hnw & active & investor, "S001"), (hnw & ~active, "S002"), (new & ~hnw, "S004"),
        (mid & ~hnw & active, "S003"), (hnw, "S005"), (mid & ~hnw, "S006"),
        (active & spender, "S007"), (active & investor, "S008"), (active, "S009"),
        (spender, "S010"), else_="S011")
    segments = f.select("customer_id", "asset_tier", "engagement_score", "engagement_raw",
                        segment_id=segment)
    return {"dedup_removed": dedup_removed, "outliers": outliers, "segments": segments}


# -- engines --------------------------------------------------------------------------------
def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("engine", choices=("duckdb", "spark"))
    p.add_argument("delivery"); p.add_argument("out")
    p.add_argument("--memory", default="2GB"); p.add_argument("--threads", type=int, default=2)
    p.add_argument("--split-mb", type=int, default=16); p.add_argument("--show-sql", action="store_true")
    p.add_argument("--order", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    beh, base = run_sql.files(a.delivery)
    if a.engine == "duckdb":
        db = os.path.join(a.out, "work.duckdb")
        con = ibis.duckdb.connect(db, memory_limit=a.memory, threads=a.threads,
                                  temp_directory=f"{a.out}/tmp", preserve_insertion_order=False)
        for name, path in (("raw_behavior", beh), ("raw_base", base)):
            con.raw_sql(f"""CREATE OR REPLACE VIEW {name} AS
                SELECT * EXCLUDE (ordinality), ordinality AS _row
                FROM read_csv('{path}', header=true, all_varchar=true) WITH ORDINALITY""")
    else:
        spark = run_sql.spark_session("rules-ibis")
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(a.split_mb * 2**20))
        run_sql.spark_read(spark, beh).createOrReplaceTempView("raw_behavior")
        run_sql.spark_read(spark, base).createOrReplaceTempView("raw_base")
        con = ibis.pyspark.connect(spark)
    out = rules(con.table("raw_behavior"), con.table("raw_base"))
    if a.order:
        out["order"] = con.table("raw_behavior").select("_row", "id")
    for name, expr in out.items():
        if a.show_sql:
            print(ibis.to_sql(expr, dialect="duckdb" if a.engine == "duckdb" else "spark"))
        t = time.perf_counter()
        path = f"{a.out}/{name}.parquet"
        if a.engine == "duckdb":
            con.to_parquet(expr, path)  # streamed by DuckDB's COPY
        else:
            con.to_parquet(expr, path)  # Spark DataFrameWriter, no pandas conversion
        print(f"ibis-{a.engine} {name}: {time.perf_counter() - t:.1f}s", flush=True)
    if a.engine == "spark":
        spark.stop()


if __name__ == "__main__":
    main()
