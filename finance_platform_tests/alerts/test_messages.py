"""What an alert says, and what it must never say."""

from __future__ import annotations

from finance_platform.defs.alerts import messages
from finance_platform.defs.alerts.messages import CheckOutcome


def test_scrub_removes_keys_tokens_webhooks_and_customer_names():
    text = (
        "GET https://www.alphavantage.co/query?function=X&apikey=ABCD1234&symbol=IBM failed; "
        "token: xoxb-123-456-abc posted to https://hooks.slack.com/services/T0/B0/secret "
        "with Authorization: Bearer eyJhbGciOi.x.y for customer 王小明 at 招商银行上海分行 "
        "row {'name': 'Wang Xiaoming', 'customer_id': 'C000123'} aws AKIAABCDEFGHIJKLMNOP "
        "postgres://etl:hunter2@db.internal/finance password=hunter2"
    )
    out = messages.scrub(text, secrets=["SECRETVALUE"])
    for leaked in (
        "ABCD1234",
        "xoxb-123",
        "hooks.slack.com",
        "eyJhbGciOi",
        "王小明",
        "招商银行",
        "Wang Xiaoming",
        "AKIAABCDEFGHIJKLMNOP",
        "hunter2",
    ):
        assert leaked not in out, leaked
    assert "apikey=***" in out and "symbol=IBM" in out
    assert "'customer_id'" in out and "'C000123'" in out  # identifiers stay readable


def test_scrub_removes_the_configured_key_value_anywhere(monkeypatch):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "K3YV4LU3")
    assert messages.scrub("key K3YV4LU3 rejected") == "key *** rejected"


def test_error_summary_is_one_scrubbed_line():
    summary = messages.error_summary(
        "ValueError", "ValueError: bad apikey=XYZ987 for 李雷\nTraceback...\nmore"
    )
    assert summary == "ValueError: bad apikey=*** for [redacted]"
    long = messages.error_summary("KeyError", "x" * 1000)
    assert len(long) <= messages.MAX_SUMMARY_CHARS


def test_observed_and_threshold_from_check_metadata():
    assert messages.observed_and_threshold({"observed_value": 0.153, "threshold": 0.05}) == (
        "0.153",
        "0.05",
    )
    assert messages.observed_and_threshold(
        {"missing_rate": 0.12, "max_missing_rate": 0.05, "preview": "| a |\n|---|"}
    ) == ("missing_rate 0.12", "max_missing_rate 0.05")
    assert messages.observed_and_threshold({"rows": 3, "delivery": "raw/x.csv"}) == (
        "rows 3",
        None,
    )
    # the customers checks' shape: which columns are over the limit, and by how much
    assert messages.observed_and_threshold(
        {
            "threshold": "missing rate <= 5% per column",
            "columns_over_threshold": {"contact_result": 0.194},
            "max_missing_rate": 0.194,
        }
    ) == ("columns_over_threshold contact_result=0.194", "missing rate <= 5% per column")
    assert messages.observed_and_threshold({"tags": {"a": "x"}}) == (None, None)


def test_check_failure_message_lists_errors_before_warnings():
    failures = [
        CheckOutcome("customers/cleaned_customer_base", "contact_result_missing_rate", False,
                     "WARN", {"missing_rate": 0.153, "max_missing_rate": 0.05}),
        CheckOutcome("customers/cleaned_customer_base", "row_count_drop", False, "ERROR",
                     {"observed_value": 2310, "threshold": "drop <= 10%"}),
    ]  # fmt: skip
    text = messages.check_failure_message(
        failures=failures,
        run_id="1a2b3c4d-0000",
        job_name="customers_job",
        ui_base_url="http://ui:3000/",
        already_failing={"customers/cleaned_customer_base:contact_result_missing_rate"},
    )
    lines = text.splitlines()
    assert lines[0].startswith(":red_circle: *2 asset checks failed* in run `1a2b3c4d`")
    assert "row_count_drop`: observed 2,310; threshold drop <= 10%" in lines[1]
    assert lines[2].endswith("(still failing)") and "*WARN*" in lines[2]
    assert lines[3] == "<http://ui:3000/runs/1a2b3c4d-0000|Open the run in Dagster>"


def test_freshness_failure_uses_the_check_description():
    outcome = CheckOutcome(
        "market/curated_quotes",
        "freshness_check",
        False,
        "WARN",
        {"dagster/freshness_params": {"lower_bound_delta_seconds": 86400}},
        description="Asset is overdue for an update. Last updated 2 days ago.",
    )
    text = messages.check_failure_message(
        failures=[outcome], run_id="r", job_name=None, ui_base_url="http://ui"
    )
    assert ":warning: *1 asset check failed*" in text
    assert "overdue for an update. Last updated 2 days ago." in text


def test_slow_run_message_states_ratio_and_median():
    text = messages.slow_run_message(
        job_name="customers_job",
        run_id="abcd-1",
        duration_s=1260,
        median_s=600,
        baseline_runs=10,
        ratio_limit=1.5,
        ui_base_url="http://ui",
    )
    assert "took 21m 00s, 210% of the median 10m 00s of its last 10 successful runs" in text


def test_retry_note_tells_whether_dagster_retries():
    assert messages.retry_note(0, 1) == "Dagster retries it automatically (retry 1 of 1)."
    assert messages.retry_note(1, 1) == "This was automatic retry 1 of 1: no more retries."
    assert messages.retry_note(0, 0) is None


def test_a_failing_backfill_becomes_a_digest_not_a_flood():
    from finance_platform.defs.alerts.sensors import MESSAGES_PER_TICK, cap_alerts

    alerts = [(f"run{i:02d}-x", f"alert {i}") for i in range(25)]
    out = cap_alerts(alerts, "failed runs", "http://ui")
    assert len(out) == MESSAGES_PER_TICK
    assert out[: MESSAGES_PER_TICK - 1] == [f"alert {i}" for i in range(MESSAGES_PER_TICK - 1)]
    assert out[-1].startswith(f":rotating_light: *{25 - MESSAGES_PER_TICK + 1} more failed runs*")
    assert "`run24`" in out[-1] and "<http://ui/runs|All runs in Dagster>" in out[-1]
    assert cap_alerts(alerts[:3], "failed runs", "http://ui") == ["alert 0", "alert 1", "alert 2"]


def test_hidden_asset_job_gets_a_readable_name():
    assert messages.job_label("__ASSET_JOB") == "ad-hoc asset run"
    assert messages.job_label("customers_job") == "customers_job"
    assert messages.job_label(None) is None


def test_great_expectations_metadata_reads_sensibly():
    outcome = CheckOutcome(
        "raw_quotes",
        "high_price_non_negative",
        False,
        "ERROR",
        {"rows_validated": 100, "unexpected_count": 2, "unexpected_percent": 2.0},
        description="high >= 0 for every bar",
    )
    text = messages.check_failure_message(
        failures=[outcome], run_id="r", job_name="market_quotes_job", ui_base_url="http://ui"
    )
    assert "observed unexpected_count 2; high >= 0 for every bar" in text
