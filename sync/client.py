"""The one careful Zendesk client: zenpy over a rate-limit-aware session, safe ticket updates,
bulk updates through jobs, cursor-based exports, and small caches of account objects.

Single-ticket reads and safe updates go through zenpy. Bulk jobs, exports (search export, the
incremental ticket export and ticket events) and the admin endpoints provisioning needs are
called through the same session directly: zenpy's generators hide page boundaries (needed to
checkpoint a cursor) and its object layer rewrites admin objects (raw_title, options).
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Ticket
from zenpy.lib.exception import APIException, ZenpyException

from logs import get_logger
from mappings import Mappings
from sync import snapshot
from sync.http import (
    OperationMetrics,
    Policy,
    RateBudget,
    RateLimitBudgetExhausted,
    TicketConflict,
    Tracker,
    ZendeskApiError,
    ZendeskError,
    ZendeskSession,
    ZendeskUnavailable,
)
from sync.state import (
    INCREMENTAL_TICKETS_CURSOR,
    TICKET_EVENTS_START,
    MemoryStateStore,
    StateStore,
)
from triggers.model import Action, TicketSnapshot

T = TypeVar("T")

log = get_logger("cxlayer.zendesk")

MAX_BATCH = 100  # Zendesk's limit for update_many and show_many
ZENDESK_JOB_LIMIT = 30  # queued or running jobs per account
DEFAULT_JOBS_IN_FLIGHT = 25  # headroom below 30 for other integrations
SEARCH_EXPORT_PAGE = 1000

Outcome = Literal["ok", "conflict", "error"]


@dataclass(frozen=True)
class TicketChange:
    """One ticket's change for `update_many`. `changes` are Zendesk ticket attributes.
    `updated_stamp` makes it a safe update; None only for changes that are right whatever the
    ticket's state (e.g. `additional_tags`), which may then share one `?ids=` request."""

    ticket_id: int
    changes: Mapping[str, Any]
    updated_stamp: str | None = None


@dataclass(frozen=True)
class TicketResult:
    ticket_id: int
    outcome: Outcome
    error: str = ""
    details: str = ""


@dataclass
class _Job:
    id: str
    ticket_ids: list[int]
    submitted_at: float


@dataclass
class UpdateManyReport:
    results: list[TicketResult] = field(default_factory=list)
    requests: int = 0  # update_many calls made


def _api_error(exc: APIException) -> ZendeskError:
    response: requests.Response | None = getattr(exc, "response", None)
    if response is None:
        return ZendeskError(str(exc))
    return _error_from_response(response)


def _error_from_response(response: requests.Response) -> ZendeskApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = body.get("error", "")
    if isinstance(error, dict):  # some endpoints nest {"title", "message"}
        error = error.get("title", "")
    return ZendeskApiError(
        response.status_code, str(error), str(body.get("description", "")), body.get("details")
    )


