"""/metrics, /readyz and /healthz as an operator and a load balancer see them."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

import store
from app import create_app
from logs import configure_logging
from webhooks import inbox
from webhooks.worker import process_one, set_event_handler

from .conftest import PostSigned


def scrape(app: Flask) -> dict[str, float]:
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_metrics_show_the_backlog_its_age_outcomes_latency_and_dead_letters(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    for _ in range(3):
        assert post_signed().status_code == 202
    before = scrape(hook_app)
    assert before["cxlayer_inbox_backlog[]"] == 3
    assert before["cxlayer_inbox_oldest_event_age_seconds[]"] >= 0
    assert before["cxlayer_database_up[]"] == 1
    processed = "cxlayer_events_total[('kind', 'status_changed'), ('outcome', 'processed')]"

    calls: list[int] = []

    def handler(_app: Flask, event: store.InboxEvent) -> None:
        calls.append(event.id)
        if len(calls) == 2:
            raise RuntimeError("boom")

    set_event_handler(hook_app, handler)
    hook_app.config["CXLAYER"]["webhook"]["max_attempts"] = 1
    while process_one(hook_app, "w1") is not None:
        pass
    after = scrape(hook_app)
    assert after["cxlayer_inbox_backlog[]"] == 0
    assert after["cxlayer_inbox_dead_letters[]"] == 1
    assert after[processed] - before.get(processed, 0) == 2
    dead = "cxlayer_events_total[('kind', 'status_changed'), ('outcome', 'dead_lettered')]"
    assert after[dead] - before.get(dead, 0) == 1
    count = "cxlayer_event_to_effect_seconds_count[('kind', 'status_changed')]"
    assert after[count] - before.get(count, 0) == 2


def test_readyz_fails_when_due_events_wait_unclaimed_and_recovers(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    assert hook_app.test_client().get("/readyz").status_code == 200
    assert post_signed().status_code == 202
    assert hook_app.test_client().get("/readyz").status_code == 200  # just arrived: fine
    with store.session(hook_app) as sess:
        for event in inbox.list_events(sess):  # nobody took it for ten minutes
            event.next_attempt_at = event.received_at = store.utcnow() - timedelta(minutes=10)
    stuck = hook_app.test_client().get("/readyz")
    assert stuck.status_code == 503
    assert stuck.json is not None
    assert stuck.json["checks"]["inbox"]["state"].startswith("stuck")
    set_event_handler(hook_app, lambda _app, _event: None)
    assert process_one(hook_app, "w1") is not None
    assert hook_app.test_client().get("/readyz").status_code == 200


def test_with_the_database_down_healthz_is_alive_and_readyz_and_metrics_say_so() -> None:
    app = create_app(
        {
            "ENVIRON": {"CXLAYER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "TESTING": True,
        }
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # liveness only: restart would not help
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json is not None and ready.json["checks"]["database"].startswith("unavailable")
    assert scrape(app)["cxlayer_database_up[]"] == 0


def test_a_dead_letter_is_logged_at_error_level_with_its_stack_and_a_retry_as_a_warning(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    assert post_signed().status_code == 202

    def handler(_app: Flask, _event: store.InboxEvent) -> None:
        raise RuntimeError("Zendesk said no")

    set_event_handler(hook_app, handler)
    hook_app.config["CXLAYER"]["webhook"]["max_attempts"] = 2
    later = store.utcnow()
    process_one(hook_app, "w1", now=later)
    process_one(hook_app, "w1", now=later + timedelta(hours=2))
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    failed = [line for line in lines if line["event"].startswith("event ")]
    assert [(line["event"], line["level"]) for line in failed] == [
        ("event failed; will retry", "warning"),
        ("event dead-lettered", "error"),
    ]
    assert "Traceback" in failed[1]["exception"]
    assert "Zendesk said no" in failed[1]["exception"]
