"""Client-side rate limits: per-minute spacing and a daily cap, shared by threads and runs.

Alpha Vantage counts requests per key; staying under its limits here avoids throttle
notices and a spent daily quota halfway through a backfill.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from finance_platform.resources.alpha_vantage.classification import AlphaVantageError, ReplyKind


class RateLimiter:
    """Evenly spaced requests under a per-minute and a per-day cap, shared by threads.

    Callers queue on one lock and each leaves it at its send time, so N threads
    together never exceed the rate and requests are spread out (Alpha Vantage
    also penalises bursts). Spacing is measured from the *actual* previous send,
    and a sliding 60 s window over actual send times mirrors the server's count:
    a request delayed by a busy machine never lets the next ones bunch up.
    ``margin`` keeps headroom for jitter between this process and the server.
    """

    def __init__(
        self,
        per_minute: int | None,
        per_day: int | None,
        margin: float = 0.01,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
        state_path: str | None = None,
    ) -> None:
        self.state_path = state_path
        # Shared state across processes needs a clock every process agrees on.
        clock = clock or (time.time if state_path else time.monotonic)
        self.per_minute = per_minute
        self.per_day = per_day
        self.interval = 60.0 / per_minute * (1.0 + margin) if per_minute else 0.0
        self.window = 60.0 * (1.0 + margin)
        self._clock, self._sleep, self._today = clock, sleep, today
        self._lock = threading.Lock()
        self._sent: deque[float] = deque(maxlen=per_minute or 1)
        self._not_before = float("-inf")
        self._day: dt.date | None = None
        self._day_count = 0

    def acquire(self) -> float:
        """Wait for a request slot; returns seconds actually waited. Raises on the daily cap."""
        entered = self._clock()  # waiting in the queue for the lock counts as waiting
        with self._lock, self._shared_state() as state:
            if state is not None:
                self._load(state)
            today = self._today()
            if today != self._day:
                self._day, self._day_count = today, 0
            if self.per_day is not None and self._day_count >= self.per_day:
                raise AlphaVantageError(
                    ReplyKind.DAILY_LIMIT,
                    f"client-side daily limit of {self.per_day} requests reached "
                    f"(resets at 00:00 UTC); not sending more requests today",
                )
            self._day_count += 1
            now = self._clock()
            slot = max(now, self._not_before)
            if self.per_minute and self._sent:
                slot = max(slot, self._sent[-1] + self.interval)
                if len(self._sent) >= self.per_minute:
                    slot = max(slot, self._sent[0] + self.window)
            if slot > now:
                self._sleep(slot - now)
            sent = self._clock()
            if self.per_minute:
                self._sent.append(sent)
            if state is not None:
                self._dump(state)
            return sent - entered  # includes the OS's sleep overshoot

    # -- optional state shared by processes (runs) on one machine ------------------------
    @contextlib.contextmanager
    def _shared_state(self) -> Iterator[dict[str, Any] | None]:
        """The limiter's state file, locked (``flock``) for the duration; ``None`` if unused.

        Other processes queue on the lock, so spacing and the daily count hold
        across concurrent and consecutive runs, not only across threads.
        """
        if not self.state_path:
            yield None
            return
        import fcntl
        from pathlib import Path

        path = Path(self.state_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                try:
                    state = json.loads(fh.read() or "{}")
                except json.JSONDecodeError:
                    state = {}  # a torn write: start afresh rather than block ingest
                yield state
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps(state))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _load(self, state: dict[str, Any]) -> None:
        day = state.get("day")
        self._day = dt.date.fromisoformat(day) if day else None
        self._day_count = int(state.get("count", 0))
        self._sent = deque(state.get("sent", []), maxlen=self.per_minute or 1)
        self._not_before = max(self._not_before, float(state.get("not_before", float("-inf"))))

    def _dump(self, state: dict[str, Any]) -> None:
        state.update(
            day=self._day.isoformat() if self._day else None,
            count=self._day_count,
            sent=list(self._sent),
            not_before=self._not_before if self._not_before != float("-inf") else None,
        )
        if state["not_before"] is None:
            state.pop("not_before")

    def exhaust_day(self) -> None:
        """Record today's quota as used up (the service said so), in the shared state too."""
        if self.per_day is None:
            return
        with self._lock, self._shared_state() as state:
            if state is not None:
                self._load(state)
            self._day = self._today()
            self._day_count = max(self._day_count, self.per_day)
            if state is not None:
                self._dump(state)

    def defer(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (after the server said 'slow down')."""
        self._not_before = max(self._not_before, self._clock() + seconds)

    @property
    def used_today(self) -> int:
        return self._day_count

    def quota(self) -> DailyQuota:
        """Today's daily quota as the shared state says now (other runs' requests included)."""
        with self._lock, self._shared_state() as state:
            if state is not None:
                self._load(state)
            used = self._day_count if self._day == self._today() else 0
        remaining = None if self.per_day is None else max(self.per_day - used, 0)
        return DailyQuota(limit=self.per_day, used=used, remaining=remaining)


@dataclass(frozen=True)
class DailyQuota:
    """Requests allowed per day (``None`` = no daily cap), already sent today, and left."""

    limit: int | None
    used: int
    remaining: int | None

    def allows(self, calls: int) -> bool:
        return self.remaining is None or calls <= self.remaining


_LIMITERS: dict[tuple[str, int | None, int | None, str | None], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(
    endpoint: str, per_minute: int | None, per_day: int | None, state_dir: str | None = None
) -> RateLimiter:
    """One limiter per (endpoint, limits) per process, shared by all resources and threads.

    With ``state_dir`` the limiter also coordinates with other processes on the
    machine through a locked state file (one per endpoint and limits).
    """
    state_path = None
    if state_dir:
        name = re.sub(r"[^A-Za-z0-9.-]", "_", f"{endpoint}-{per_minute}-{per_day}")
        state_path = f"{state_dir.rstrip('/')}/{name}.json"
    key = (endpoint, per_minute, per_day, state_path)
    with _LIMITERS_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(per_minute, per_day, state_path=state_path)
        return _LIMITERS[key]


def forget_shared_limiters() -> None:
    """Drop every process-wide limiter (tests; a long-lived process changing limits)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
