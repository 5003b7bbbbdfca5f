"""When to poll a source next: the configured interval, adaptive range, source hints, failure back-off,
and the global back-off while the storage refuses writes. Pure decisions, no I/O."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from monitor import config as config_module
from monitor.config import SourceConfig

log = logging.getLogger("monitor.scheduler")

MAX_BACKOFF_SECONDS = 24 * 3600  # a failing source is retried at least once a day
MAX_JITTER_SECONDS = 120
STORAGE_BACKOFF_SECONDS = 60  # first wait after the storage refused a write (disk full), doubling
STORAGE_MAX_BACKOFF_SECONDS = 3600


# --------------------------------------------------------------------------- interval policy


@dataclass
class IntervalBounds:
    base: int
    minimum: int
    maximum: int
    adaptive: bool


def bounds_for(source: SourceConfig) -> IntervalBounds:
    """Configured interval and the adaptive range (default: a quarter to four times the interval)."""
    base = source.interval_seconds
    opts = source.options or {}
    adaptive = bool(opts.get("adaptive", False))
    minimum = _seconds(opts.get("min_interval"), max(config_module.MIN_INTERVAL_SECONDS, base // 4))
    maximum = _seconds(opts.get("max_interval"), base * 4)
    minimum = min(minimum, base)
    maximum = max(maximum, base)
    return IntervalBounds(base=base, minimum=minimum, maximum=maximum, adaptive=adaptive)


def _seconds(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return config_module.parse_interval(value)
    except ValueError:
        return default


def _hint_seconds(result: Any) -> int | None:
    """The longest "don't come back before" the source gave, the one place its hints meet: the feed's TTL
    (read by the parser), the response's Cache-Control/Expires lifetime (FetchResult.cache_seconds) and
    Retry-After, all carried on the crawl result."""
    hints = []
    for name in ("ttl_seconds", "cache_seconds", "retry_after"):
        value = getattr(result, name, None)
        if isinstance(value, (int, float)) and value > 0:
            hints.append(int(value))
    return max(hints) if hints else None


def backoff_seconds(interval: int, failures: int, retry_after: float | None = None) -> float:
    """Delay before the next attempt after `failures` consecutive failures: doubling, capped at a day.

    The one back-off policy for a failing source. A server's Retry-After wins when it asks for longer.
    """
    if failures <= 0:
        delay = float(interval)
    else:
        delay = min(float(interval) * (2 ** min(failures, 16)), MAX_BACKOFF_SECONDS)
        delay = max(delay, float(interval))
    if retry_after:
        delay = max(delay, retry_after)
    return delay


def next_interval(bounds: IntervalBounds, current: int | None, result: Any, consecutive_failures: int) -> int:
    """Seconds until the next poll of a source, given what the last crawl found.

    * failures: exponential back-off from the configured interval, capped (the crawler counts
      failures and pauses the source after N; a paused source is not polled at all);
    * adaptive sources (Miniflux/Media Cloud style): mostly new entries → poll sooner,
      mostly seen or not modified → later, within [min_interval, max_interval];
    * feed TTL, HTTP cache lifetime and Retry-After are honoured as a floor, capped by the
      upper bound so a misconfigured feed cannot silence itself for a month.
    """
    current = current or bounds.base
    status = getattr(result, "status", "ok")
    if status == "error" or consecutive_failures > 0:
        return int(backoff_seconds(bounds.base, max(consecutive_failures, 1), getattr(result, "retry_after", None)))
    if bounds.adaptive:
        found = int(getattr(result, "found", 0) or 0)
        new = int(getattr(result, "new", 0) or 0)
        if status == "not_modified" or (found > 0 and new == 0):
            interval = current * 1.5
        elif found > 0 and new / found >= 0.5:
            interval = current * 0.6
        elif found > 0 and new / found < 0.2:
            interval = current * 1.2
        else:
            interval = current
        interval = int(min(max(interval, bounds.minimum), bounds.maximum))
    else:
        interval = bounds.base
    hint = _hint_seconds(result)
    if hint:
        interval = max(interval, min(hint, bounds.maximum))
    return int(interval)


def jitter_for(interval: float) -> int:
    """Spread polls of many sources so they do not all hit at the top of the hour."""
    return int(min(max(interval * 0.1, 0), MAX_JITTER_SECONDS))


# --------------------------------------------------------------------------- storage back-off


class StorageBackoff:
    """A full disk stops all crawling, not one source at a time.

    The disk is shared by every source, so its back-off is global: no host is fetched for items that
    cannot be stored. `scale` turns the policy's seconds into wall-clock seconds (tests run fast).
    """

    def __init__(self, scale: Any = lambda seconds: seconds):
        self._scale = scale
        self._lock = threading.Lock()
        self._delay = 0.0  # seconds of the current back-off; 0: the storage is fine
        self._until = 0.0  # time.monotonic() before which no crawl starts
        self._probing = False

    def turn(self) -> str | None:
        """May a crawl start? "normal"; None while the storage is backed off; afterwards one crawl
        at a time ("probe") finds out whether it accepts writes again."""
        with self._lock:
            if not self._delay:
                return "normal"
            if self._probing or time.monotonic() < self._until:
                return None
            self._probing = True
            return "probe"

    def after(self, turn: str, refused: bool, stored: bool) -> None:
        """Update the back-off after a crawl: refused → wait (doubling on each failed probe, capped);
        stored (or nothing new to store) → crawling resumes; anything else → the next crawl probes."""
        with self._lock:
            probe = turn == "probe"
            if probe:
                self._probing = False
            if refused and (probe or not self._delay):
                self._delay = (min(self._delay * 2, STORAGE_MAX_BACKOFF_SECONDS)
                               if self._delay else STORAGE_BACKOFF_SECONDS)
                self._until = time.monotonic() + self._scale(self._delay)
                log.warning("storage refuses writes: no source is fetched for the next %d s",
                            self._delay, extra={"backoff_seconds": self._delay})
            elif stored and self._delay:
                self._delay = 0.0
                log.warning("storage accepts writes again: crawling resumes")

    def seconds(self) -> float:
        """Seconds (unscaled) the crawls are currently held back for; 0 when the storage is fine."""
        with self._lock:
            return self._delay
