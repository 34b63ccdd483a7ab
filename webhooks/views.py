"""`POST /webhooks/zendesk`: verify, validate, store in the inbox, acknowledge. Nothing else.

Checks run cheapest-and-safest first: body size (413) before reading it, the signature (401)
before looking inside it, then content type (415), JSON and fields (400, the field named). A
request refused at any step stores nothing, and no signed body, however odd, gets a 5xx: Zendesk
retries those. A valid event is answered 202; a redelivery (same invocation id), a replay (the
same signed timestamp and body under another invocation id) and a kind nobody handles are
answered 200 so Zendesk stops retrying them. With the database down, a bad signature is still
401 (checked against the secrets last read); a good one gets 503, which Zendesk retries.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import structlog
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import store
from logs import get_logger
from triggers.model import EVENT_KINDS
from webhooks.inbox import add_event
from webhooks.schema import EventSchema
from webhooks.signature import (
    INVOCATION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_ID_HEADER,
    body_digest,
    signature_matches,
    timestamp_problem,
)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = get_logger("cxlayer.webhooks")
schema = EventSchema()

DEFAULT_MAX_BODY_BYTES = 262_144
DEFAULT_MAX_AGE_SECONDS = 300
DEFAULT_MAX_SKEW_SECONDS = 60
DEFAULT_SECRET_CACHE_SECONDS = 5.0
SECRET_CACHE_EXTENSION = "cxlayer.webhook_secret_cache"  # noqa: S105 - a key name

# Response texts (for Zendesk's webhook activity log and for operators testing by hand).
BODY_TOO_LARGE = "body too large"
UNSUPPORTED_TYPE = "content type must be application/json"
BAD_SIGNATURE = "missing or invalid signature"
MISSING_INVOCATION_ID = f"missing or overlong {INVOCATION_HEADER} header"
MAX_ID_LENGTH = 200  # the inbox's invocation_id / webhook_id columns
MALFORMED_JSON = "body is not valid JSON"
INVALID_FIELDS = "invalid event fields"
UNSTORABLE = "body holds a value that cannot be stored"
DATABASE_UNAVAILABLE = "database unavailable; retry later"
MAX_DEPTH = 32  # nesting of JSON objects and arrays; triggers send a flat object


def webhook_settings(app: Flask) -> dict[str, Any]:
    section: dict[str, Any] = app.config["CXLAYER"].get("webhook", {})
    return section


def valid_secrets(app: Flask, *, fresh: bool = False) -> list[str]:
    """Every secret a signature may use: provisioning's (state) and CXLAYER_WEBHOOK_SECRETS.

    The stored one is cached for [webhook] secret_cache_seconds (5) to spare a database read
    per request; callers ask again with fresh=True before refusing a signature, so a secret
    provisioning has just rotated is accepted at once.
    """
    ttl = float(webhook_settings(app).get("secret_cache_seconds", DEFAULT_SECRET_CACHE_SECONDS))
    cached = app.extensions.get(SECRET_CACHE_EXTENSION)
    now = time.monotonic()
    if fresh or cached is None or now - cached[0] > ttl:
        try:
            with store.session(app, readonly=True) as sess:
                stored = store.get_state(sess, store.WEBHOOK_SIGNING_SECRET)
        except SQLAlchemyError:
            # Database down: judge signatures by the secrets last read (a forged request is
            # still 401); a valid one then meets the database again when it is stored.
            log.warning("signing secret unreadable; using the last one read", exc_info=True)
            stored = cached[1] if cached else None
        cached = (now, str(stored) if stored else None)
        app.extensions[SECRET_CACHE_EXTENSION] = cached
    secrets = [str(s) for s in webhook_settings(app).get("secrets", []) if s]
    return [cached[1], *secrets] if cached[1] else secrets


@dataclass(frozen=True)
class _Outcome:
    status: int
    outcome: str
    fields: dict[str, Any]

    @property
    def reason(self) -> str | None:
        reason = self.fields.get("reason")
        return str(reason) if reason is not None else None


def _outcome(status: int, outcome: str, **fields: Any) -> _Outcome:
    return _Outcome(status, outcome, fields)


def _answer(result: _Outcome, started: float) -> Response:
    """Log the one summary line of this webhook and build the response."""
    log.info(
        "webhook",
        outcome=result.outcome,
        http_status=result.status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        **{k: v for k, v in result.fields.items() if k in ("kind", "inbox_id", "reason")},
    )
    response = jsonify(**{"status": result.outcome, **result.fields})
    response.status_code = result.status
    return response


def _read_body(limit: int) -> bytes | None:
    """The raw body, or None when it is over `limit` (never reads more than limit + 1 bytes)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while size <= limit:  # a stream may return fewer bytes than asked: read until EOF
        chunk = request.stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


