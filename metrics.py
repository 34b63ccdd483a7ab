"""Prometheus metrics of every cxlayer process (prometheus-client), served at `/metrics`.

Counters and histograms are module-level and incremented where things happen: events
(webhooks/worker), Zendesk API calls and rate-limit waits (sync/http), scheduled jobs such as the
auto-solve sweep and the duplicate index sync (webhooks/worker), the sweep's outcomes
(autosolve). The inbox's backlog, oldest-event age and dead letters are read from the database
when `/metrics` is scraped (collectors registered by webhooks/), so every process reports the
same, shared inbox.

Several processes (gunicorn workers, `flask worker` processes on one host): set the environment
variable PROMETHEUS_MULTIPROC_DIR to an empty directory, the same for every process of the host,
before they start (prometheus-client's multi-process mode); `/metrics` then aggregates them.
Imports nothing of the project.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

EVENTS = Counter(
    "cxlayer_events",
    "Inbox events by kind and outcome: processed, failed (a retry follows), dead_lettered.",
    ["kind", "outcome"],
)
EVENT_TO_EFFECT = Histogram(
    "cxlayer_event_to_effect_seconds",
    "From the webhook's receipt to the end of its processing (changes written), by kind.",
    ["kind"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
ZENDESK_CALLS = Counter(
    "cxlayer_zendesk_api_calls",
    "Zendesk API requests by endpoint (ids replaced by {id}) and HTTP status (0: no answer).",
    ["endpoint", "status"],
)
ZENDESK_WAITS = Counter(
    "cxlayer_zendesk_waits",
    "Waits before a Zendesk request by endpoint and reason: 429 (Retry-After), throttle "
    "(keeping the reserved budget), retry (5xx or connection error backoff).",
    ["endpoint", "reason"],
)
ZENDESK_WAIT_SECONDS = Counter(
    "cxlayer_zendesk_wait_seconds",
    "Seconds spent in those waits, by endpoint and reason.",
    ["endpoint", "reason"],
)
JOBS = Counter(
    "cxlayer_scheduled_jobs",
    "Scheduled job runs (auto-solve sweep, duplicate index sync, inbox pruning) by outcome.",
    ["job", "outcome"],
)
SWEEP_TICKETS = Counter(
    "cxlayer_sweep_tickets",
    "Tickets the auto-solve sweep acted on, by outcome (reminded, solved, conflicts, errors).",
    ["outcome"],
)

_ID_SEGMENT = re.compile(r"/\d+(?=[/.]|$)")


def endpoint_label(method: str, path: str) -> str:
    """ "GET /api/v2/tickets/123.json" → "GET /api/v2/tickets/{id}.json" (bounded labels)."""
    return f"{method} {_ID_SEGMENT.sub('/{id}', path)}"


def zendesk_call(method: str, path: str, status: int) -> None:
    ZENDESK_CALLS.labels(endpoint_label(method, path), str(status)).inc()


def zendesk_wait(method: str, path: str, reason: str, seconds: float) -> None:
    label = endpoint_label(method, path)
    ZENDESK_WAITS.labels(label, reason).inc()
    ZENDESK_WAIT_SECONDS.labels(label, reason).inc(seconds)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render(collectors: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The exposition text of this process (or of every process of the host in multi-process
    mode), plus `collectors` evaluated now; and its content type."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY  # noqa: PLC0415 - the default registry

        registry = REGISTRY
        scrape = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            scrape.register(collector)
        return generate_latest(registry) + generate_latest(scrape), CONTENT_TYPE_LATEST
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook in multi-process mode: drop a dead worker's live gauges."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)


ScrapeCollector = Callable[[], Collector]
