"""The customer engine is a resource: FINANCE_ENGINE picks it in build_resources, kinds follow."""

import dagster as dg
import pytest

from finance_platform.resources import build_resources
from finance_platform.resources.engine import (
    CUSTOMER_ENGINE,
    EmrServerlessEngine,
    GlueEngine,
    LocalEngine,
    LocalSparkEngine,
    build_customer_engine,
)
from finance_platform.settings import ConfigError, Settings, load_settings

ENGINE_CLASSES = {
    "local": LocalEngine,
    "spark": LocalSparkEngine,
    "emr-serverless": EmrServerlessEngine,
    "glue": GlueEngine,
}


@pytest.mark.parametrize("engine", sorted(ENGINE_CLASSES))
def test_finance_engine_selects_the_engine_resource(engine, monkeypatch):
    monkeypatch.setenv("FINANCE_ENGINE", engine)  # the user's switch
    chosen = build_resources(load_settings())[CUSTOMER_ENGINE]
    assert type(chosen) is ENGINE_CLASSES[engine]
    assert chosen.name == engine
    assert chosen.kind == ("duckdb" if engine == "local" else "spark")


def test_no_engine_setting_means_the_local_duckdb_engine_within_4_gb():
    chosen = build_resources(load_settings())[CUSTOMER_ENGINE]
    assert isinstance(chosen, LocalEngine)
    assert chosen.memory_bytes == 4 * 1024**3


def test_finance_local_memory_sets_the_local_engines_budget(monkeypatch):
    monkeypatch.setenv("FINANCE_LOCAL_MEMORY", "1.5GB")
    assert build_resources(load_settings())[CUSTOMER_ENGINE].memory_bytes == int(1.5 * 1024**3)
    monkeypatch.setenv("FINANCE_LOCAL_MEMORY", "lots")
    with pytest.raises(ConfigError, match="FINANCE_LOCAL_MEMORY"):
        load_settings()


def test_the_retired_pandas_engine_is_refused_with_the_new_name(monkeypatch):
    monkeypatch.setenv("FINANCE_ENGINE", "pandas")
    with pytest.raises(ConfigError, match="FINANCE_ENGINE=local"):
        load_settings()


@pytest.mark.parametrize("env", ["local", "prod"])
def test_remote_engines_launch_on_the_settings_lake(env):
    lake = "s3://finance-lake-test/lake"
    for name in ("emr-serverless", "glue"):
        engine = build_customer_engine(Settings(env=env, engine=name, lake_root=lake))
        assert engine.launcher.engine == name
        assert engine.launcher.lake_root == lake
        assert engine.launcher.region == (None if env == "local" else "us-east-1")


def test_local_spark_engine_uses_the_settings_lake():
    engine = build_customer_engine(Settings(engine="spark", lake_root="/tmp/lake"))
    assert engine.lake_root == "/tmp/lake"
    assert engine.session.master == "local[*]"


def test_a_launcher_for_another_engine_is_refused():
    from finance_platform.resources.spark import SparkJobLauncher

    engine = GlueEngine(launcher=SparkJobLauncher(engine="emr-serverless", lake_root="/tmp/l"))
    with pytest.raises(dg.Failure, match="needs a launcher for 'glue'"):
        engine.build(dg.build_asset_context(), None, "customer_segments", {}, {})


@pytest.mark.parametrize(("engine", "kind"), [("local", "duckdb"), ("spark", "spark")])
def test_customer_kinds_follow_the_configured_engine(engine, kind):
    from finance_platform.definitions import build_definitions

    defs = build_definitions(Settings(engine=engine))
    graph = defs.resolve_asset_graph()
    kinds = {k.to_user_string(): graph.get(k).kinds for k in graph.get_all_asset_keys()}
    assert kinds["customer_segments"] == {"parquet", kind}
    assert kinds["cleaned_customer_base"] == {"parquet", kind}
    assert kinds["raw_customer_base"] == {"csv", "s3"}
    assert "spark" not in kinds["curated_quotes"]  # quotes stay local whatever the engine
