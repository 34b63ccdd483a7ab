"""Inbox workers (threads) and the job scheduler, for `flask --app app worker` and `serve`.

The event handler is pluggable: `app.extensions["cxlayer.event_handler"]` is a callable
(app, InboxEvent) -> None that must be idempotent (delivery is at least once). Raising marks
the attempt failed; the event is retried with backoff and dead-lettered after max_attempts.
Scheduled jobs are registered by areas with `register_job(app, id, func, **trigger)`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

import metrics
import store
from logs import get_logger
from store import InboxEvent
from triggers.model import TicketEvent
from webhooks import inbox

HANDLER_EXTENSION = "cxlayer.event_handler"
JOBS_EXTENSION = "cxlayer.jobs"
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 8
# Above the sync client's total rate-limit wait ([zendesk] max_wait_seconds = 300).
DEFAULT_MAX_PROCESSING_SECONDS = 900.0
IDLE_POLL_SECONDS = 0.5
NO_HANDLER_MESSAGE = "no event handler is wired; event marked done without action"

EventHandler = Callable[[Flask, InboxEvent], None]


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (e.g. Zendesk refused the change with a
    4xx): the event is dead-lettered at once, with this message as its last error."""


Job = tuple[str, dict[str, Any], Callable[[Flask], None]]

log = get_logger("cxlayer.worker")


def default_handler(app: Flask, event: InboxEvent) -> None:
    """Placeholder until the rules are wired: acknowledge the event and say so."""
    log.warning(NO_HANDLER_MESSAGE, kind=event.kind)


def init_app(app: Flask) -> None:
    app.extensions.setdefault(HANDLER_EXTENSION, default_handler)
    app.extensions.setdefault(JOBS_EXTENSION, [])
    register_job(app, "inbox.prune", prune_inbox, trigger="cron", hour=3, minute=17)


def prune_inbox(app: Flask) -> None:
    """Daily: forget finished events older than [webhook] retention_days (default 30)."""
    days = float(app.config["CXLAYER"].get("webhook", {}).get("retention_days", 30))
    with store.session(app) as sess:
        removed = inbox.prune(sess, store.utcnow() - timedelta(days=days))
    log.info("inbox pruned", removed=removed, retention_days=days)


def ticket_event(app: Flask, event: InboxEvent) -> TicketEvent:
    """The rules' view of an inbox event, with `by_service` from state zendesk.service_user_id."""
    with store.session(app, readonly=True) as sess:
        service_user_id = store.get_state(sess, store.SERVICE_USER_ID)
    return inbox.to_ticket_event(
        event, int(service_user_id) if service_user_id is not None else None
    )


def set_event_handler(app: Flask, handler: EventHandler) -> None:
    app.extensions[HANDLER_EXTENSION] = handler


def register_job(app: Flask, job_id: str, func: Callable[[Flask], None], **trigger: Any) -> None:
    """Schedule `func(app)`; `trigger` are APScheduler add_job arguments, e.g.
    trigger="cron", hour=2, timezone="America/New_York"."""
    app.extensions.setdefault(JOBS_EXTENSION, []).append((job_id, trigger, func))


