"""Per-minute request limits for the routes scripts tend to hammer (New API's critical rate limits)."""

from __future__ import annotations

import threading
import time

from tokenledger.domain.errors import RateLimited


class RateLimiter:
    """Fixed one-minute windows per (bucket, identity), in memory. Counters of past minutes are dropped
    as soon as a new minute starts, so memory is bounded by the callers of the current minute."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._minute = 0
        self._counts: dict[tuple[str, str], int] = {}

    def hit(self, bucket: str, identity: str, limit: int) -> None:
        """Count one request; raises RateLimited once `limit` requests were made this minute."""
        if not self.enabled:
            return
        minute = int(time.time() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute = minute
                self._counts.clear()
            key = (bucket, identity)
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        if count > limit:
            raise RateLimited(f"too many requests: at most {limit} a minute on this route; retry in a minute")
