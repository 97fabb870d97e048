"""Slack alerts: an incoming webhook, or a bot token through dagster-slack, or just the log.

Delivery never raises. A Slack outage, timeout or error is logged (without the
URL or token) and reported back as "not delivered" so the calling sensor keeps
the alert and retries it on its next tick.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from finance_platform.settings import DEFAULT_SLACK_CHANNEL

Destination = Literal["webhook", "bot", "log"]

_logger = logging.getLogger(__name__)


class SlackAlertsResource(dg.ConfigurableResource):
    """Posts alert text to Slack, or writes it to the log when Slack is not configured.

    The webhook URL and bot token are secrets. Both are optional (unset locally) and
    Dagster's config-time ``EnvVar`` refuses unset variables, so the resource holds the
    *names* of the variables and resolves them with ``dg.EnvVar(...).get_value()`` when
    an alert is sent -- never at import time, never printed. ``webhook_url`` /
    ``bot_token`` may also be given directly (tests, other deployments).
    """

    webhook_url_env: str = Field(
        default="SLACK_WEBHOOK_URL", description="Env var holding the incoming-webhook URL."
    )
    bot_token_env: str = Field(
        default="SLACK_BOT_TOKEN", description="Env var holding a bot token (chat:write)."
    )
    webhook_url: str | None = Field(default=None, description="Explicit webhook URL.")
    bot_token: str | None = Field(default=None, description="Explicit bot token.")
    channel: str = Field(
        default=DEFAULT_SLACK_CHANNEL,
        description="Bot posts go here (Settings.slack_channel, from SLACK_CHANNEL).",
    )
    timeout_seconds: float = Field(
        default=5.0, description="Give up on one delivery attempt after this long."
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base (bot token only)."
    )

    # -- where alerts go -----------------------------------------------------------
    def _webhook(self) -> str | None:
        return self.webhook_url or dg.EnvVar(self.webhook_url_env).get_value() or None

    def _token(self) -> str | None:
        return self.bot_token or dg.EnvVar(self.bot_token_env).get_value() or None

    def _channel(self) -> str:
        return self.channel

    @property
    def destination(self) -> Destination:
        """``webhook`` wins over ``bot``; with neither set alerts only go to the log."""
        if self._webhook():
            return "webhook"
        if self._token():
            return "bot"
        return "log"

    # -- delivery ------------------------------------------------------------------
    def send(self, text: str, log: Any | None = None) -> bool:
        """Deliver one alert. True if delivered (or logged because Slack is not set up).

        False means Slack is configured but did not accept the alert; the caller keeps
        it for a later attempt. Never raises.
        """
        log = log or _logger
        destination = self.destination
        if destination == "log":
            log.info(f"Slack not configured; alert written to the log only:\n{text}")
            return True
        try:
            if destination == "webhook":
                self._post_webhook(text)
            else:
                self._post_bot(text)
        except Exception as exc:  # any failure must stay inside the sensor
            log.warning(f"Slack {destination} delivery failed ({_describe(exc)}); will retry")
            return False
        log.info(f"Alert delivered to Slack via {destination}")
        return True

    def _post_webhook(self, text: str) -> None:
        import requests

        url = self._webhook()
        assert url
        response = requests.post(
            url,
            json={"text": text},
            timeout=(self.timeout_seconds, self.timeout_seconds),
        )
        if response.status_code >= 300:
            raise SlackDeliveryError(f"webhook answered HTTP {response.status_code}")

    def _post_bot(self, text: str) -> None:
        from dagster_slack import SlackResource

        token = self._token()
        assert token
        client = SlackResource(token=token).get_client()
        client.base_url = self.slack_api_url
        client.timeout = max(1, int(round(self.timeout_seconds)))
        client.chat_postMessage(channel=self._channel(), text=text, unfurl_links=False)


class SlackDeliveryError(RuntimeError):
    """Slack did not accept an alert."""


def _describe(exc: BaseException) -> str:
    """Name the failure without echoing URLs or tokens from the exception text."""
    if isinstance(exc, SlackDeliveryError):
        return str(exc)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"{type(exc).__name__}" + (f", HTTP {status}" if status else "")
