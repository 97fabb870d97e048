-- The three prototype rules, written ONCE in DuckDB SQL. run_sql.py executes them on DuckDB
-- as is, and on Spark after sqlglot.transpile(read="duckdb", write="spark").
-- Inputs (views made by the engine adapter, every CSV column as text):
--   raw_behavior(<contract columns>, _row BIGINT)   _row = file order, taken at read time
--   raw_base(<contract columns>, _row BIGINT)
-- Statements are separated by ';' and each creates one view; the runner writes the views
-- dedup_removed, outliers and segments to Parquet.
-- Not used: TRY_STRPTIME (sqlglot 30.31 leaves it untranslated, Spark has no such function);
-- TRY_CAST(... AS TIMESTAMP/DATE) reads the contract's ISO formats on both engines.

-- (1) deduplication: first row of each (customer_id, stat_month) in FILE order
CREATE OR REPLACE TEMP VIEW dedup_removed AS
SELECT customer_id, stat_month, id, _row
FROM raw_behavior
QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id, stat_month ORDER BY _row) > 1;

CREATE OR REPLACE TEMP VIEW behavior AS
SELECT
  _row, id, customer_id, stat_month,
  TRY_CAST(total_assets AS DOUBLE) AS total_assets,
  TRY_CAST(credit_card_monthly_expense AS DOUBLE) AS spend,
  TRY_CAST(app_login_count AS BIGINT) AS logins,
  TRY_CAST(investment_monthly_count AS BIGINT) AS investments,
  TRY_CAST(last_app_login_time AS TIMESTAMP) AS last_login,
  TRY_CAST(stat_month || '-01' AS DATE) AS month_start
FROM raw_behavior
QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id, stat_month ORDER BY _row) = 1;

-- (2) own-history outlier: log1p(amount) beyond 3 sigma of the customer's OTHER months
--     (leave-one-out mean and population std from centred sums), and at least x2 off
--     their geometric mean, with >= 2 other months (rules.OUTLIER_*)
CREATE OR REPLACE TEMP VIEW outlier_scored AS
WITH x AS (
  SELECT _row, customer_id, stat_month, LN(1 + GREATEST(total_assets, 0)) AS x
  FROM behavior
  WHERE total_assets IS NOT NULL AND total_assets >= 0 AND month_start IS NOT NULL
), m AS (
  SELECT *, COUNT(*) OVER w AS n, AVG(x) OVER w AS mean
  FROM x WINDOW w AS (PARTITION BY customer_id)
), c AS (
  SELECT *, x - mean AS d, SUM((x - mean) * (x - mean)) OVER (PARTITION BY customer_id) AS centred
  FROM m
)
SELECT
  _row, customer_id, stat_month, n,
  CASE WHEN n >= 3 THEN n * d / (n - 1) END AS deviation,
  CASE WHEN n >= 3 THEN SQRT(GREATEST(centred - n * d * d / (n - 1), 0) / (n - 1)) END AS spread
FROM c;

CREATE OR REPLACE TEMP VIEW outliers AS
SELECT _row, customer_id, stat_month, deviation, spread
FROM outlier_scored
WHERE n >= 3 AND ABS(deviation) > 3.0 * spread AND ABS(deviation) > LN(2.0);

CREATE OR REPLACE TEMP VIEW clean AS
SELECT b.*
FROM behavior AS b
WHERE b.total_assets IS NOT NULL AND b.total_assets >= 0 AND b.month_start IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM outliers AS o WHERE o._row = b._row);

-- (3) current view + 3-month averages, quantile bins, engagement score, first-match segments
-- (a CTE referenced twice trips Spark 4.3.0's optimizer, PLAN_VALIDATION_FAILED_RULE_IN_BATCH
--  in PushdownPredicatesAndPruneColumnsForCTEDef, so `latest` is a view of its own)
CREATE OR REPLACE TEMP VIEW latest AS
SELECT *, MAX(month_start) OVER (PARTITION BY customer_id) AS latest_month FROM clean;

CREATE OR REPLACE TEMP VIEW features AS
WITH as_of AS (
  SELECT LAST_DAY(MAX(month_start)) AS as_of FROM clean
), averages AS (
  SELECT customer_id,
         AVG(logins) AS avg_logins_3m, AVG(investments) AS avg_investments_3m
  FROM latest
  WHERE month_start > latest_month - INTERVAL 3 MONTH
  GROUP BY customer_id
), cur AS (
  SELECT l.customer_id, l.total_assets, l.spend, l.investments, l.last_login
  FROM latest AS l WHERE l.month_start = l.latest_month
), base AS (
  SELECT customer_id, CASE lifecycle_stage WHEN '新客户' THEN 'new' WHEN '成长客户' THEN 'growth'
    WHEN '成熟客户' THEN 'mature' WHEN '价值客户' THEN 'value' WHEN '忠诚客户' THEN 'loyal'
    ELSE 'unknown' END AS lifecycle_code
  FROM raw_base
  QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY _row) = 1
), parts AS (
  SELECT
    c.customer_id, c.total_assets, c.spend, c.investments, b.lifecycle_code,
    LN(1 + GREATEST(c.total_assets, 0)) AS log_total_assets,
    LEAST(GREATEST(1 - COALESCE((EPOCH(a.as_of) - EPOCH(c.last_login)) / 86400.0, 90) / 90, 0), 1)
      AS recency,
    0.5 * LEAST(GREATEST(v.avg_logins_3m / 30.0, 0), 1)
      + 0.5 * LEAST(GREATEST(v.avg_investments_3m / 6.0, 0), 1) AS frequency,
    0.5 * LEAST(GREATEST(LN(1 + GREATEST(c.spend, 0)) / LN(1 + 50000.0), 0), 1)
      + 0.5 * LEAST(GREATEST(LN(1 + GREATEST(c.total_assets, 0)) / LN(1 + 5000000.0), 0), 1)
      AS monetary
  FROM cur AS c
  JOIN averages AS v ON v.customer_id = c.customer_id
  CROSS JOIN as_of AS a
  LEFT JOIN base AS b ON b.customer_id = c.customer_id
)
SELECT
  *,
  (ROW_NUMBER() OVER (ORDER BY log_total_assets, customer_id) - 1) * 5 // COUNT(*) OVER () + 1
    AS asset_tier,
  100 * (0.35 * recency + 0.40 * frequency + 0.25 * monetary) AS engagement_raw,
  ROUND(100 * (0.35 * recency + 0.40 * frequency + 0.25 * monetary), 2) AS engagement_score
FROM parts;

CREATE OR REPLACE TEMP VIEW segments AS
WITH f AS (
  SELECT customer_id, asset_tier, engagement_score, engagement_raw,
    total_assets >= 1000000 AS hnw, total_assets >= 500000 AS mid,
    engagement_score >= 50 AS active, investments >= 3 AS investor,
    spend >= 15000 AS spender, lifecycle_code = 'new' AS is_new
  FROM features
)
SELECT customer_id, asset_tier, engagement_score, engagement_raw,
  CASE
    WHEN hnw AND active AND investor THEN 'S001'
    WHEN hnw AND NOT active THEN 'S002'
    WHEN is_new AND NOT hnw THEN 'S004'
    WHEN mid AND NOT hnw AND active THEN 'S003'
    WHEN hnw THEN 'S005'
    WHEN mid AND NOT hnw THEN 'S006'
    WHEN active AND spender THEN 'S007'
    WHEN active AND investor THEN 'S008'
    WHEN active THEN 'S009'
    WHEN spender THEN 'S010'
    ELSE 'S011'
  END AS segment_id
FROM f;
