"""One local SparkSession for every Spark test (a JVM start costs 5-10 s; pay it once)."""

import pytest


@pytest.fixture(scope="session")
def spark():
    from finance_platform.spark_jobs.session import local_session

    session = local_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture
def spark_engine(spark, lake_root):
    """The local Spark engine on the ``spark`` session's settings, on the test's lake."""
    from finance_platform.resources.engine import LocalSparkEngine
    from finance_platform.resources.spark import SparkSessionResource

    session = SparkSessionResource(master="local[2]", driver_memory="1g", shuffle_partitions=2)
    return LocalSparkEngine(session=session, lake_root=str(lake_root))


def pytest_collection_modifyitems(items):
    for item in items:
        if "finance_platform_tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.slow)
