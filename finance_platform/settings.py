"""The platform's configuration in one typed place, read from environment variables.

No setting holds a secret: API keys and webhook URLs reach resources through
``dg.EnvVar`` so they are resolved at run time and never printed. The one reader of
secret values is ``secret_values``, so that alert text can be scrubbed of them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("local", "prod")
ENGINES = ("local", "spark", "emr-serverless", "glue")
DEFAULT_LOCAL_MEMORY = 4 * 1024**3  # bytes: the local engine's budget (FINANCE_LOCAL_MEMORY)

DEFAULT_SYMBOLS = ("IBM", "AAPL", "MSFT", "GOOGL", "AMZN")
OFFICIAL_ALPHAVANTAGE_URL = "https://www.alphavantage.co/query"
DEFAULT_SLACK_CHANNEL = "#data-platform-alerts"
DEFAULT_UI_URL = "http://127.0.0.1:3000"

# Every reader below takes ``environ``: a mapping to read instead of the process's
# environment, so tests build the settings of any deployment in-process.
Environ = Mapping[str, str] | None


class ConfigError(ValueError):
    """A setting has a value the platform cannot work with."""


def _env(name: str, default: str, environ: Environ = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or default


def _choice(name: str, default: str, allowed: tuple[str, ...], environ: Environ = None) -> str:
    value = _env(name, default, environ).lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _date(name: str, default: str, environ: Environ = None) -> dt.date:
    raw = _env(name, default, environ)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a date in YYYY-MM-DD format") from exc


def _symbols(name: str, environ: Environ = None) -> tuple[str, ...]:
    raw = _env(name, "", environ)
    if not raw:
        return DEFAULT_SYMBOLS
    symbols = tuple(dict.fromkeys(s.strip().upper() for s in raw.split(",") if s.strip()))
    bad = [s for s in symbols if not s.replace(".", "").replace("-", "").isalnum()]
    if bad or not symbols:
        raise ConfigError(f"{name}={raw!r}: symbols must be comma-separated tickers, got {bad}")
    return symbols


def _engine(environ: Environ = None) -> str:
    if _env("FINANCE_ENGINE", "", environ).lower() == "pandas":
        raise ConfigError(
            "FINANCE_ENGINE=pandas is gone: the local engine is DuckDB, FINANCE_ENGINE=local"
        )
    return _choice("FINANCE_ENGINE", "local", ENGINES, environ)


_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _bytes(name: str, default: int, environ: Environ = None) -> int:
    """A size such as ``4GB``, ``512MB`` or a number of bytes (binary units)."""
    raw = _env(name, str(default), environ).upper().replace(" ", "")
    raw = raw.removesuffix("IB").removesuffix("I")
    number = raw.rstrip("KMGTB")
    unit = raw[len(number) :]
    if unit in ("K", "M", "G", "T"):
        unit += "B"
    try:
        value = int(float(number) * _UNITS[unit])
    except (KeyError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a size such as 4GB or 512MB") from None
    if value < 256 * 1024**2:
        raise ConfigError(f"{name}={raw!r}: the local engine needs at least 256MB")
    return value


def _int(name: str, default: int, environ: Environ = None, *, minimum: int = 1) -> int:
    raw = _env(name, str(default), environ)
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from exc
    if value < minimum:
        raise ConfigError(
            f"{name}={raw!r} must be positive" if minimum == 1 else f"{name}={raw!r} < {minimum}"
        )
    return value


# -- market quotes: Alpha Vantage ---------------------------------------------
# The name of the secret, not its value.
DEFAULT_ALPHAVANTAGE_SECRET_ID = "finance-platform/alphavantage-api-key"  # noqa: S105


@dataclass(frozen=True)
class AlphaVantageSettings:
    """Where market quotes come from and how fast they may be asked for.

    The key's value is never kept here, only whether ``ALPHAVANTAGE_API_KEY`` is set: the
    resource receives the key itself as ``dg.EnvVar`` (resolved at run time, never printed)
    or reads it from Secrets Manager (``secret_id``) in production.
    """

    base_url: str = OFFICIAL_ALPHAVANTAGE_URL
    plan: str = "auto"
    secret_id: str = DEFAULT_ALPHAVANTAGE_SECRET_ID
    key_is_set: bool = False
    dagster_home: str = ""

    @property
    def limiter_state_dir(self) -> str | None:
        """Where runs on this machine share the rate-limit state (``None`` without a home)."""
        return f"{self.dagster_home}/alpha_vantage_limits" if self.dagster_home else None


def load_alpha_vantage_settings(environ: Environ = None) -> AlphaVantageSettings:
    """From ``ALPHAVANTAGE_*`` and ``DAGSTER_HOME`` in ``environ`` (default the process's)."""
    return AlphaVantageSettings(
        base_url=_env("ALPHAVANTAGE_BASE_URL", OFFICIAL_ALPHAVANTAGE_URL, environ),
        plan=_env("ALPHAVANTAGE_PLAN", "auto", environ).lower(),
        secret_id=_env("ALPHAVANTAGE_SECRET_ID", DEFAULT_ALPHAVANTAGE_SECRET_ID, environ),
        key_is_set=bool(_env("ALPHAVANTAGE_API_KEY", "", environ)),
        # Dagster's own variable (the instance folder), read here like the platform's own.
        dagster_home=_env("DAGSTER_HOME", "", environ),
    )


# -- the deployment ---------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Everything that differs between deployments, with local defaults.

    ``finance_platform.definitions.build_definitions`` builds the whole code location from
    one of these: partitions, kinds, tags, resources and code links all follow from it.
    """

    env: str = "local"
    engine: str = "local"
    local_memory_bytes: int = DEFAULT_LOCAL_MEMORY
    lake_root: str = "./.lake"
    warehouse_path: str = "./.lake/warehouse.duckdb"
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    quotes_start: dt.date = dt.date(2020, 1, 1)
    aws_region: str = "us-east-1"
    dagster_ui_url: str = DEFAULT_UI_URL
    lake_keep_versions: int = 5
    slack_channel: str = DEFAULT_SLACK_CHANNEL
    # Where each asset's "source" link in the UI points: empty = the file on this machine.
    git_url: str = ""
    git_branch: str = "main"
    alpha_vantage: AlphaVantageSettings = field(default_factory=AlphaVantageSettings)

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def quotes_are_real(self) -> bool:
        """Quotes come from Alpha Vantage (a key is set, or prod's Secrets Manager), not the
        local sandbox's synthetic prices. Only the key's presence counts, never its value."""
        return self.alpha_vantage.key_is_set or not self.is_local


def get_env(environ: Environ = None) -> str:
    """``FINANCE_ENV``: ``local`` (default) or ``prod``; ``environ`` defaults to the process's."""
    return _choice("FINANCE_ENV", "local", ENVIRONMENTS, environ)


def load_settings(environ: Environ = None) -> Settings:
    """Read the settings from ``environ`` (default: the process's environment)."""
    lake_root = _env("FINANCE_LAKE_ROOT", "./.lake", environ)
    default_wh = (
        str(Path(lake_root) / "warehouse.duckdb")
        if "://" not in lake_root
        else "./warehouse.duckdb"
    )
    region = _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1", environ), environ)
    return Settings(
        env=get_env(environ),
        engine=_engine(environ),
        local_memory_bytes=_bytes("FINANCE_LOCAL_MEMORY", DEFAULT_LOCAL_MEMORY, environ),
        lake_root=lake_root,
        warehouse_path=_env("FINANCE_WAREHOUSE_PATH", default_wh, environ),
        symbols=_symbols("FINANCE_SYMBOLS", environ),
        quotes_start=_date("FINANCE_QUOTES_START", "2020-01-01", environ),
        aws_region=region,
        dagster_ui_url=_env("FINANCE_DAGSTER_UI_URL", DEFAULT_UI_URL, environ).rstrip("/"),
        lake_keep_versions=_int("FINANCE_LAKE_KEEP_VERSIONS", 5, environ),
        slack_channel=_env("SLACK_CHANNEL", DEFAULT_SLACK_CHANNEL, environ),
        git_url=_env("FINANCE_GIT_URL", "", environ).rstrip("/"),
        git_branch=_env("FINANCE_GIT_BRANCH", "main", environ),
        alpha_vantage=load_alpha_vantage_settings(environ),
    )


def s3_endpoint_url(environ: Environ = None) -> str:
    """The S3 endpoint override of the AWS SDKs' own variables (a VPC endpoint, MinIO, moto).

    boto3 reads ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` itself; pyarrow's S3 file
    system does not, so the lake asks here when it opens S3 (run time, like boto3).
    """
    return _env("AWS_ENDPOINT_URL_S3", _env("AWS_ENDPOINT_URL", "", environ), environ)


@dataclass(frozen=True)
class DemoSettings:
    """``make demo``'s defaults for ``--days`` (0 = every trading day) and ``--customers``."""

    days: int = 0
    customers: int = 10_000  # the size of the bank's own sample (DATA_CONTRACT.md)


def load_demo_settings(environ: Environ = None) -> DemoSettings:
    """From ``DEMO_DAYS`` and ``DEMO_CUSTOMERS``."""
    default = DemoSettings()
    return DemoSettings(
        days=_int("DEMO_DAYS", default.days, environ, minimum=0),
        customers=_int("DEMO_CUSTOMERS", default.customers, environ),
    )


# -- Spark engine ---------------------------------------------------------------
GLUE_EXECUTION_CLASSES = ("FLEX", "STANDARD")


def _spark_conf(name: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` pairs separated by commas, e.g. ``spark.executor.memory=4g``."""
    pairs = []
    for item in filter(None, (p.strip() for p in os.environ.get(name, "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise ConfigError(f"{name}: {item!r} is not a spark.<key>=<value> pair")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


@dataclass(frozen=True)
class SparkSettings:
    """Where and how Spark runs: local ``local[*]``, EMR Serverless or Glue.

    Remote parameters are empty by default; the launcher names the missing
    variable when an engine needs one (never a literal ARN in code).
    """

    master: str = "local[*]"
    driver_memory: str = "2g"
    shuffle_partitions: int = 4
    emr_application_id: str = ""
    emr_execution_role_arn: str = ""
    emr_release_label: str = "emr-7.5.0"
    glue_job_name: str = ""
    glue_execution_class: str = "FLEX"
    glue_worker_type: str = "G.1X"
    glue_number_of_workers: int = 2
    artifacts_uri: str = ""
    log_uri: str = ""
    pipes_bucket: str = ""
    pipes_prefix: str = "dagster-pipes/"
    conf: tuple[tuple[str, str], ...] = ()
    timeout_minutes: int = 120
    poll_seconds: int = 15


def load_spark_settings() -> SparkSettings:
    """Spark engine settings from ``FINANCE_SPARK_*``, ``FINANCE_EMR_*`` and ``FINANCE_GLUE_*``."""
    return SparkSettings(
        master=_env("FINANCE_SPARK_MASTER", "local[*]"),
        driver_memory=_env("FINANCE_SPARK_DRIVER_MEMORY", "2g"),
        shuffle_partitions=_int("FINANCE_SPARK_SHUFFLE_PARTITIONS", 4),
        emr_application_id=_env("FINANCE_EMR_APPLICATION_ID", ""),
        emr_execution_role_arn=_env("FINANCE_EMR_EXECUTION_ROLE_ARN", ""),
        emr_release_label=_env("FINANCE_EMR_RELEASE_LABEL", "emr-7.5.0"),
        glue_job_name=_env("FINANCE_GLUE_JOB_NAME", ""),
        glue_execution_class=_choice(
            "FINANCE_GLUE_EXECUTION_CLASS", "flex", tuple(c.lower() for c in GLUE_EXECUTION_CLASSES)
        ).upper(),
        glue_worker_type=_env("FINANCE_GLUE_WORKER_TYPE", "G.1X"),
        glue_number_of_workers=_int("FINANCE_GLUE_NUMBER_OF_WORKERS", 2),
        artifacts_uri=_env("FINANCE_SPARK_ARTIFACTS_URI", "").rstrip("/"),
        log_uri=_env("FINANCE_SPARK_LOG_URI", "").rstrip("/"),
        pipes_bucket=_env("FINANCE_PIPES_BUCKET", ""),
        pipes_prefix=_env("FINANCE_PIPES_PREFIX", "dagster-pipes/"),
        conf=_spark_conf("FINANCE_SPARK_CONF"),
        timeout_minutes=_int("FINANCE_SPARK_TIMEOUT_MINUTES", 120),
        poll_seconds=_int("FINANCE_SPARK_POLL_SECONDS", 15),
    )


# -- customer analytics ---------------------------------------------------------
def _float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc


@dataclass(frozen=True)
class CustomerSettings:
    """Quality thresholds of the customer pipeline (the user's table, as configuration).

    ``missing_rate_threshold`` defaults to the user's 5%; the real data has ~20%
    missing contact results, so the check warns on those columns by design.
    ``run_date`` pins the marketing run date (cool periods) for reruns; empty = today (UTC).
    ``encoding`` forces the deliveries' text encoding (e.g. ``gb18030``); empty = detect
    (UTF-8, else GB18030).
    """

    missing_rate_threshold: float = 0.05
    row_drop_threshold: float = 0.10
    outlier_sigma: float = 3.0
    age_min: int = 18
    age_max: int = 100
    freshness_days: int = 2
    run_date: dt.date | None = None
    encoding: str = ""

    def marketing_run_date(self) -> dt.date:
        return self.run_date or dt.datetime.now(dt.UTC).date()


def load_customer_settings() -> CustomerSettings:
    """From ``FINANCE_CUSTOMERS_*`` variables, with the user's thresholds as defaults."""
    run_date = _env("FINANCE_CUSTOMERS_RUN_DATE", "")
    settings = CustomerSettings(
        missing_rate_threshold=_float("FINANCE_CUSTOMERS_MISSING_RATE", 0.05),
        row_drop_threshold=_float("FINANCE_CUSTOMERS_ROW_DROP", 0.10),
        outlier_sigma=_float("FINANCE_CUSTOMERS_SIGMA", 3.0),
        age_min=_int("FINANCE_CUSTOMERS_AGE_MIN", 18),
        age_max=_int("FINANCE_CUSTOMERS_AGE_MAX", 100),
        freshness_days=_int("FINANCE_CUSTOMERS_FRESHNESS_DAYS", 2),
        run_date=_date("FINANCE_CUSTOMERS_RUN_DATE", run_date) if run_date else None,
        encoding=_env("FINANCE_CUSTOMERS_ENCODING", ""),
    )
    for name, value in (
        ("FINANCE_CUSTOMERS_MISSING_RATE", settings.missing_rate_threshold),
        ("FINANCE_CUSTOMERS_ROW_DROP", settings.row_drop_threshold),
    ):
        if not 0 <= value <= 1:
            raise ConfigError(f"{name}={value} must be a share between 0 and 1")
    if settings.encoding:
        import codecs

        try:
            codecs.lookup(settings.encoding)
        except LookupError as exc:
            raise ConfigError(
                f"FINANCE_CUSTOMERS_ENCODING={settings.encoding!r} is not a known text encoding"
            ) from exc
    if settings.age_min >= settings.age_max:
        raise ConfigError("FINANCE_CUSTOMERS_AGE_MIN must be below FINANCE_CUSTOMERS_AGE_MAX")
    return settings


# -- secrets: what alert text is scrubbed of ----------------------------------
# Environment variables whose *values* must never appear in an alert.
SECRET_ENV_VARS = (
    "ALPHAVANTAGE_API_KEY",
    "SLACK_WEBHOOK_URL",
    "SLACK_BOT_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The current values of the secret variables, only to remove them from alert text.

    Read at each call, so a rotated key is scrubbed too; never kept in a setting. Values
    under 4 characters are skipped: replacing them would garble ordinary words.
    """
    return [v for name in SECRET_ENV_VARS if len(v := _env(name, "", environ)) >= 4]
