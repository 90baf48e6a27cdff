"""The call bucket: a leaky bucket that gains 1 per call and drains ``drain`` per second.

A call is allowed when the bucket, drained since its last call, has room for one more; it then holds
that call. Over the bucket the call is refused and told when there will be room (``Retry-After``).

Two backends keep the buckets:

- ``MemoryBuckets``: this process's memory (the embedded default, one process).
- ``RedisBuckets``: one Lua script per call, one round trip, with Redis's own clock (``TIME``), so
  that every process and host sharing the Redis agrees whatever their clocks say.

When Redis cannot be reached the limiter fails open (allows the call, logs a warning at most every
few seconds, counts it in ``openmall_ratelimit_backend_failures_total``) unless
``OPENMALL_RATE_LIMIT_FAIL_CLOSED`` is set, when it refuses with a 503. It never raises a 500.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from openmall.kernel.errors import ApiError
from openmall.kernel.identifiers import lookup_key

log = logging.getLogger("openmall.ratelimit")

DEFAULT_CAPACITY = 40
DEFAULT_DRAIN = 1.0  # calls per second


@dataclass(frozen=True)
class Policy:
    capacity: int = DEFAULT_CAPACITY
    drain: float = DEFAULT_DRAIN  # calls drained per second

    @property
    def window(self) -> int:
        """Seconds for a full bucket to drain: the window of the IETF RateLimit-Policy field."""
        return max(1, math.ceil(self.capacity / self.drain))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    level: float  # calls in the bucket after this one (or as it stands, when refused)
    capacity: int
    retry_after: float  # seconds until one more call fits (0 when allowed)
    policy: Policy
    degraded: bool = False  # the backend failed and the call was let through unchecked

    @property
    def used(self) -> int:
        return min(self.capacity, math.ceil(self.level - 1e-9))

    def headers(self, name: str) -> list[tuple[bytes, bytes]]:
        """``X-Api-Call-Limit: used/capacity`` (Cafe24) and the IETF ``RateLimit-Policy`` / ``RateLimit`` fields."""
        remaining = max(0, self.capacity - self.used)
        # seconds until a call fits again when none is left, otherwise until the bucket is empty
        if remaining == 0:
            reset = math.ceil(max(self.retry_after, (self.level + 1 - self.capacity) / self.policy.drain))
        else:
            reset = math.ceil(self.level / self.policy.drain)
        out = [
            (b"x-api-call-limit", f"{self.used}/{self.capacity}".encode()),
            (b"ratelimit-policy", f'"{name}";q={self.capacity};w={self.policy.window}'.encode()),
            (b"ratelimit", f'"{name}";r={remaining};t={reset}'.encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, math.ceil(self.retry_after))).encode()))
        return out


def leak(level: float, last: float, now: float, policy: Policy) -> tuple[bool, float, float]:
    """The bucket's rule, in one place (the Lua script below mirrors it): (allowed, level, retry_after)."""
    level = max(0.0, level - max(0.0, now - last) * policy.drain)
    if level + 1 <= policy.capacity:
        return True, level + 1, 0.0
    return False, level, (level + 1 - policy.capacity) / policy.drain


class Buckets(Protocol):
    async def hit(self, key: str, policy: Policy) -> Decision: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class TooManyCalls(ApiError):
    status_code = 429


class LimiterUnavailable(ApiError):
    status_code = 503


