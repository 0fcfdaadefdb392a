"""In-process token buckets. Keys are chosen by the caller: per participant for posting (a whole
room shares one venue IP), per client address for failed join attempts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Bucket:
    capacity: float
    per_second: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, cost: float = 1.0) -> bool:
        now = time.monotonic()
        tokens, stamp = self._state.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.per_second)
        allowed = tokens >= cost
        self._state[key] = (tokens - cost if allowed else tokens, now)
        if len(self._state) > 50_000:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.per_second
        self._state = {k: v for k, v in self._state.items() if now - v[1] < full_after}


@dataclass
class Limits:
    """The buckets of one running app (kept per process)."""

    # Posting: bursts of 20, then one note every 2 seconds on average.
    notes: Bucket = field(default_factory=lambda: Bucket(capacity=20, per_second=0.5))
    # Joining: failed codes are what a guesser produces; 10 tries, then one every 6 seconds.
    failed_joins: Bucket = field(default_factory=lambda: Bucket(capacity=10, per_second=1 / 6))
