"""One local SparkSession for every Spark test (a JVM start costs 5-10 s; pay it once)."""

import pytest


@pytest.fixture(scope="session")
def spark():
    from finance_platform.spark_jobs.session import local_session

    session = local_session(master="local[2]", driver_memory="1g", shuffle_partitions=2)
    yield session
    session.stop()


def pytest_collection_modifyitems(items):
    for item in items:
        if "finance_platform_tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.slow)
