"""`/metrics` (Prometheus) and `/readyz` (readiness); `/healthz` (app.py) stays liveness only.

Readiness answers "should a load balancer send webhooks here, and is the service keeping up":
503 when the database does not answer, when an event has been due for longer than
[service] ready_stuck_seconds without a worker taking it (workers stopped or stalled), or when
events wait and no Zendesk call has succeeded for [service] ready_zendesk_seconds. The last
successful Zendesk call is recorded by the workers in state `zendesk.last_success_at` (at most
once a minute per process), so a web-only process reports its workers' view.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

import metrics
import store
from logs import get_logger
from store import FAILED, PENDING, PROCESSING, InboxEvent

bp = Blueprint("health", __name__)
log = get_logger("cxlayer.health")

ZENDESK_OK_KEY = "zendesk.last_success_at"
ZENDESK_OK_EVERY_SECONDS = 60.0
_ZENDESK_OK_EXTENSION = "cxlayer.zendesk_ok_recorded"
DEFAULT_STUCK_SECONDS = 300.0
DEFAULT_ZENDESK_SECONDS = 900.0


def note_zendesk_ok(app: Flask) -> None:
    """A unit of work's Zendesk calls succeeded: record when (throttled, per process)."""
    now = time.monotonic()
    if now - app.extensions.get(_ZENDESK_OK_EXTENSION, -ZENDESK_OK_EVERY_SECONDS) < (
        ZENDESK_OK_EVERY_SECONDS
    ):
        return
    app.extensions[_ZENDESK_OK_EXTENSION] = now
    with store.session(app) as sess:
        store.set_state(sess, ZENDESK_OK_KEY, store.utcnow().isoformat())


def inbox_figures(app: Flask) -> dict[str, Any]:
    """Backlog (pending + processing), age of the oldest unfinished event and of the longest
    unclaimed due one (seconds), dead letters, and the last successful Zendesk call."""
    now = store.utcnow()
    with store.session(app, readonly=True) as sess:
        backlog, oldest = sess.execute(
            select(func.count(), func.min(InboxEvent.received_at)).where(
                InboxEvent.status.in_((PENDING, PROCESSING))
            )
        ).one()
        due_since = sess.scalar(
            select(func.min(InboxEvent.next_attempt_at)).where(
                InboxEvent.status == PENDING, InboxEvent.next_attempt_at <= now
            )
        )
        dead = sess.scalar(select(func.count()).where(InboxEvent.status == FAILED))
        zendesk_ok = store.get_state(sess, ZENDESK_OK_KEY)
    oldest_at = store.UTCDateTime().process_result_value(oldest, sess.get_bind().dialect)
    due_at = store.UTCDateTime().process_result_value(due_since, sess.get_bind().dialect)
    ok_at = datetime.fromisoformat(zendesk_ok) if zendesk_ok else None
    return {
        "backlog": int(backlog or 0),
        "oldest_age_seconds": (now - oldest_at).total_seconds() if oldest_at else 0.0,
        "longest_due_seconds": (now - due_at).total_seconds() if due_at else 0.0,
        "dead_letters": int(dead or 0),
        "zendesk_ok_age_seconds": (now - ok_at).total_seconds() if ok_at else None,
    }


class InboxCollector:
    """Gauges read from the shared inbox at scrape time (the same from every process)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("cxlayer_database_up", "1 when the database answered the scrape.")
        try:
            figures = inbox_figures(self.app)
        except SQLAlchemyError:
            log.warning("metrics: database unavailable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, doc, key in (
            ("cxlayer_inbox_backlog", "Events pending or being processed.", "backlog"),
            (
                "cxlayer_inbox_oldest_event_age_seconds",
                "Age of the oldest unfinished event (0 when none).",
                "oldest_age_seconds",
            ),
            (
                "cxlayer_inbox_dead_letters",
                "Dead-lettered events (inbox list --failed).",
                "dead_letters",
            ),
        ):
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], float(figures[key]))
            yield gauge
        if figures["zendesk_ok_age_seconds"] is not None:
            gauge = GaugeMetricFamily(
                "cxlayer_zendesk_last_success_age_seconds",
                "Seconds since a worker's Zendesk calls last succeeded.",
            )
            gauge.add_metric([], figures["zendesk_ok_age_seconds"])
            yield gauge


@bp.get("/metrics")
def metrics_view() -> Response:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    body, content_type = metrics.render([InboxCollector(app)])
    return Response(body, content_type=content_type)


def _service_setting(app: Flask, key: str, default: float) -> float:
    return float(app.config["CXLAYER"].get("service", {}).get(key, default))


@bp.get("/readyz")
def readyz() -> Response:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    checks: dict[str, Any] = {}
    try:
        with store.session(app, readonly=True) as sess:
            sess.execute(text("SELECT 1"))
        figures = inbox_figures(app)
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
        return _ready(False, checks)
    checks["database"] = "ok"
    stuck_after = _service_setting(app, "ready_stuck_seconds", DEFAULT_STUCK_SECONDS)
    zendesk_after = _service_setting(app, "ready_zendesk_seconds", DEFAULT_ZENDESK_SECONDS)
    stuck = figures["longest_due_seconds"] > stuck_after
    checks["inbox"] = {
        "backlog": figures["backlog"],
        "oldest_age_seconds": round(figures["oldest_age_seconds"], 1),
        "dead_letters": figures["dead_letters"],
        "state": "stuck: due events are not being taken" if stuck else "ok",
    }
    ok_age = figures["zendesk_ok_age_seconds"]
    waiting = figures["backlog"] > 0 and figures["oldest_age_seconds"] > zendesk_after
    zendesk_failing = waiting and (ok_age is None or ok_age > zendesk_after)
    checks["zendesk"] = {
        "last_success_age_seconds": None if ok_age is None else round(ok_age, 1),
        "state": "failing: events wait and no call succeeded" if zendesk_failing else "ok",
    }
    return _ready(not (stuck or zendesk_failing), checks)


def _ready(ready: bool, checks: dict[str, Any]) -> Response:
    response = jsonify(status="ready" if ready else "not ready", checks=checks)
    response.status_code = 200 if ready else 503
    return response