class SharedLookups:
    """Account lists that rarely change (groups, custom statuses, ticket fields), shared by
    every client of one process, so an event does not list them again: each entry is kept
    `ttl_seconds` (600) and reloaded at once when a caller asks with refresh=True (a ticket
    names a group the list lacks: it was just created or renamed)."""

    def __init__(self, ttl_seconds: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.lock = threading.Lock()
        self.values: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    def get(
        self, name: str, load: Callable[[], list[dict[str, Any]]], refresh: bool = False
    ) -> list[dict[str, Any]]:
        with self.lock:
            cached = self.values.get(name)
        if cached is not None and not refresh and self.clock() - cached[0] < self.ttl_seconds:
            return cached[1]
        value = load()  # outside the lock: a slow Zendesk must not hold other threads
        with self.lock:
            self.values[name] = (self.clock(), value)
        return value


class ZendeskClient:
    """All Zendesk I/O of the service. Build with `from_settings`; one per unit of work is
    cheap, and the rate-limit knowledge lives in its session."""

    def __init__(
        self,
        *,
        subdomain: str,
        email: str = "",
        token: str = "",
        oauth_token: str = "",
        url: str = "",
        policy: Policy | None = None,
        state: StateStore | None = None,
        jobs_in_flight: int = DEFAULT_JOBS_IN_FLIGHT,
        poll_initial_seconds: float = 0.5,
        poll_max_seconds: float = 10.0,
        job_timeout_seconds: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        mappings: Mappings | None = None,
        budget: RateBudget | None = None,
        lookups: SharedLookups | None = None,
    ) -> None:
        if not subdomain:
            raise ZendeskError("[zendesk] subdomain is required")
        if not oauth_token and not (email and token):
            raise ZendeskError(
                "Zendesk credentials missing: an email and API token, or an OAuth token"
            )
        self.policy = policy or Policy()
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self.origin = f"https://{subdomain}.zendesk.com"
        self.tracker = Tracker()
        self.session = ZendeskSession(
            self.origin,
            url or None,
            self.policy,
            self.tracker,
            sleep=sleep,
            clock=clock,
            budget=budget,
        )
        if oauth_token:
            self.session.headers["Authorization"] = f"Bearer {oauth_token}"
        else:
            self.session.auth = (f"{email}/token", token)
        self.zenpy = Zenpy(
            subdomain=subdomain,
            session=self.session,
            timeout=(self.policy.connect_timeout, self.policy.read_timeout),
            disable_cache=True,  # snapshots must be fresh; sync/ keeps its own small caches
        )
        self.jobs_in_flight = max(1, min(jobs_in_flight, ZENDESK_JOB_LIMIT))
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self.job_timeout_seconds = job_timeout_seconds
        self._clock = clock
        self._sleep = sleep
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self.lookups = lookups
        self.mappings = mappings

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], state: StateStore | None = None, **kwargs: Any
    ) -> ZendeskClient:
        """Build from app.config["CXLAYER"] ([zendesk] section; secrets from the environment)."""
        zd = dict(settings.get("zendesk", {}))
        policy = Policy(
            connect_timeout=float(zd.get("connect_timeout", 5.0)),
            read_timeout=float(zd.get("read_timeout", 30.0)),
            reserved_budget_share=float(zd.get("reserved_budget_share", 0.3)),
            max_wait_seconds=float(zd.get("max_wait_seconds", 300.0)),
            max_retries=int(zd.get("max_retries", 4)),
        )
        kwargs.setdefault("jobs_in_flight", int(zd.get("jobs_in_flight", DEFAULT_JOBS_IN_FLIGHT)))
        return cls(
            subdomain=str(zd.get("subdomain", "")),
            email=str(zd.get("email", "")),
            token=str(zd.get("token", "")),
            oauth_token=str(zd.get("oauth_token", "")),
            url=str(zd.get("url", "")),
            policy=policy,
            state=state,
            **kwargs,
        )

    def close(self) -> None:
        """Release the connection pool (also done by garbage collection)."""
        self.session.close()

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------- metrics
    def operation(self, name: str) -> AbstractContextManager[OperationMetrics]:
        """`with client.operation("sweep") as m:` counts API calls and waiting in `m`; the
        rate-limit wait cap applies per operation."""
        return self.tracker.operation(name)

    @property
    def metrics(self) -> dict[str, Any]:
        """Totals since the client was built: calls, waited_seconds, retries, per endpoint."""
        return self.tracker.totals.as_dict()

    # ----------------------------------------------------------------- raw calls
    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """One request on the Zendesk address (`/api/v2/...` or an absolute Zendesk link)."""
        url = path if path.startswith("http") else self.origin + path
        if urlsplit(url).netloc != urlsplit(self.origin).netloc:
            raise ZendeskError(f"refusing to call a non-Zendesk address: {url}")
        response = self.session.request(method, url, params=params, json=body)
        if response.status_code >= 400:
            raise _error_from_response(response)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    def list_all(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every item of a list endpoint, following offset (`next_page`) or cursor links."""
        items: list[Any] = []
        url: str | None = path
        query: Mapping[str, Any] | None = params
        while url:
            page = self.call("GET", url, params=query)
            items.extend(page.get(key) or [])
            links = page.get("links") or {}
            meta = page.get("meta") or {}
            url = page.get("next_page") or (links.get("next") if meta.get("has_more") else None)
            query = None  # the links carry the parameters
        return items

    def _zen(self, func: Callable[[], Any]) -> Any:
        try:
            return func()
        except APIException as exc:
            raise _api_error(exc) from None
        except ZenpyException as exc:
            raise ZendeskError(str(exc)) from None

    # --------------------------------------------------------------------- reads
    def me(self) -> dict[str, Any]:
        user: dict[str, Any] = self._zen(lambda: self.zenpy.users.me().to_dict())
        return user

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        ticket: dict[str, Any] = self._zen(lambda: self.zenpy.tickets(id=ticket_id).to_dict())
        return ticket

    def show_many(self, ticket_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = list(ticket_ids)
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), MAX_BATCH):
            chunk = ids[start : start + MAX_BATCH]
            found: list[Any] = self._zen(partial(_show_many, self.zenpy, chunk))
            out.extend(t.to_dict() for t in found)
        return out

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        return self.list_all(f"/api/v2/tickets/{ticket_id}/comments.json", "comments")

    def comments_with_authors(
        self, ticket_id: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """A ticket's comments and their authors, one request per page of 100 comments: List
        Comments side-loads users (`include=users`, Zendesk's Ticket Comments API); an author
        the side-load lacks is read with `users` (never expected, kept for safety)."""
        comments: list[dict[str, Any]] = []
        users: dict[int, dict[str, Any]] = {}
        url: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        query: Mapping[str, Any] | None = {"include": "users"}
        while url:
            page = self.call("GET", url, params=query)
            comments.extend(page.get("comments") or [])
            users.update({int(u["id"]): u for u in page.get("users") or []})
            links, meta = page.get("links") or {}, page.get("meta") or {}
            url = page.get("next_page") or (links.get("next") if meta.get("has_more") else None)
            query = None  # the links carry the parameters
        missing = {int(c["author_id"]) for c in comments} - set(users)
        if missing:
            users.update({int(u["id"]): u for u in self.users(missing)})
        return comments, list(users.values())

    def in_parallel(self, *reads: Callable[[], T]) -> list[T]:
        """Run independent reads at once (the first in this thread, the others in threads that
        share this client's session and count in the caller's operation); results in order.
        For reads only: writes stay one at a time."""
        if len(reads) < 2:
            return [read() for read in reads]
        stack = list(self.tracker.stack())

        def run(read: Callable[[], T]) -> T:
            self.tracker.adopt(stack)
            return read()

        with ThreadPoolExecutor(max_workers=len(reads) - 1) as pool:
            futures = [pool.submit(contextvars.copy_context().run, run, r) for r in reads[1:]]
            first = reads[0]()
            return [first, *(f.result() for f in futures)]

    def users(self, user_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = sorted(set(user_ids))
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), MAX_BATCH):
            chunk = ",".join(str(i) for i in ids[start : start + MAX_BATCH])
            out.extend(
                self.call("GET", "/api/v2/users/show_many.json", params={"ids": chunk})["users"]
            )
        return out

    def search_export(
        self, query: str, page_size: int = SEARCH_EXPORT_PAGE
    ) -> Iterator[dict[str, Any]]:
        """Tickets matching `query`, page by page with the export cursor (no 1,000-result cap)."""
        url: str | None = "/api/v2/search/export.json"
        params: Mapping[str, Any] | None = {
            "query": query,
            "filter[type]": "ticket",
            "page[size]": page_size,
        }
        while url:
            page = self.call("GET", url, params=params)
            yield from page.get("results") or []
            meta = page.get("meta") or {}
            url = (page.get("links") or {}).get("next") if meta.get("has_more") else None
            params = None

    def search_count(self, query: str) -> int:
        return int(self.call("GET", "/api/v2/search/count.json", params={"query": query})["count"])

    def incremental_tickets(self, start_time: int = 0) -> Iterator[dict[str, Any]]:
        """Tickets changed since the stored cursor (or `start_time` on the first run). The cursor
        is saved only after the caller has consumed a whole page, so stopping early means the
        page is seen again next time: at least once, never skipped."""
        cursor = self.state.get(INCREMENTAL_TICKETS_CURSOR)
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start_time}
        while True:
            page = self.call("GET", "/api/v2/incremental/tickets/cursor.json", params=params)
            yield from page.get("tickets") or []
            after = page.get("after_cursor")
            if after:
                self.state.set(INCREMENTAL_TICKETS_CURSOR, after)
            if page.get("end_of_stream") or not after:
                return
            params = {"cursor": after}

    def ticket_events(self, start_time: int = 0) -> Iterator[dict[str, Any]]:
        """Ticket events with their comments (`include=comment_events`) since the stored start
        time; checkpointed per page like `incremental_tickets`."""
        start = int(self.state.get(TICKET_EVENTS_START, start_time))
        while True:
            page = self.call(
                "GET",
                "/api/v2/incremental/ticket_events.json",
                params={"start_time": start, "include": "comment_events"},
            )
            yield from page.get("ticket_events") or []
            end = int(page.get("end_time") or start)
            self.state.set(TICKET_EVENTS_START, end)
            if page.get("end_of_stream") or end <= start:
                return
            start = end

    # -------------------------------------------------------------- small caches
    def _cached(
        self, name: str, load: Callable[[], list[dict[str, Any]]], refresh: bool
    ) -> list[dict[str, Any]]:
        if self.lookups is not None:
            return self.lookups.get(name, load, refresh)
        if refresh or name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def custom_statuses(self, refresh: bool = False) -> list[dict[str, Any]]:
        return self._cached(
            "custom_statuses",
            lambda: list(self.call("GET", "/api/v2/custom_statuses.json")["custom_statuses"]),
            refresh,
        )

    def ticket_fields(self, refresh: bool = False) -> list[dict[str, Any]]:
        return self._cached(
            "ticket_fields",
            lambda: self.list_all("/api/v2/ticket_fields.json", "ticket_fields"),
            refresh,
        )

    def groups(self, refresh: bool = False) -> list[dict[str, Any]]:
        return self._cached(
            "groups", lambda: self.list_all("/api/v2/groups.json", "groups"), refresh
        )

    def forget_caches(self) -> None:
        self._cache.clear()

    def prime_cache(self, name: str, items: list[dict[str, Any]]) -> None:
        """Hand this client a list another client read (e.g. a process-wide cache of groups)."""
        self._cache[name] = items

    # ----------------------------------------------------------------- snapshots
    def read_snapshot(
        self, ticket_id: int, *, with_comments: bool = False, parallel: bool = False
    ) -> TicketSnapshot:
        """The ticket now, as rules see it (see sync/snapshot.py; `parallel`: display only)."""
        return snapshot.read_snapshot(
            self, ticket_id, with_comments=with_comments, parallel=parallel
        )

    def with_comments(self, ticket: TicketSnapshot) -> TicketSnapshot:
        """The snapshot with its ticket's comments read now (one call per 100 comments), for
        a caller that learns from the ticket itself that its decision needs them."""
        return replace(ticket, comments=tuple(snapshot.read_comments(self, ticket.id)))

    def apply_actions(self, ticket: TicketSnapshot, actions: Iterable[Action]) -> Any:
        """Apply a rule's actions as one safe update (two when a public comment follows an
        internal note); returns sync.snapshot.ApplyResult, raises TicketConflict."""
        if self.mappings is None:
            raise ZendeskError("this client was built without mappings")
        return snapshot.apply_actions(self, ticket, actions, self.mappings)

    # -------------------------------------------------------------------- writes
    def update_ticket(
        self, snapshot_stamp: str, ticket_id: int, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One safe update: applied only if the ticket still has `snapshot_stamp` as its
        updated_at; otherwise `TicketConflict`. Never retried on 5xx (a comment could post
        twice): `ZendeskUnavailable`/`ZendeskApiError` mean "re-read, then decide"."""
        payload = {**changes, "safe_update": True, "updated_stamp": snapshot_stamp}
        try:
            audit = self.zenpy.tickets.update(Ticket(id=ticket_id, **payload))
        except APIException as exc:
            error = _api_error(exc)
            if isinstance(error, ZendeskApiError) and error.status == 409:
                raise TicketConflict(ticket_id) from None
            raise error from None
        except ZenpyException as exc:
            raise ZendeskError(str(exc)) from None
        ticket: dict[str, Any] = audit.ticket.to_dict()
        return ticket

    def update_many(self, changes: Iterable[TicketChange]) -> UpdateManyReport:
        """Bulk updates through Zendesk jobs: batches of ≤100 (one `?ids=` request for identical
        stamp-free changes), at most `jobs_in_flight` jobs queued or running, job statuses
        polled together with backoff. One result per ticket, in input order: a batch Zendesk
        refuses, or a job that does not finish within `job_timeout_seconds`, gives each of its
        tickets an "error" result and the others go on.

        If the rate-limit wait cap is reached, `RateLimitBudgetExhausted.done` holds
        {"results": finished results, "in_flight_jobs": ids, "not_sent": ticket ids}."""
        items = list(changes)
        seen: set[int] = set()
        for item in items:
            if item.ticket_id in seen:
                raise ValueError(
                    f"ticket {item.ticket_id} appears twice; merge its changes into one"
                )
            seen.add(item.ticket_id)
        report = UpdateManyReport()
        pending = _batches(items)
        in_flight: list[_Job] = []
        finished: dict[int, TicketResult] = {}
        delay = self.poll_initial_seconds
        started, completed = self._clock(), 0
        with self.operation("update_many") as op:
            try:
                while pending or in_flight:
                    while pending and len(in_flight) < self.jobs_in_flight:
                        ids, body, ids_form = pending[0]
                        failure: TicketResult | None = None
                        try:
                            job_id = self._submit(ids, body, ids_form)
                        except ZendeskApiError as exc:
                            failure = TicketResult(
                                0, "error", exc.error or str(exc.status), str(exc)
                            )
                        except ZendeskUnavailable as exc:
                            failure = TicketResult(
                                0, "error", "Unavailable", f"outcome unknown: {exc}"
                            )
                        # Popped only now: a budget stop inside _submit leaves it "not_sent".
                        pending.pop(0)
                        report.requests += 1
                        if failure is not None:
                            for ticket_id in ids:
                                finished[ticket_id] = replace(failure, ticket_id=ticket_id)
                            continue
                        in_flight.append(_Job(job_id, ids, self._clock()))
                        delay = self.poll_initial_seconds
                    if not in_flight:
                        continue
                    self._sleep(delay)
                    done_jobs = self._poll(in_flight, finished)
                    in_flight = [j for j in in_flight if j.id not in done_jobs]
                    expired = self._expire(in_flight, finished)
                    in_flight = [j for j in in_flight if j.id not in expired]
                    if done_jobs or expired:
                        completed += len(done_jobs)
                        delay = next_poll_delay(
                            waiting=len(pending),
                            in_flight=len(in_flight),
                            completed=completed,
                            elapsed=self._clock() - started,
                            initial=self.poll_initial_seconds,
                            maximum=self.poll_max_seconds,
                        )
                    else:
                        delay = min(delay * 2, self.poll_max_seconds)
            except RateLimitBudgetExhausted as exc:
                exc.done = {
                    "results": [finished[t.ticket_id] for t in items if t.ticket_id in finished],
                    "in_flight_jobs": [j.id for j in in_flight],
                    "not_sent": [i for ids, _b, _f in pending for i in ids],
                }
                op.done = exc.done
                raise
        report.results = [
            finished.get(
                t.ticket_id, TicketResult(t.ticket_id, "error", "NoResult", "job reported nothing")
            )
            for t in items
        ]
        return report

    def _expire(self, jobs: list[_Job], finished: dict[int, TicketResult]) -> set[str]:
        """Jobs (still in flight) unfinished after `job_timeout_seconds`: outcome unknown."""
        expired: set[str] = set()
        now = self._clock()
        for job in jobs:
            if now - job.submitted_at > self.job_timeout_seconds:
                expired.add(job.id)
                for ticket_id in job.ticket_ids:
                    finished[ticket_id] = TicketResult(
                        ticket_id,
                        "error",
                        "JobTimeout",
                        f"job {job.id} unfinished after {self.job_timeout_seconds:.0f}s; "
                        "outcome unknown, re-read the ticket",
                    )
        return expired

    def _submit(self, ids: list[int], body: dict[str, Any], ids_form: bool) -> str:
        params = {"ids": ",".join(str(i) for i in ids)} if ids_form else None
        answer = self.call("PUT", "/api/v2/tickets/update_many.json", params=params, body=body)
        return str(answer["job_status"]["id"])

    def _poll(self, jobs: list[_Job], finished: dict[int, TicketResult]) -> set[str]:
        by_id = {j.id: j for j in jobs}
        done: set[str] = set()
        statuses = self.call(
            "GET", "/api/v2/job_statuses/show_many.json", params={"ids": ",".join(by_id)}
        )["job_statuses"]
        for status in statuses:
            job = by_id.get(str(status.get("id")))
            if job is None or status.get("status") not in ("completed", "failed", "killed"):
                continue
            done.add(job.id)
            results = status.get("results") or []
            for index, ticket_id in enumerate(job.ticket_ids):
                result = _job_result(results, index, ticket_id)
                if result is None:
                    message = str(status.get("message") or status.get("status"))
                    finished[ticket_id] = TicketResult(ticket_id, "error", "JobFailed", message)
                else:
                    finished[ticket_id] = result
        return done


def next_poll_delay(
    *,
    waiting: int,
    in_flight: int,
    completed: int,
    elapsed: float,
    initial: float,
    maximum: float,
) -> float:
    """Seconds until the next job-status poll, after a poll that saw jobs finish.

    While batches wait for a free job slot, poll again soon (`initial`) to submit them. Once
    all are submitted, poll when the jobs still in flight should be done at the rate seen so
    far, between `initial` and `maximum`: a long bulk write then costs a few polls, not one
    every `initial` seconds (each poll is an API call from the account's budget).
    """
    if waiting or not in_flight or completed < 1:
        return initial
    expected = in_flight * max(elapsed, 0.0) / completed
    return min(max(expected, initial), maximum)


def _job_result(results: list[dict[str, Any]], index: int, ticket_id: int) -> TicketResult | None:
    """A job's result for one ticket: matched by id, else by position."""
    found = next((r for r in results if _as_int(r.get("id")) == ticket_id), None)
    if found is None:
        found = next((r for r in results if r.get("index") == index), None)
    if found is None:
        return None
    if found.get("success", found.get("status") in ("Updated", "Completed")):
        return TicketResult(ticket_id, "ok")
    error = str(found.get("error") or "Failed")
    outcome: Outcome = "conflict" if error == "UpdateConflict" else "error"
    return TicketResult(ticket_id, outcome, error, str(found.get("details") or ""))


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _batches(items: list[TicketChange]) -> list[tuple[list[int], dict[str, Any], bool]]:
    """(ticket ids, request body, ?ids= form), at most 100 tickets per request and no more
    requests than ceil(tickets / 100). Stamp-free identical changes fill whole `?ids=`
    requests of 100 (a smaller body); everything else, remainders included, goes in the
    per-ticket form, each ticket with its own stamp. (A partly filled `?ids=` request would
    cost a request that the per-ticket form shares with other tickets.)"""
    identical: dict[str, list[TicketChange]] = {}
    individual: list[TicketChange] = []
    for item in items:
        if item.updated_stamp is None:
            identical.setdefault(json.dumps(item.changes, sort_keys=True, default=str), []).append(
                item
            )
        else:
            individual.append(item)
    out: list[tuple[list[int], dict[str, Any], bool]] = []
    for group in identical.values():
        whole = len(group) - len(group) % MAX_BATCH
        for start in range(0, whole, MAX_BATCH):
            chunk = group[start : start + MAX_BATCH]
            out.append(([c.ticket_id for c in chunk], {"ticket": dict(chunk[0].changes)}, True))
        individual.extend(group[whole:])
    for start in range(0, len(individual), MAX_BATCH):
        chunk = individual[start : start + MAX_BATCH]
        tickets = []
        for c in chunk:
            ticket = {"id": c.ticket_id, **c.changes}
            if c.updated_stamp is not None:
                ticket.update(safe_update=True, updated_stamp=c.updated_stamp)
            tickets.append(ticket)
        out.append(([c.ticket_id for c in chunk], {"tickets": tickets}, False))
    return out


def _show_many(zenpy: Zenpy, ids: list[int]) -> list[Any]:
    return list(zenpy.tickets(ids=ids))
