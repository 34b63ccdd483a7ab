"""Account-wide request budget, fault injection and per-endpoint request counts."""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_RPM = 700
WINDOW_SECONDS = 60.0


class RateLimiter:
    """A sliding one-minute window over accepted API requests, like Zendesk's per-account budget."""

    def __init__(self, rpm: int = DEFAULT_RPM) -> None:
        self.rpm = rpm
        self._hits: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def hit(self) -> tuple[bool, int, int]:
        """Record one request. Returns (allowed, remaining, seconds until the window frees up)."""
        now = time.monotonic()
        with self._lock:
            while self._hits and self._hits[0] <= now - WINDOW_SECONDS:
                self._hits.popleft()
            reset = (
                int(self._hits[0] + WINDOW_SECONDS - now) + 1 if self._hits else int(WINDOW_SECONDS)
            )
            if len(self._hits) >= self.rpm:
                return False, 0, max(1, reset)
            self._hits.append(now)
            return True, self.rpm - len(self._hits), reset

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class Faults:
    """Injected failures for reliability tests; applied to /api/ requests only."""

    error_rate: float = 0.0
    status: int = 503
    latency_ms: int = 0
    drop_rate: float = 0.0
    paths: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)  # empty: every method
    times: int | None = None  # errors left to inject; None: no limit
    rng: random.Random = field(default_factory=random.Random)

    def applies(self, path: str, method: str = "GET") -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return not self.paths or any(path.startswith(p) for p in self.paths)

    def take_error(self) -> bool:
        """Whether this request gets the injected error (at `error_rate`, at most `times`)."""
        if not self.error_rate or self.times == 0:
            return False
        if self.rng.random() >= self.error_rate:
            return False
        if self.times is not None:
            self.times -= 1
        return True

    def update(self, data: dict[str, Any]) -> None:
        self.error_rate = float(data.get("error_rate", self.error_rate))
        self.status = int(data.get("status", self.status))
        self.latency_ms = int(data.get("latency_ms", self.latency_ms))
        self.drop_rate = float(data.get("drop_rate", self.drop_rate))
        if "paths" in data:
            self.paths = list(data["paths"] or [])
        if "methods" in data:
            self.methods = [str(m).upper() for m in data["methods"] or []]
        if "times" in data:
            self.times = None if data["times"] is None else int(data["times"])
        if data.get("random_seed") is not None:
            self.rng.seed(int(data["random_seed"]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "drop_rate": self.drop_rate,
            "paths": self.paths,
            "methods": self.methods,
            "times": self.times,
        }


class Stats:
    """Request counts per endpoint (`"GET /api/v2/tickets/<id>"`) and per answered status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.endpoints: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[str] = collections.Counter()

    def count(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.endpoints[endpoint] += 1
            self.statuses[str(status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.endpoints.values()),
                "endpoints": dict(self.endpoints),
                "statuses": dict(self.statuses),
            }

    def reset(self) -> None:
        with self._lock:
            self.endpoints.clear()
            self.statuses.clear()
