"""Per-client rate limits for the web app: one token bucket per client address and endpoint.

A bucket holds up to `burst` requests and refills at `per_minute` requests a minute; a request that
finds it empty is refused with 429 and told how long to wait. Limits are set by environment variables
(see `RateLimits.from_env`); `per_minute = 0` switches a limit off. IPv6 clients are counted per /64,
the block one household or phone usually gets. The table of clients is bounded: when it is full, the
least recently seen clients are forgotten (a forgotten client starts again with a full bucket).
"""
from __future__ import annotations

import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Mapping

MAX_CLIENTS = 20_000
DEFAULTS = {"ask": (20.0, 10), "feedback": (10.0, 10)}  # per minute, burst


def client_key(host: str | None) -> str:
    """The rate-limit key for a client address: the address itself, or its /64 for IPv6."""
    if not host:
        return "?"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if address.version == 6 and not address.ipv4_mapped:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if address.version == 6 else str(address)


@dataclass
class RateLimiter:
    """Token buckets keyed by client. `per_minute <= 0` means unlimited."""

    per_minute: float
    burst: int
    max_clients: int = MAX_CLIENTS
    clock: Callable[[], float] = time.monotonic
    _buckets: "OrderedDict[str, tuple[float, float]]" = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def check(self, key: str) -> float | None:
        """Take one token for `key`: None when allowed, else the seconds to wait before retrying."""
        if not self.enabled:
            return None
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / rate
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)  # the least recently seen client
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class RateLimits:
    """The limits of the question and feedback endpoints (HTTP API and chat page share them)."""

    ask: RateLimiter
    feedback: RateLimiter

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RateLimits":
        """LDNQA_ASK_PER_MINUTE, LDNQA_ASK_BURST, LDNQA_FEEDBACK_PER_MINUTE, LDNQA_FEEDBACK_BURST.

        Defaults: 20 questions a minute with bursts of 10, and 10 feedback items a minute with bursts
        of 10, per client. Raises ValueError for a value that is not a number."""
        env = os.environ if env is None else env
        limiters = {}
        for name, (rate, burst) in DEFAULTS.items():
            prefix = f"LDNQA_{name.upper()}"
            limiters[name] = RateLimiter(_number(env, f"{prefix}_PER_MINUTE", rate),
                                         int(_number(env, f"{prefix}_BURST", burst, minimum=1)))
        return cls(**limiters)

    @classmethod
    def unlimited(cls) -> "RateLimits":
        return cls(RateLimiter(0, 1), RateLimiter(0, 1))


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


def too_many_message(what: str, wait: float) -> str:
    """The 429 message: what was refused and when to try again."""
    seconds = max(1, math.ceil(wait))
    return (f"Too many {what} from your address in a short time. Please wait {seconds} "
            f"second{'s' if seconds != 1 else ''} and try again.")