@bp.post("/zendesk")
def receive_zendesk() -> Response:
    started = time.perf_counter()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = webhook_settings(app)
    invocation_id = request.headers.get(INVOCATION_HEADER, "").strip()
    # ticket_id is bound once the body is validated; listing it here unbinds it at the end.
    with structlog.contextvars.bound_contextvars(
        invocation_id=invocation_id or None, ticket_id=None
    ):
        body = _read_body(int(settings.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)))
        if body is None:
            return _answer(_outcome(413, "rejected", reason=BODY_TOO_LARGE), started)
        # Verify and validate outside any write transaction; hold the write lock (SQLite)
        # only for the insert itself.
        result = _verify(body, invocation_id, valid_secrets(app), settings)
        if isinstance(result, _Outcome) and result.reason == BAD_SIGNATURE:
            result = _verify(body, invocation_id, valid_secrets(app, fresh=True), settings)
        if isinstance(result, _Valid):
            try:
                with store.session(app) as sess:
                    result = _store(sess, invocation_id, result)
            except SQLAlchemyError:
                log.exception("inbox unavailable")
                result = _outcome(503, "unavailable", reason=DATABASE_UNAVAILABLE)
        # Logged after the commit, so "accepted" means stored.
        return _answer(result, started)


@dataclass(frozen=True)
class _Valid:
    raw: Any
    data: dict[str, Any]
    digest: str


def _verify(
    body: bytes, invocation_id: str, secrets: list[str], settings: dict[str, Any]
) -> _Outcome | _Valid:
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not (timestamp and signature and signature_matches(secrets, timestamp, body, signature)):
        return _outcome(401, "rejected", reason=BAD_SIGNATURE)
    stale = timestamp_problem(
        timestamp,
        store.utcnow(),
        float(settings.get("max_age_seconds", DEFAULT_MAX_AGE_SECONDS)),
        float(settings.get("max_skew_seconds", DEFAULT_MAX_SKEW_SECONDS)),
    )
    if stale:
        return _outcome(401, "rejected", reason=stale)

    if request.mimetype != "application/json":
        return _outcome(415, "rejected", reason=UNSUPPORTED_TYPE)
    if not invocation_id or len(invocation_id) > MAX_ID_LENGTH:
        return _outcome(400, "rejected", reason=MISSING_INVOCATION_ID)
    try:
        raw = json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _outcome(400, "rejected", reason=MALFORMED_JSON)
    problem = unstorable(raw)
    if problem:
        return _outcome(400, "rejected", reason=UNSTORABLE, errors={problem[0]: [problem[1]]})
    try:
        data = schema.load(raw)
    except ValidationError as exc:
        return _outcome(400, "rejected", reason=INVALID_FIELDS, errors=exc.messages)
    return _Valid(raw, data, body_digest(timestamp, body))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def unstorable(value: Any) -> tuple[str, str] | None:
    """(field path, problem) for the first value no database column or JSON can hold, or None:
    nesting deeper than MAX_DEPTH, a number that overflowed to infinity, a NUL character or an
    unpaired surrogate in a string or key (PostgreSQL refuses both)."""
    stack: list[tuple[Any, str, int]] = [(value, "body", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, float) and not math.isfinite(item):
            return path, "number out of range"
        problem = _string_problem(item) if isinstance(item, str) else None
        if problem:
            return path, problem
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = key if depth == 0 else f"{path}.{key}"
                if _string_problem(key):
                    return child_path.encode("ascii", "backslashreplace").decode(), "bad key"
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate"
    return None


def _store(sess: Session, invocation_id: str, valid: _Valid) -> _Outcome:
    kind = valid.data["event"]
    known = kind in EVENT_KINDS
    structlog.contextvars.bind_contextvars(ticket_id=valid.data["ticket_id"])
    inbox_id = add_event(
        sess,
        invocation_id=invocation_id,
        webhook_id=request.headers.get(WEBHOOK_ID_HEADER, "")[:MAX_ID_LENGTH] or None,
        data=valid.data,
        payload=valid.raw,
        ignored=not known,
        signature_digest=valid.digest,
    )
    if inbox_id is None:
        return _outcome(200, "duplicate", kind=kind)
    if not known:
        return _outcome(200, "ignored", kind=kind, inbox_id=inbox_id)
    return _outcome(202, "accepted", kind=kind, inbox_id=inbox_id)