def retry_policy(app: Flask) -> inbox.RetryPolicy:
    section = app.config["CXLAYER"].get("webhook", {})
    return inbox.RetryPolicy(
        max_attempts=int(section.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
        base_seconds=float(section.get("retry_base_seconds", 5.0)),
        max_seconds=float(section.get("retry_max_seconds", 3600.0)),
    )


def lease_seconds(app: Flask) -> float:
    return float(
        app.config["CXLAYER"].get("webhook", {}).get("lease_seconds", DEFAULT_LEASE_SECONDS)
    )


def max_processing_seconds(app: Flask) -> float:
    """How long one handler call may keep its ticket ([webhook] max_processing_seconds)."""
    section = app.config["CXLAYER"].get("webhook", {})
    return float(section.get("max_processing_seconds", DEFAULT_MAX_PROCESSING_SECONDS))


def worker_name(index: int | str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class _LeaseKeeper:
    """Renews a lease every third of its length while a (slow) handler runs, but only up to
    `max_seconds`: a handler stuck for longer loses its lease so the ticket is not held forever
    (another worker retries the event; the stuck one can no longer complete it)."""

    def __init__(
        self, app: Flask, event_id: int, owner: str, seconds: float, max_seconds: float
    ) -> None:
        self.app, self.event_id, self.owner, self.seconds = app, event_id, owner, seconds
        self.until = time.monotonic() + max_seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{event_id}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(self.seconds / 3):
            if time.monotonic() > self.until:
                log.warning("handler too slow; lease no longer renewed", inbox_id=self.event_id)
                return
            try:
                with store.session(self.app) as sess:
                    if not inbox.renew(sess, self.event_id, self.owner, self.seconds):
                        log.warning("lease lost while processing", inbox_id=self.event_id)
                        return
            except Exception:
                log.exception("lease renewal failed", inbox_id=self.event_id)


def process_one(app: Flask, owner: str, now: datetime | None = None) -> InboxEvent | None:
    """Claim one event, run the handler on it and record the outcome; None if nothing is due.

    `now` (tests) replaces the clock for claiming and for scheduling a retry.
    """
    policy = retry_policy(app)
    seconds = lease_seconds(app)
    with store.session(app) as sess:
        event = inbox.claim(sess, owner, seconds, policy, now)
    if event is None:
        return None
    handler: EventHandler = app.extensions.get(HANDLER_EXTENSION, default_handler)
    with structlog.contextvars.bound_contextvars(
        invocation_id=event.invocation_id, ticket_id=event.ticket_id, inbox_id=event.id
    ):
        try:
            keeper = _LeaseKeeper(app, event.id, owner, seconds, max_processing_seconds(app))
            with keeper, app.app_context():
                handler(app, event)
        except Exception as exc:
            permanent = isinstance(exc, PermanentFailure)
            with store.session(app) as sess:
                status = inbox.fail(sess, event.id, owner, exc, policy, now=now, final=permanent)
            dead = status == store.FAILED
            if status is not None:
                outcome = "dead_lettered" if dead else "failed"
                metrics.EVENTS.labels(event.kind, outcome).inc()
            # A dead letter needs an operator (`inbox list --failed`, `inbox retry ID`): error
            # level, with the stack; a retry to come is a warning.
            (log.error if dead else log.warning)(
                "event dead-lettered" if dead else "event failed; will retry",
                # Explicit as well as bound: a handler may unbind its own context on the way out.
                invocation_id=event.invocation_id,
                ticket_id=event.ticket_id,
                kind=event.kind,
                attempt=event.attempts,
                outcome=status or "lease lost",
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
        else:
            with store.session(app) as sess:
                finished = inbox.complete(sess, event.id, owner, now)
            if finished:
                metrics.EVENTS.labels(event.kind, "processed").inc()
                metrics.EVENT_TO_EFFECT.labels(event.kind).observe(
                    max(0.0, (store.utcnow() - event.received_at).total_seconds())
                )
            log.info(
                "event finished",
                invocation_id=event.invocation_id,
                ticket_id=event.ticket_id,
                kind=event.kind,
                attempt=event.attempts,
                lease_kept=finished,
            )
    return event


def run_worker(app: Flask, owner: str, stop: threading.Event) -> None:
    """Process events until `stop` is set; sleep briefly when the inbox is empty."""
    while not stop.is_set():
        try:
            event = process_one(app, owner)
        except Exception:
            # Database unavailable or similar: say so, wait, try again (never die silently).
            log.exception("worker loop error", worker=owner)
            stop.wait(5 * IDLE_POLL_SECONDS)
            continue
        if event is None:
            stop.wait(IDLE_POLL_SECONDS)


class WorkerPool:
    """N worker threads in this process."""

    def __init__(self, app: Flask, size: int) -> None:
        self.app = app
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(
                target=run_worker,
                args=(app, worker_name(i), self.stop_event),
                name=f"inbox-worker-{i}",
                daemon=True,
            )
            for i in range(size)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()
        log.info("workers started", count=len(self.threads))

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the events in hand within `timeout` seconds in all, then stop; an event still
        in hand after that returns to the queue when its lease expires (never lost)."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        busy = sum(thread.is_alive() for thread in self.threads)
        log.info("workers stopped", count=len(self.threads), still_busy=busy)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """A background scheduler with every registered job (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs: list[Job] = app.extensions.get(JOBS_EXTENSION, [])
    for job_id, trigger, func in jobs:
        scheduler.add_job(
            _run_job,
            args=(app, job_id, func),
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            **trigger,
        )
    return scheduler


def _run_job(app: Flask, job_id: str, func: Callable[[Flask], None]) -> None:
    with structlog.contextvars.bound_contextvars(job=job_id), app.app_context():
        try:
            func(app)
        except Exception:
            metrics.JOBS.labels(job_id, "failed").inc()
            log.exception("scheduled job failed")
        else:
            metrics.JOBS.labels(job_id, "ok").inc()


class Runtime:
    """Workers and scheduler of one process, started and stopped together."""

    def __init__(self, app: Flask, workers: int | None = None, scheduler: bool = True) -> None:
        count = (
            workers
            if workers is not None
            else int(app.config["CXLAYER"].get("service", {}).get("workers", 2))
        )
        self.pool = WorkerPool(app, count)
        self.scheduler = build_scheduler(app) if scheduler else None

    def start(self) -> None:
        self.pool.start()
        if self.scheduler:
            self.scheduler.start()
            log.info("scheduler started", jobs=[job.id for job in self.scheduler.get_jobs()])

    def stop(self) -> None:
        if self.scheduler and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.pool.stop()
