"""The HTTP layer under zenpy: base-URL override, auth, rate limits, safe retries, timeouts, metrics.

Every Zendesk request goes through `ZendeskSession.send`, so zenpy's high-level calls and
the few raw calls of sync/ share one policy:

- 429 (any method): the request was not processed, so it is waited out (Retry-After) and resent.
- Proactive throttling: when `ratelimit-remaining` / `X-Rate-Limit-Remaining` falls to the share
  of the budget reserved for other integrations, the next request waits for the window to free.
- Waiting is capped per operation (`max_wait_seconds`); past the cap `RateLimitBudgetExhausted`
  is raised instead of hanging, carrying what the operation had done so far.
- 5xx and connection errors are retried with exponential backoff and jitter only for idempotent
  requests: GET/HEAD/OPTIONS, or writes the caller marks idempotent with `idempotent_writes()`
  (e.g. provisioning PUTs that set full values). A ticket PUT with a comment is never retried.
"""

from __future__ import annotations

import contextvars
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests import PreparedRequest

import metrics
from logs import get_logger

log = get_logger("cxlayer.zendesk")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
# Without a reset header the window is a minute: one slot frees every 60/limit seconds.
WINDOW_SECONDS = 60.0

_idempotent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "cxlayer_zendesk_idempotent", default=False
)


class ZendeskError(Exception):
    """Base of everything sync/ raises about Zendesk."""


class ZendeskApiError(ZendeskError):
    """Zendesk answered with an error status (4xx, or 5xx after any allowed retries)."""

    def __init__(
        self, status: int, error: str = "", description: str = "", details: Any = None
    ) -> None:
        super().__init__(f"Zendesk answered {status} {error}: {description}".strip())
        self.status = status
        self.error = error
        self.description = description
        self.details = details


class ZendeskUnavailable(ZendeskError):
    """No usable answer (connection error, timeout, or 5xx on a request that may not be retried).
    For a write the outcome is unknown: re-read before deciding again."""


class TicketConflict(ZendeskError):
    """A safe update lost a race: the ticket changed after the snapshot the decision was made
    on. Re-read the ticket and decide again; never resend the same write."""

    def __init__(self, ticket_id: int, *, after_first_update: bool = False) -> None:
        self.ticket_id = ticket_id
        self.after_first_update = after_first_update
        extra = " (after the first of two updates had been applied)" if after_first_update else ""
        super().__init__(f"ticket {ticket_id} changed since it was read{extra}")


@dataclass
class OperationMetrics:
    """API calls and waiting of one named operation (a run report's numbers)."""

    name: str
    calls: int = 0
    waited_seconds: float = 0.0
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    throttled: int = 0  # proactive waits
    endpoints: Counter[str] = field(default_factory=Counter)
    done: dict[str, Any] = field(default_factory=dict)  # progress, for resumable errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "calls": self.calls,
            "waited_seconds": round(self.waited_seconds, 3),
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "throttled": self.throttled,
            "endpoints": dict(self.endpoints),
        }


class RateLimitBudgetExhausted(ZendeskError):
    """Waiting for Zendesk's rate limit would pass the operation's cap. Nothing is half-sent:
    the request that would have waited was not made. `done` says what was completed, so the
    caller can resume later (e.g. the ticket ids still to update)."""

    def __init__(self, operation: OperationMetrics, needed_seconds: float, cap: float) -> None:
        self.operation = operation.name
        self.calls = operation.calls
        self.waited_seconds = operation.waited_seconds
        self.needed_seconds = needed_seconds
        self.max_wait_seconds = cap
        self.done: dict[str, Any] = dict(operation.done)
        super().__init__(
            f"operation {operation.name!r} stopped: another {needed_seconds:.1f}s of rate-limit "
            f"waiting would pass its cap of {cap:.1f}s (waited {operation.waited_seconds:.1f}s, "
            f"{operation.calls} API calls made); it can be resumed later"
        )