class MemoryBuckets:
    """Buckets in this process's memory; a monotonic clock, so wall-clock jumps change nothing."""

    def __init__(self, clock: object = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float, float]] = {}  # key -> (level, last call, its drain)

    async def hit(self, key: str, policy: Policy) -> Decision:
        now = self._clock()  # type: ignore[operator]
        level, last, _ = self._buckets.get(key, (0.0, now, policy.drain))
        allowed, level, retry = leak(level, last, now, policy)
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (level, max(now, last), policy.drain)  # a clock that stepped back drains nothing twice
        return Decision(allowed, level, policy.capacity, retry, policy)

    def _prune(self, now: float) -> None:
        """Forget buckets that have drained empty under their own policy (they would start at zero anyway)."""
        empty = [k for k, (lvl, last, drain) in self._buckets.items() if lvl - (now - last) * drain <= 0]
        for k in empty:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:  # still full of live buckets: drop the half nearest to empty

            def seconds_to_empty(k: str) -> float:
                lvl, last, drain = self._buckets[k]
                return (lvl - (now - last) * drain) / drain

            for k in sorted(self._buckets, key=seconds_to_empty)[: max(1, self._max_keys // 2)]:
                del self._buckets[k]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


# KEYS[1] the bucket; ARGV: capacity, drain per second, [now in microseconds: tests only]
# Returns {allowed (0/1), level * 1e6, retry_after * 1e6} as integers (Redis truncates Lua floats).
LUA = """
local capacity = tonumber(ARGV[1])
local drain = tonumber(ARGV[2])
local now
if ARGV[3] and ARGV[3] ~= '' then
  now = tonumber(ARGV[3]) / 1e6
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local state = redis.call('HMGET', KEYS[1], 'level', 'last')
local level = tonumber(state[1]) or 0
local last = tonumber(state[2]) or now
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end
level = level - elapsed * drain
if level < 0 then level = 0 end
local allowed = 0
local retry = 0
if level + 1 <= capacity then
  level = level + 1
  allowed = 1
else
  retry = (level + 1 - capacity) / drain
end
-- a clock that stepped back drains nothing now and cannot drain the same time twice later
local stamp = now
if last > now then stamp = last end
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'last', string.format('%.17g', stamp))
redis.call('PEXPIRE', KEYS[1], math.min(math.ceil((level / drain) * 1000) + 1000, 1e15))
return {allowed, math.floor(level * 1e6 + 0.5), math.floor(retry * 1e6 + 0.5)}
"""


class RedisBuckets:
    """Buckets in Redis, shared by every process; see the module's docstring for failures."""

    PREFIX = "openmall:bucket:"
    WARN_EVERY = 10.0  # seconds between two warnings about an unreachable Redis

    def __init__(self, url: str, *, fail_closed: bool = False, timeout: float = 0.25, failures: object = None):
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._script = self._redis.register_script(LUA)
        self._fail_closed = fail_closed
        self._failures = failures  # a prometheus Counter, or None
        self._warned_at = -math.inf

    async def hit(self, key: str, policy: Policy, now_us: int | None = None) -> Decision:
        from redis.exceptions import RedisError

        try:
            args = [policy.capacity, repr(float(policy.drain)), "" if now_us is None else str(now_us)]
            allowed, level, retry = await self._script(keys=[self.PREFIX + key], args=args)
        except (RedisError, OSError) as exc:
            return self._failed(exc, policy)
        return Decision(bool(allowed), level / 1e6, policy.capacity, retry / 1e6, policy)

    def _failed(self, exc: Exception, policy: Policy) -> Decision:
        if self._failures is not None:
            self._failures.inc()  # type: ignore[attr-defined]
        now = time.monotonic()
        if now - self._warned_at >= self.WARN_EVERY:
            self._warned_at = now
            mode = "refusing calls (fail closed)" if self._fail_closed else "letting calls through (fail open)"
            log.warning("rate limiter: Redis unreachable (%s); %s", exc.__class__.__name__, mode)
        if self._fail_closed:
            raise LimiterUnavailable(
                "The rate limiter is unavailable; try again shortly", headers={"Retry-After": "1"},
                more_info={"reason": "rate_limiter_unavailable"},
            )  # fmt: skip
        return Decision(True, 0.0, policy.capacity, 0.0, policy, degraded=True)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


STATE_KEY = "call_limit"  # request.state.call_limit = (Decision, policy name), set where the bucket is hit


class CallLimitHeaders:
    """Adds the bucket's headers to every response of a request whose bucket was checked (errors too)."""

    def __init__(self, app: object):
        self.app = app

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[operator]
            return

        async def add(message: dict) -> None:
            if message["type"] == "http.response.start":
                found = scope.get("state", {}).get(STATE_KEY)
                if found is not None:
                    decision, name = found
                    taken = {b"retry-after"} if not decision.allowed else set()
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in taken]
                    message = {**message, "headers": [*kept, *decision.headers(name)]}
            await send(message)  # type: ignore[operator]

        await self.app(scope, receive, add)  # type: ignore[operator]


def make_buckets(backend: str, redis_url: str | None, fail_closed: bool, failures: object = None) -> Buckets | None:
    """The configured backend: ``memory``, ``redis``, ``off`` (no limits), or ``auto`` (Redis when a URL is set)."""
    if backend == "auto":
        backend = "redis" if redis_url else "memory"
    if backend == "off":
        return None
    if backend == "memory":
        return MemoryBuckets()
    if not redis_url:
        raise ValueError("OPENMALL_RATE_LIMIT_BACKEND=redis needs OPENMALL_REDIS_URL")
    return RedisBuckets(redis_url, fail_closed=fail_closed, failures=failures)


async def take(buckets: Buckets | None, scope: dict, name: str, key: str, policy: Policy) -> Decision | None:
    """Take one call from a bucket for this request; records the decision for the headers and refuses
    (429, ``Retry-After``) over the bucket. ``name`` is the surface: ``admin`` or ``shop``."""
    if buckets is None:
        return None
    decision = await buckets.hit(f"{name}:{key}", policy)
    if decision.degraded:  # the backend could not count this call: claim nothing about the bucket
        return decision
    scope.setdefault("state", {})[STATE_KEY] = (decision, name)
    if not decision.allowed:
        from openmall.kernel.metrics import RATE_LIMITED

        RATE_LIMITED.labels(name).inc()
        wait = max(1, math.ceil(decision.retry_after))
        raise TooManyCalls(
            f"Too many calls: the bucket holds {policy.capacity} calls and drains {policy.drain:g} per second; "
            f"retry in {wait} second{'s' if wait != 1 else ''}",
            more_info={"capacity": policy.capacity, "drain_per_second": policy.drain, "retry_after": wait},
        )
    return decision


def account_key(value: str) -> str:
    """A bucket key part for an account name (an email, an operator ID, a client id): short, fixed length, and
    no personal data in the shared store; case, width and surrounding spaces do not make another bucket (the
    normal form logins use: ``Ｊａｎｅ`` is ``jane``'s bucket)."""
    return hashlib.sha256((lookup_key(value) or value.strip().casefold()).encode()).hexdigest()[:32]


async def limit_attempts(buckets: Buckets | None, what: str, checks: list[tuple[str, Policy]]) -> None:
    """Attempts at a secret (a console login or sign-up, a client secret at the token endpoint): one from each
    bucket (e.g. ``login-ip:{ip}`` and ``login-account:{account}``), refused with a 429 and ``Retry-After``
    when any is full. Unlike ``take`` it sets no ``X-Api-Call-Limit`` headers: these are not API call buckets."""
    if buckets is None:
        return
    waits = [d.retry_after for d in [await buckets.hit(key, policy) for key, policy in checks] if not d.allowed]
    if waits:
        wait = max(1, math.ceil(max(waits)))
        raise TooManyCalls(
            f"Too many {what} from here or for this account; try again in {wait} second{'s' if wait != 1 else ''}",
            headers={"Retry-After": str(wait)}, more_info={"retry_after": wait},
        )  # fmt: skip
