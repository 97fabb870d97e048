"""The Slack resource: webhook, bot token, log-only, and failures that never escape."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from finance_platform.resources.slack import SlackAlertsResource
from finance_platform_tests.alerts.conftest import webhook  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def slack_api() -> Iterator[tuple[str, list[dict]]]:
    """A stand-in for the Slack Web API answering chat.postMessage like Slack does."""
    calls: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            calls.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            payload = {"ok": True, "channel": "C1", "ts": "1.0"}
            if "bad-token" in (self.headers.get("Authorization") or ""):
                payload = {"ok": False, "error": "invalid_auth"}
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/", calls
    finally:
        server.shutdown()
        server.server_close()


def test_neither_set_means_log_only(caplog):
    slack = SlackAlertsResource()
    assert slack.destination == "log"
    with caplog.at_level(logging.INFO):
        assert slack.send("hello operators") is True
    assert "hello operators" in caplog.text


def test_webhook_from_the_environment_receives_the_text(webhook, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-also-set")
    slack = SlackAlertsResource()
    assert slack.destination == "webhook"  # the webhook wins when both are set
    assert slack.send(":rotating_light: test") is True
    assert webhook.accepted == [{"text": ":rotating_light: test"}]


def test_bot_token_posts_through_dagster_slack(slack_api, monkeypatch):
    url, calls = slack_api
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    slack = SlackAlertsResource(channel="#ops-alerts", slack_api_url=url)
    assert slack.destination == "bot"
    assert slack.send("run failed") is True
    assert len(calls) == 1
    assert calls[0]["path"].endswith("chat.postMessage")
    assert calls[0]["auth"] == "Bearer xoxb-test-token"
    assert "ops-alerts" in calls[0]["body"] and "run failed" in calls[0]["body"]


def test_bot_channel_comes_from_slack_channel_else_the_default(slack_api, monkeypatch):
    from finance_platform.resources import build_resources
    from finance_platform.settings import load_settings

    def slack() -> SlackAlertsResource:
        built = build_resources(load_settings())["slack"]
        return SlackAlertsResource(channel=built.channel, slack_api_url=url)

    url, calls = slack_api
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.delenv("SLACK_CHANNEL", raising=False)
    slack().send("first")
    monkeypatch.setenv("SLACK_CHANNEL", "#risk-data")
    slack().send("second")
    assert "data-platform-alerts" in calls[0]["body"]
    assert "risk-data" in calls[1]["body"] and "data-platform-alerts" not in calls[1]["body"]


def test_slack_refusing_a_bot_post_is_reported_not_raised(slack_api, caplog):
    url, _ = slack_api
    slack = SlackAlertsResource(bot_token="xoxb-bad-token", slack_api_url=url)
    with caplog.at_level(logging.WARNING):
        assert slack.send("x") is False
    assert "SlackApiError" in caplog.text and "bad-token" not in caplog.text


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_webhook_failures_return_false_and_never_log_the_url(webhook, mode, caplog):  # noqa: F811
    webhook.mode = mode
    slack = SlackAlertsResource(webhook_url=webhook.url, timeout_seconds=0.3)
    with caplog.at_level(logging.WARNING):
        assert slack.send("x") is False
    webhook.release.set()
    assert "will retry" in caplog.text
    assert webhook.url not in caplog.text and "/services/" not in caplog.text


def test_unreachable_webhook_returns_false():
    # Port 9 (discard) on localhost: connection refused, immediately.
    slack = SlackAlertsResource(webhook_url="http://127.0.0.1:9/hook", timeout_seconds=0.3)
    assert slack.send("x") is False