@contextmanager
def idempotent_writes() -> Iterator[None]:
    """Mark writes in this block as safe to resend after a 5xx or connection error."""
    token = _idempotent.set(True)
    try:
        yield
    finally:
        _idempotent.reset(token)


@dataclass
class Policy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    reserved_budget_share: float = 0.3
    max_wait_seconds: float = 300.0
    max_retries: int = 4


class RateBudget:
    """What Zendesk last said about the account's request budget. One per process and account
    (shared by every client the app builds), since the budget is the account's, not a client's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remaining: int | None = None
        self.limit: int | None = None
        self.reset: float | None = None
        self.observed_at = 0.0


class Tracker:
    """Operation metrics per thread (nested operations all count), plus client-wide totals."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.totals = OperationMetrics("total")

    def stack(self) -> list[OperationMetrics]:
        stack: list[OperationMetrics] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def adopt(self, stack: list[OperationMetrics]) -> None:
        """This thread counts its calls in `stack` (another thread's open operations): reads
        run in parallel for one operation count in it."""
        self._local.stack = list(stack)

    def current(self) -> OperationMetrics | None:
        stack = self.stack()
        return stack[-1] if stack else None

    @contextmanager
    def operation(self, name: str) -> Iterator[OperationMetrics]:
        metrics = OperationMetrics(name)
        stack = self.stack()
        stack.append(metrics)
        try:
            yield metrics
        finally:
            stack.remove(metrics)
            log.info("zendesk operation", **metrics.as_dict())

    def _all(self) -> list[OperationMetrics]:
        return [*self.stack(), self.totals]

    def call(self, endpoint: str) -> None:
        with self._lock:
            for m in self._all():
                m.calls += 1
                m.endpoints[endpoint] += 1

    def waited(self, seconds: float, kind: str) -> None:
        with self._lock:
            for m in self._all():
                m.waited_seconds += seconds
                if kind == "throttle":
                    m.throttled += 1
                elif kind == "429":
                    m.rate_limited += 1
                else:
                    m.retries += 1


