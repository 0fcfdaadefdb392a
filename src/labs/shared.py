"""State the server processes of one deployment share: rate-limit buckets and short-lived
memories (who is behind a participant token). In memory for one process; in Redis when
LABS_CHANNELS_URL is Redis, so that several workers limit and remember together (a participant
cannot post five times as fast by landing on five workers, and a consent change is seen by every
worker at once)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS[1]: the bucket; ARGV: capacity, refill per second, cost, now (s). Atomic in Redis, so
# concurrent workers draw from one bucket. Returns 1 when the cost was taken.
TAKE = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local capacity, rate, cost, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, stamp = tonumber(state[1]) or capacity, tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local allowed = tokens >= cost
if allowed then tokens = tokens - cost end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(1000 * capacity / rate) + 1000)
return allowed and 1 or 0
"""


class Shared(Protocol):
    async def close(self) -> None: ...
    async def take(self, bucket: str, key: str, capacity: float, per_second: float, cost: float = 1.0) -> bool: ...
    async def remember(self, key: str, value: dict[str, Any], seconds: float) -> None: ...
    async def recall(self, key: str) -> dict[str, Any] | None: ...
    async def forget(self, key: str) -> None: ...


class Memory:
    """One process's: token buckets and memories in dicts, pruned as they grow."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}
        self.memories: dict[str, tuple[float, dict[str, Any]]] = {}

    async def take(self, bucket: str, key: str, capacity: float, per_second: float, cost: float = 1.0) -> bool:
        now, name = time.monotonic(), f"{bucket}:{key}"
        tokens, stamp = self.buckets.get(name, (capacity, now))
        tokens = min(capacity, tokens + (now - stamp) * per_second)
        allowed = tokens >= cost
        self.buckets[name] = (tokens - cost if allowed else tokens, now)
        if len(self.buckets) > self.LIMIT:
            # Buckets full again by now are the same as no bucket.
            self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < capacity / per_second}
        return allowed

    async def remember(self, key: str, value: dict[str, Any], seconds: float) -> None:
        if len(self.memories) > self.LIMIT:
            self.memories.clear()
        self.memories[key] = (time.monotonic() + seconds, value)

    async def recall(self, key: str) -> dict[str, Any] | None:
        hit = self.memories.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    async def forget(self, key: str) -> None:
        self.memories.pop(key, None)

    async def close(self) -> None:
        return None


class Redis:
    """Every process's: one Redis, keys under LABS_CHANNELS_PREFIX (default `labs:`). While Redis
    cannot be reached (a restart), each process falls back to its own memory, so posting and
    pages go on; the clients of the Redis connection reconnect by themselves."""

    def __init__(self, url: str, prefix: str) -> None:
        from redis.asyncio import Redis as Client

        self.prefix = prefix
        self.redis = Client.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self.script = self.redis.register_script(TAKE)
        self.local = Memory()

    async def take(self, bucket: str, key: str, capacity: float, per_second: float, cost: float = 1.0) -> bool:
        try:
            allowed = await self.script(
                keys=[f"{self.prefix}:bucket:{bucket}:{key}"], args=[capacity, per_second, cost, time.time()]
            )
        except UNREACHABLE:
            log.warning("Redis unreachable: rate limit %s kept in this process for now", bucket)
            return await self.local.take(bucket, key, capacity, per_second, cost)
        return bool(allowed)

    async def remember(self, key: str, value: dict[str, Any], seconds: float) -> None:
        try:
            await self.redis.set(f"{self.prefix}:memo:{key}", json.dumps(value), px=int(seconds * 1000))
        except UNREACHABLE:
            await self.local.remember(key, value, seconds)

    async def recall(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self.redis.get(f"{self.prefix}:memo:{key}")
        except UNREACHABLE:
            return await self.local.recall(key)
        return json.loads(raw) if raw else None

    async def forget(self, key: str) -> None:
        await self.local.forget(key)
        try:
            await self.redis.delete(f"{self.prefix}:memo:{key}")
        except UNREACHABLE:
            log.warning("Redis unreachable: %s is forgotten in this process only", key)

    async def close(self) -> None:
        await self.redis.aclose()


def for_channels(url: str, prefix: str) -> Memory | Redis:
    """Shared through Redis when the channels are (LABS_CHANNELS_URL=redis://…), else in memory;
    keys start with `prefix` (LABS_CHANNELS_PREFIX)."""
    return Redis(url, prefix) if url.startswith(("redis://", "rediss://")) else Memory()
