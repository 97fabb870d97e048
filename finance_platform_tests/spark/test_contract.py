"""The Spark engine writes every customer table with the contract's columns, in order."""

from finance_platform_tests.customers.test_contract import (
    assert_lake_holds_the_contract,
    materialize_small_delivery,
)


def test_the_spark_engine_writes_every_table_as_the_contract_says(
    spark_engine, lake_root, monkeypatch
):
    assert_lake_holds_the_contract(materialize_small_delivery(lake_root, monkeypatch, spark_engine))
