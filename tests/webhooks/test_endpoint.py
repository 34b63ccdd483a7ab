"""POST /webhooks/zendesk: signatures, replay window, body checks, inbox writes, logging."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

import store
from logs import configure_logging
from webhooks import inbox, views
from webhooks.signature import sign, signature_matches, timestamp_problem

from .conftest import ROTATED_SECRET, SECRET, PostSigned, event_body, iso

NOT_AN_ID = "Not a valid id (an integer from 1 to 2^63-1)."


def inbox_rows(app: Flask) -> list[store.InboxEvent]:
    with store.session(app) as sess:
        return list(sess.scalars(select(store.InboxEvent).order_by(store.InboxEvent.id)))


def test_valid_event_is_stored_pending_with_coerced_fields_and_answered_202(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    response = post_signed(event_body(ticket_id="101"), invocation_id="inv-1")
    assert response.status_code == 202
    assert response.json == {"status": "accepted", "kind": "status_changed", "inbox_id": 1}
    [row] = inbox_rows(hook_app)
    assert (row.invocation_id, row.ticket_id, row.kind, row.status) == (
        "inv-1",
        101,
        "status_changed",
        store.PENDING,
    )
    assert row.actor_id == 777
    assert row.occurred_at == datetime(2026, 11, 29, 2, 59, tzinfo=UTC)
    assert row.payload == event_body(ticket_id="101")
    assert row.attempts == 0


def test_missing_signature_is_401_and_stores_nothing(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    response = post_signed(secret=None)
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["reason"] == views.BAD_SIGNATURE
    assert inbox_rows(hook_app) == []


@pytest.mark.parametrize(
    "breakage",
    [
        {"secret": "not-the-secret"},
        {"signature": "AAAA"},
        {"signature": "not base64 at all ✓"},
        {"raw": b'{"event": "status_changed", "ticket_id": "102"}', "signature": "tampered"},
    ],
    ids=["wrong-secret", "wrong-signature", "garbage-signature", "tampered"],
)
def test_wrong_signature_is_401_and_stores_nothing(
    hook_app: Flask, post_signed: PostSigned, breakage: dict[str, Any]
) -> None:
    assert post_signed(**breakage).status_code == 401
    assert inbox_rows(hook_app) == []


def test_body_changed_after_signing_is_401(hook_app: Flask, post_signed: PostSigned) -> None:
    stamp = iso(store.utcnow())
    signed_for = json.dumps(event_body(ticket_id="1")).encode()
    response = post_signed(
        raw=json.dumps(event_body(ticket_id="2")).encode(),
        timestamp=stamp,
        signature=sign(SECRET, stamp, signed_for),
    )
    assert response.status_code == 401
    assert inbox_rows(hook_app) == []


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        # Timestamps have whole seconds: keep two seconds of margin around the limits.
        (timedelta(seconds=-302), 401),  # replayed: older than max_age_seconds (300)
        (timedelta(seconds=-290), 202),
        (timedelta(seconds=50), 202),  # clock skew tolerated
        (timedelta(seconds=62), 401),  # further ahead than max_skew_seconds (60)
    ],
)
def test_signature_timestamps_outside_the_window_are_401(
    hook_app: Flask, post_signed: PostSigned, offset: timedelta, expected: int
) -> None:
    response = post_signed(timestamp=iso(store.utcnow() + offset))
    assert response.status_code == expected
    assert len(inbox_rows(hook_app)) == (1 if expected == 202 else 0)


def test_unreadable_timestamp_is_401(hook_app: Flask, post_signed: PostSigned) -> None:
    assert post_signed(timestamp="yesterday").status_code == 401
    assert post_signed(timestamp="").status_code == 401
    assert inbox_rows(hook_app) == []


def test_secrets_from_the_environment_are_valid_beside_the_provisioned_one(
    make_db_app: Callable[..., Flask], post_signed: PostSigned
) -> None:
    """Rotation: CXLAYER_WEBHOOK_SECRETS (comma-separated) and the stored secret both verify."""
    app = make_db_app(ENVIRON={"CXLAYER_WEBHOOK_SECRETS": f"{ROTATED_SECRET}, another-one-03"})
    with store.session(app) as sess:
        store.set_state(sess, store.WEBHOOK_SIGNING_SECRET, SECRET)
    assert post_signed(secret=SECRET, app=app).status_code == 202
    assert post_signed(secret=ROTATED_SECRET, app=app).status_code == 202
    assert post_signed(secret="another-one-03", app=app).status_code == 202
    assert post_signed(secret="retired-secret", app=app).status_code == 401
    assert len(inbox_rows(app)) == 3


def test_without_any_configured_secret_everything_is_401(
    make_db_app: Callable[..., Flask], post_signed: PostSigned
) -> None:
    app = make_db_app()
    with store.session(app) as sess:
        store.delete_state(sess, store.WEBHOOK_SIGNING_SECRET)
    assert post_signed(app=app).status_code == 401
    assert post_signed(secret="", app=app).status_code == 401


def test_non_json_content_type_is_415_and_stores_nothing(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    response = post_signed(content_type="text/plain")
    assert response.status_code == 415
    assert response.json is not None
    assert response.json["reason"] == views.UNSUPPORTED_TYPE
    assert inbox_rows(hook_app) == []


def test_body_over_the_limit_is_413_and_stores_nothing(
    make_db_app: Callable[..., Flask], post_signed: PostSigned
) -> None:
    app = make_db_app(SETTINGS={"webhook": {"max_body_bytes": 2048}})
    with store.session(app) as sess:
        store.set_state(sess, store.WEBHOOK_SIGNING_SECRET, SECRET)
    big = event_body(extras={"padding": "x" * 2048})
    response = post_signed(big, app=app)
    assert response.status_code == 413
    assert response.json is not None
    assert response.json["reason"] == views.BODY_TOO_LARGE
    assert post_signed(event_body(extras={"padding": "x" * 1500}), app=app).status_code == 202
    assert len(inbox_rows(app)) == 1


def test_default_limit_is_256_kib(hook_app: Flask, post_signed: PostSigned) -> None:
    over = event_body(extras={"padding": "x" * 262_144})
    assert post_signed(over).status_code == 413
    assert inbox_rows(hook_app) == []


def test_malformed_json_is_400_and_stores_nothing(hook_app: Flask, post_signed: PostSigned) -> None:
    response = post_signed(raw=b'{"event": "status_changed", ')
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["reason"] == views.MALFORMED_JSON
    assert inbox_rows(hook_app) == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (event_body(ticket_id="abc"), {"ticket_id": [NOT_AN_ID]}),
        (event_body(ticket_id=""), {"ticket_id": ["Missing data for required field."]}),
        (event_body(ticket_id=2**70), {"ticket_id": [NOT_AN_ID]}),
        (event_body(ticket_id=str(2**63)), {"ticket_id": [NOT_AN_ID]}),
        (event_body(ticket_id=1.5), {"ticket_id": [NOT_AN_ID]}),
        (event_body(ticket_id=True), {"ticket_id": [NOT_AN_ID]}),
        (event_body(current_user_id="-3"), {"current_user_id": [NOT_AN_ID]}),
        (event_body(ticket_id="\u0661"), {"ticket_id": [NOT_AN_ID]}),
        (event_body(ticket_id="1_0"), {"ticket_id": [NOT_AN_ID]}),
        (event_body(ticket_id=" +7"), {"ticket_id": [NOT_AN_ID]}),
        ({"ticket_id": "1"}, {"event": ["Missing data for required field."]}),
        ([1, 2], {"_schema": ["Invalid input type."]}),
    ],
    ids=[
        "non-integer-id",
        "empty-id",
        "id-beyond-64-bits",
        "id-string-beyond-64-bits",
        "fractional-id",
        "boolean-id",
        "negative-actor",
        "arabic-indic-digit-id",
        "underscored-id",
        "signed-padded-id",
        "no-kind",
        "not-an-object",
    ],
)
def test_invalid_fields_are_400_with_field_errors_and_store_nothing(
    hook_app: Flask, post_signed: PostSigned, body: Any, errors: dict[str, list[str]]
) -> None:
    response = post_signed(raw=json.dumps(body).encode())
    assert response.status_code == 400
    assert response.json == {
        "status": "rejected",
        "reason": views.INVALID_FIELDS,
        "errors": errors,
    }
    assert inbox_rows(hook_app) == []


@pytest.mark.parametrize("invocation_id", [None, "  ", "x" * 201])
def test_missing_or_overlong_invocation_id_is_400(
    hook_app: Flask, post_signed: PostSigned, invocation_id: str | None
) -> None:
    response = post_signed(invocation_id=invocation_id)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["reason"] == views.MISSING_INVOCATION_ID
    assert inbox_rows(hook_app) == []


def test_empty_placeholders_mean_absent(hook_app: Flask, post_signed: PostSigned) -> None:
    body = event_body(current_user_id="", custom_status_id=" ", updated_at="", status="Hold")
    assert post_signed(body).status_code == 202
    [row] = inbox_rows(hook_app)
    assert (row.actor_id, row.occurred_at) == (None, None)


def test_redelivery_is_answered_200_and_stored_once(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    first = post_signed(invocation_id="same-invocation")
    again = post_signed(invocation_id="same-invocation")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json == {"status": "duplicate", "kind": "status_changed"}
    assert len(inbox_rows(hook_app)) == 1


def test_unknown_kinds_are_stored_as_ignored_and_answered_200(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    response = post_signed({"event": "ticket_merged_somehow"})
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["status"] == "ignored"
    [row] = inbox_rows(hook_app)
    assert (row.status, row.ticket_id, row.kind) == (store.IGNORED, None, "ticket_merged_somehow")
    with store.session(hook_app) as sess:
        claimed = inbox.claim(sess, "w", 60, inbox.RetryPolicy())
    assert claimed is None


def test_one_summary_log_line_with_ids_and_no_secrets(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", [SECRET], stream=stream)
    try:
        stamp = iso(store.utcnow())
        data = json.dumps(event_body(ticket_id="4242")).encode()
        signature = sign(SECRET, stamp, data)
        response = post_signed(raw=data, timestamp=stamp, invocation_id="inv-log")
        rejected = post_signed(raw=data, signature="forged-signature-value")
    finally:
        configure_logging("WARNING")
    assert (response.status_code, rejected.status_code) == (202, 401)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    summaries = [line for line in lines if line["event"] == "webhook"]
    assert len(summaries) == 2
    accepted = summaries[0]
    assert accepted["invocation_id"] == "inv-log"
    assert accepted["ticket_id"] == 4242
    assert accepted["outcome"] == "accepted"
    assert accepted["http_status"] == 202
    assert summaries[1]["outcome"] == "rejected"
    assert summaries[1]["ticket_id"] is None  # nothing leaks from the previous request
    text = stream.getvalue()
    for secret in (SECRET, signature, "forged-signature-value"):
        assert secret not in text


def test_signature_helpers_try_every_secret() -> None:
    stamp, body = "2026-11-29T03:00:00Z", b"{}"
    signature = sign("second", stamp, body)
    assert signature_matches(["first", "second"], stamp, body, signature)
    assert not signature_matches(["first", ""], stamp, body, signature)
    now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert timestamp_problem("1795921200", now, 300, 60) is None  # Unix seconds accepted
    assert timestamp_problem("2026-11-29T02:54:59Z", now, 300, 60) == (
        "signature timestamp too old (replay?)"
    )


def test_by_service_is_true_only_for_the_services_own_user(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    post_signed(event_body(current_user_id="777"), invocation_id="by-service")
    post_signed(event_body(current_user_id="778"), invocation_id="by-agent")
    with store.session(hook_app) as sess:
        unknown = store.get_state(sess, store.SERVICE_USER_ID)
        store.set_state(sess, store.SERVICE_USER_ID, 777)
    service_row, agent_row = inbox_rows(hook_app)
    assert unknown is None
    assert inbox.to_ticket_event(service_row, None).by_service is False
    service_event = inbox.to_ticket_event(service_row, 777)
    assert service_event.by_service is True
    assert (service_event.ticket_id, service_event.invocation_id) == (101, "by-service")
    assert inbox.to_ticket_event(agent_row, 777).by_service is False


def test_rejected_requests_never_touch_the_inbox_count(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    post_signed(secret=None)
    post_signed(content_type="text/plain")
    post_signed(raw=b"nope")
    with store.session(hook_app) as sess:
        assert sess.scalar(select(func.count()).select_from(store.InboxEvent)) == 0


@pytest.mark.parametrize(
    ("rendered", "category"),
    [("On-hold", "hold"), ("Pending", "pending"), ("Open", "open"), ("Abierto", "abierto")],
)
def test_status_titles_become_categories(rendered: str, category: str) -> None:
    """{{ticket.status}} renders a title; an unfamiliar (localised) one is kept, not refused."""
    loaded = views.schema.load(event_body(status=rendered))
    assert loaded["status"] == category


def test_a_secret_rotated_by_provisioning_is_accepted_at_once(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    """The stored secret is cached, but a signature that fails is checked against a fresh read."""
    assert post_signed(secret=SECRET).status_code == 202  # SECRET now cached
    with store.session(hook_app) as sess:
        store.set_state(sess, store.WEBHOOK_SIGNING_SECRET, "rotated-by-zendesk-99")
    assert post_signed(secret="rotated-by-zendesk-99").status_code == 202
    assert post_signed(secret=SECRET).status_code == 401  # the old one is gone with the refresh
    assert len(inbox_rows(hook_app)) == 2
