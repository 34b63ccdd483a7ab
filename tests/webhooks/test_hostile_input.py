"""The probe's hostile requests: replays under new invocation ids, signed but odd values, a
fuzz over the endpoint, and the database down. None may get a 5xx (Zendesk retries those) or
store anything unless it is a valid event."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import store
from app import create_app
from webhooks import views
from webhooks.signature import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from .conftest import SECRET, PostSigned, event_body, iso


def stored(app: Flask) -> int:
    with store.session(app, readonly=True) as sess:
        return int(sess.scalar(select(func.count()).select_from(store.InboxEvent)) or 0)


def test_one_signed_request_replayed_with_new_invocation_ids_is_stored_once(
    hook_app: Flask, post_signed: PostSigned
) -> None:
    raw = json.dumps(event_body()).encode()
    signed_at = store.utcnow()
    stamp = iso(signed_at)
    answers = [post_signed(raw=raw, timestamp=stamp).status_code for _ in range(20)]
    assert answers == [202] + [200] * 19
    assert stored(hook_app) == 1
    # The same body signed at another moment is another delivery (a genuine new event).
    earlier = iso(signed_at - timedelta(seconds=10))
    assert post_signed(raw=raw, timestamp=earlier).status_code == 202
    assert stored(hook_app) == 2


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[" * 1000 + b"]" * 1000, None),  # nesting: not JSON we accept (RecursionError)
        (json.dumps(event_body(extras={"a": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]})), None),
        (b'{"event": "status_changed", "ticket_id": NaN}', None),
        (b'{"event": "status_changed", "ticket_id": 1e400}', "ticket_id"),
        (json.dumps(event_body(event="status\u0000changed")).encode(), "event"),
        (b'{"event": "status_changed", "ticket_id": "1", "x": "\\ud800"}', "x"),
    ],
    ids=["deep-array", "deep-extras", "nan", "overflowing-number", "nul", "lone-surrogate"],
)
def test_odd_signed_bodies_are_400_naming_the_field_and_store_nothing(
    hook_app: Flask, post_signed: PostSigned, raw: bytes | str, field: str | None
) -> None:
    data = raw.encode() if isinstance(raw, str) else raw
    if data.count(b"[") > 10 and data.startswith(b"{"):  # deep-extras: nest past the limit
        data = data.replace(b"[1]", b"[" * 40 + b"1" + b"]" * 40)
    response = post_signed(raw=data)
    assert response.status_code == 400, response.json
    assert response.json is not None
    if field is not None:
        assert field in response.json["errors"], response.json
    assert stored(hook_app) == 0


@pytest.mark.parametrize(
    "stamp",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9" * 40, "2026-13-45T99:99:99Z"],
)
def test_odd_signature_timestamps_are_401_not_5xx(post_signed: PostSigned, stamp: str) -> None:
    assert post_signed(timestamp=stamp).status_code == 401


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("updated_at", "Nov 29 2026 at 03:00"),  # another format
        ("updated_at", "9999-12-31T23:59:59-23:59"),  # overflows when made UTC
        ("updated_at", 12),
        ("status", "x" * 500),
        ("custom_status_id", 2**80),
        ("requester_id", "someone"),
        ("extras", [1, 2]),
    ],
)
def test_informational_fields_that_do_not_parse_never_refuse_the_event(
    hook_app: Flask, post_signed: PostSigned, name: str, value: Any
) -> None:
    body = event_body(**{name: value})
    assert post_signed(body).status_code == 202
    with store.session(hook_app, readonly=True) as sess:
        row = sess.scalars(select(store.InboxEvent)).one()
    assert row.payload[name] == value  # the raw body keeps what was sent
    if name == "updated_at":
        assert row.occurred_at is None


# Values a trigger or an attacker holding the secret might put in a field.
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "0", "-1", str(2**63), "1e3", "2026-11-29T03:00:00Z", "status_changed"]
    ),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=8), children, max_size=4
    )


JSONISH = st.recursive(ODD, _containers, max_leaves=12)
FIELDS = (
    "event",
    "ticket_id",
    "status",
    "custom_status_id",
    "updated_at",
    "requester_id",
    "current_user_id",
    "extras",
)
BODIES = st.one_of(
    JSONISH,
    st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, JSONISH)),
    st.fixed_dictionaries(
        {"event": st.sampled_from(["status_changed", "ticket_created", "comment_added"])},
        optional=dict.fromkeys(FIELDS[1:], ODD),
    ),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
def test_fuzz_signed_bodies_never_get_a_5xx_and_invalid_ones_store_nothing(
    hook_app: Flask, body: Any
) -> None:
    client = hook_app.test_client()
    raw = json.dumps(body).encode()
    stamp = iso(store.utcnow())
    before = stored(hook_app)
    response = client.post(
        "/webhooks/zendesk",
        data=raw,
        content_type="application/json",
        headers={
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(SECRET, stamp, raw),
            INVOCATION_HEADER: str(uuid.uuid4()),
        },
    )
    assert response.status_code in (200, 202, 400), (response.status_code, response.json)
    if response.status_code == 400:
        assert stored(hook_app) == before
    elif response.json and response.json["status"] != "duplicate":
        assert stored(hook_app) == before + 1


def test_with_the_database_down_a_bad_signature_is_401_and_a_good_one_503() -> None:
    secret = "environment-secret"
    # An app on a database nobody listens for.
    broken = create_app(
        {
            "ENVIRON": {
                "CXLAYER_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
                "CXLAYER_WEBHOOK_SECRETS": secret,
            },
            "TESTING": True,
        }
    )
    client = broken.test_client()
    raw = json.dumps(event_body()).encode()
    stamp = iso(store.utcnow())
    headers = {TIMESTAMP_HEADER: stamp, INVOCATION_HEADER: "inv-db-down"}
    forged = client.post(
        "/webhooks/zendesk",
        data=raw,
        content_type="application/json",
        headers={**headers, SIGNATURE_HEADER: sign("guess", stamp, raw)},
    )
    assert forged.status_code == 401
    genuine = client.post(
        "/webhooks/zendesk",
        data=raw,
        content_type="application/json",
        headers={**headers, SIGNATURE_HEADER: sign(secret, stamp, raw)},
    )
    assert genuine.status_code == 503
    assert genuine.json is not None and genuine.json["reason"] == views.DATABASE_UNAVAILABLE
