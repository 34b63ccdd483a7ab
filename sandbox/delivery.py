"""Signed webhook delivery like Zendesk's: asynchronous, 12 s timeout, retried with backoff."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox.store import Store, iso

TIMEOUT_SECONDS = 12.0
MAX_RETRIES = 3
RETRY_STATUSES = frozenset({409}) | frozenset(range(500, 600))
WORKERS = 4
LOG_LIMIT = 10_000


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), Zendesk's webhook signature."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _extra_headers(webhook: dict[str, Any]) -> dict[str, str]:
    """The webhook's custom headers and authentication, as Zendesk adds them."""
    headers = {str(k): str(v) for k, v in (webhook.get("custom_headers") or {}).items()}
    auth = webhook.get("authentication") or {}
    data = auth.get("data") or {}
    if auth.get("type") == "basic_auth":
        pair = f"{data.get('username', '')}:{data.get('password', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif auth.get("type") == "bearer_token":
        headers["Authorization"] = f"Bearer {data.get('token', '')}"
    elif auth.get("type") == "api_key" and data.get("name"):
        headers[str(data["name"])] = str(data.get("value", ""))
    return headers


@dataclass(order=True)
class _Attempt:
    due: float
    seq: int
    record: dict[str, Any] = field(compare=False)


class Deliverer:
    """A small pool of threads POSTing queued invocations; a retry is rescheduled, never slept
    on, so one slow endpoint does not hold up the others."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.timeout = TIMEOUT_SECONDS
        self.max_retries = MAX_RETRIES
        self.backoff_seconds = 2.0
        self.log: list[dict[str, Any]] = []
        self._heap: list[_Attempt] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._local = threading.local()  # one requests.Session per delivery thread
        self._in_flight = 0

    def start(self) -> None:
        if self._threads:
            return
        self._stopping = False
        for n in range(WORKERS):
            thread = threading.Thread(target=self._loop, name=f"sandbox-webhooks-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)
        self._threads = []

    def enqueue(
        self, webhook: dict[str, Any], body: str, context: dict[str, Any]
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "invocation_id": uuid.uuid4().hex,
            "webhook_id": webhook["id"],
            "endpoint": webhook["endpoint"],
            "http_method": webhook.get("http_method", "POST"),
            "secret": webhook["signing_secret"]["secret"],
            "body": body,
            "extra_headers": _extra_headers(webhook),
            "attempts": [],
            "outcome": "pending",
            **context,
        }
        with self._cond:
            self.log.append(record)
            if len(self.log) > LOG_LIMIT:
                # A long demo run must not grow without bound: forget the oldest finished ones.
                finished = [
                    r
                    for r in self.log[: len(self.log) - LOG_LIMIT // 2]
                    if r["outcome"] != "pending"
                ]
                drop = {id(r) for r in finished}
                self.log = [r for r in self.log if id(r) not in drop]
            heapq.heappush(self._heap, _Attempt(time.monotonic(), next(self._seq), record))
            self._cond.notify()
        return record

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._in_flight

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued or in flight (tests use it instead of sleeping)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def public_log(self) -> list[dict[str, Any]]:
        with self._cond:
            return [
                {k: v for k, v in r.items() if k not in ("secret", "extra_headers")}
                for r in self.log
            ]

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait if wait is None else max(0.0, wait))
                if self._stopping:
                    return
                attempt = heapq.heappop(self._heap)
                self._in_flight += 1
            try:
                self._attempt(attempt.record)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, record: dict[str, Any]) -> None:
        body = record["body"].encode()
        timestamp = iso(self.store.now())
        headers = {
            **record["extra_headers"],
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Account-Id": "1",
            "X-Zendesk-Webhook-Id": str(record["webhook_id"]),
            "X-Zendesk-Webhook-Invocation-Id": record["invocation_id"],
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Signature": sign(record["secret"], timestamp, body),
        }
        entry: dict[str, Any] = {"at": timestamp, "status": None, "error": None}
        retry = False
        try:
            session = getattr(self._local, "session", None)
            if session is None:
                session = self._local.session = requests.Session()
            response = session.request(
                record["http_method"],
                record["endpoint"],
                data=body,
                headers=headers,
                timeout=self.timeout,
            )
            entry["status"] = response.status_code
            retry = response.status_code in RETRY_STATUSES
        except requests.Timeout:
            entry["error"] = "timeout"
            retry = True
        except requests.RequestException as exc:
            entry["error"] = type(exc).__name__
        with self._cond:
            record["attempts"].append(entry)
            if retry and len(record["attempts"]) <= self.max_retries:
                delay = self.backoff_seconds * 2 ** (len(record["attempts"]) - 1)
                heapq.heappush(
                    self._heap, _Attempt(time.monotonic() + delay, next(self._seq), record)
                )
                self._cond.notify()
            else:
                ok = entry["status"] is not None and 200 <= entry["status"] < 300
                record["outcome"] = "delivered" if ok else "failed"
