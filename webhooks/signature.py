"""Zendesk webhook signatures: base64(HMAC-SHA256(secret, timestamp + raw body)), and replay checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
WEBHOOK_ID_HEADER = "X-Zendesk-Webhook-Id"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends for `body` at `timestamp` (as the header carries it)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(secrets: Iterable[str], timestamp: str, body: bytes, signature: str) -> bool:
    """True when any valid secret produced `signature` (constant-time, every secret tried)."""
    given = signature.encode("ascii", "replace")
    matched = False
    for secret in secrets:
        if secret:
            # No early exit: the time taken must not reveal which secret matched.
            matched |= hmac.compare_digest(sign(secret, timestamp, body).encode(), given)
    return matched


def parse_timestamp(raw: str) -> datetime | None:
    """Zendesk sends ISO 8601 ("2026-11-29T03:00:00Z"); Unix seconds are accepted too."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw), UTC)
        parsed = datetime.fromisoformat(raw)
        # An offset can push a date at the ends of the calendar out of it.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def body_digest(timestamp: str, body: bytes) -> str:
    """What a signature covers, hashed: the same signed request sent again has the same one,
    whatever its invocation id (replays inside the signature's window are duplicates)."""
    return hashlib.sha256(timestamp.encode() + b"\n" + body).hexdigest()


def timestamp_problem(
    raw: str, now: datetime, max_age_seconds: float, max_skew_seconds: float
) -> str | None:
    """Why a signature timestamp is unacceptable (replayed, from the future), or None."""
    stamp = parse_timestamp(raw)
    if stamp is None:
        return "unreadable signature timestamp"
    if stamp < now - timedelta(seconds=max_age_seconds):
        return "signature timestamp too old (replay?)"
    if stamp > now + timedelta(seconds=max_skew_seconds):
        return "signature timestamp in the future"
    return None