class ZendeskSession(requests.Session):
    """A requests.Session zenpy is given. `origin` is the Zendesk address zenpy builds
    (https://<subdomain>.zendesk.com); with `target` set (the sandbox), requests go there
    instead while the Host header keeps the Zendesk name, so pagination links stay on it."""

    def __init__(
        self,
        origin: str,
        target: str | None,
        policy: Policy,
        tracker: Tracker,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        super().__init__()
        self.origin = urlsplit(origin)
        self.target = urlsplit(target) if target else None
        self.policy = policy
        self.tracker = tracker
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # jitter, not cryptography
        self.budget = budget or RateBudget()
        # zenpy leaves the auth of a session that says it is authorised alone.
        self.authorized = True

    # ------------------------------------------------------------------ plumbing
    def _route(self, request: PreparedRequest) -> str:
        original = str(request.url)
        if self.target is None:
            return original
        parts = urlsplit(original)
        if parts.netloc.lower() == self.origin.netloc.lower():
            path = self.target.path.rstrip("/") + parts.path  # a base URL may have a prefix
            request.url = urlunsplit(
                (self.target.scheme, self.target.netloc, path, parts.query, "")
            )
            request.headers["Host"] = parts.netloc
            request.headers["X-Forwarded-Proto"] = parts.scheme
        return original

    def _wait(self, seconds: float, kind: str, request_op: OperationMetrics) -> None:
        """Sleep, unless that would pass the cap of the current operation (or, outside any
        operation, of this one request)."""
        operation = self.tracker.current() or request_op
        cap = self.policy.max_wait_seconds
        if operation.waited_seconds + seconds > cap:
            raise RateLimitBudgetExhausted(operation, seconds, cap)
        log.info("zendesk wait", seconds=round(seconds, 3), reason=kind, operation=operation.name)
        self._sleep(seconds)
        self.tracker.waited(seconds, kind)
        method, _, path = request_op.name.partition(" ")  # the request's "METHOD /path"
        metrics.zendesk_wait(method, path, kind, seconds)
        if operation is request_op:
            request_op.waited_seconds += seconds

    def _throttle(self, request_op: OperationMetrics) -> None:
        """Wait before sending when the last answer said we are down to the reserved share."""
        budget = self.budget
        with budget.lock:
            remaining, limit, reset, seen = (
                budget.remaining,
                budget.limit,
                budget.reset,
                budget.observed_at,
            )
        if remaining is None or not limit:
            return
        floor = math.ceil(limit * self.policy.reserved_budget_share)
        if remaining > floor:
            return
        if reset is not None:
            delay = max(reset - (self._clock() - seen), 0.0)
        else:
            delay = WINDOW_SECONDS * (floor - remaining + 1) / limit
        if delay > 0:
            self._wait(delay, "throttle", request_op)
        with budget.lock:
            # One slot has freed up; the next answer tells us where we stand.
            budget.remaining = None

    def _observe(self, response: requests.Response) -> None:
        headers = response.headers
        remaining = _int(
            headers.get("ratelimit-remaining") or headers.get("X-Rate-Limit-Remaining")
        )
        limit = _int(headers.get("ratelimit-limit") or headers.get("X-Rate-Limit"))
        reset = _int(headers.get("ratelimit-reset"))
        if remaining is None:
            return
        budget = self.budget
        with budget.lock:
            budget.remaining = remaining
            budget.limit = limit or budget.limit
            budget.reset = float(reset) if reset is not None else None
            budget.observed_at = self._clock()

    def _backoff(self, attempt: int, response: requests.Response | None) -> float:
        retry_after = _int(response.headers.get("Retry-After")) if response is not None else None
        if retry_after is not None:
            return float(retry_after)
        base = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
        return base / 2 + self._rng.uniform(0, base / 2)

    # ---------------------------------------------------------------------- send
    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None or not isinstance(kwargs.get("timeout"), tuple):
            kwargs["timeout"] = (self.policy.connect_timeout, self.policy.read_timeout)
        method = (request.method or "GET").upper()
        retryable = method in SAFE_METHODS or _idempotent.get()
        original = self._route(request)
        path = urlsplit(original).path
        endpoint = f"{method} {path}"
        request_op = OperationMetrics(endpoint)
        attempt = 0
        try:
            while True:
                self._throttle(request_op)
                try:
                    response = super().send(request, **kwargs)
                except (requests.ConnectionError, requests.Timeout) as exc:
                    self.tracker.call(endpoint)
                    metrics.zendesk_call(method, path, 0)
                    if retryable and attempt < self.policy.max_retries:
                        self._wait(self._backoff(attempt, None), "retry", request_op)
                        attempt += 1
                        continue
                    raise ZendeskUnavailable(
                        f"{endpoint}: {type(exc).__name__} (after {attempt} retries)"
                    ) from None
                self.tracker.call(endpoint)
                status = response.status_code
                metrics.zendesk_call(method, path, status)
                if status < 500 and status != 429:
                    # Budget headers of answers Zendesk processed; a 429's Retry-After rules,
                    # and error pages from proxies carry no trustworthy budget.
                    self._observe(response)
                if status == 429:
                    # Not processed by Zendesk, so resending is safe for every method.
                    delay = float(_int(response.headers.get("Retry-After")) or 1)
                    response.close()
                    self._wait(delay, "429", request_op)
                    with self.budget.lock:
                        self.budget.remaining = None
                    continue
                if status >= 500 and retryable and attempt < self.policy.max_retries:
                    delay = self._backoff(attempt, response)
                    response.close()
                    self._wait(delay, "retry", request_op)
                    attempt += 1
                    continue
                break
        finally:
            request.url = original
        response.url = original
        return response


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None
