"""Fixtures for webhook tests: a migrated app with a signing secret, and signed requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

import store
from settings import ROOT
from store.testing import db_app, make_db_app, test_database_url
from webhooks.signature import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["db_app", "make_db_app", "test_database_url"]

SECRET = "provisioned-secret-0001"
ROTATED_SECRET = "rotated-secret-0002"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(
    kind: str = "status_changed", ticket_id: Any = "101", **fields: Any
) -> dict[str, Any]:
    """A body as the provisioned trigger renders it: placeholders arrive as strings."""
    body: dict[str, Any] = {
        "event": kind,
        "ticket_id": ticket_id,
        "status": "open",
        "custom_status_id": "9001",
        "updated_at": "2026-11-29T02:59:00Z",
        "requester_id": "555",
        "current_user_id": "777",
    }
    body.update(fields)
    return body


@pytest.fixture
def hook_app(make_db_app: Callable[..., Flask]) -> Flask:
    """A migrated app whose provisioning stored SECRET as the webhook signing secret."""
    app = make_db_app()
    with store.session(app) as sess:
        store.set_state(sess, store.WEBHOOK_SIGNING_SECRET, SECRET)
    return app


PostSigned = Callable[..., TestResponse]


@pytest.fixture
def post_signed(hook_app: Flask) -> PostSigned:
    """POST to /webhooks/zendesk signed like Zendesk does (override any part to break it)."""
    client = hook_app.test_client()

    def post(
        body: Any = None,
        *,
        raw: bytes | None = None,
        secret: str | None = SECRET,
        timestamp: str | None = None,
        invocation_id: str | None = "auto",
        content_type: str = "application/json",
        signature: str | None = None,
        app: Flask | None = None,
    ) -> TestResponse:
        # Each default body differs (as Zendesk's do): an identical signed body is a replay.
        default = event_body(extras={"request": str(uuid.uuid4())})
        data = raw if raw is not None else json.dumps(body or default).encode()
        stamp = timestamp if timestamp is not None else iso(store.utcnow())
        headers = {TIMESTAMP_HEADER: stamp}
        if secret is not None:
            headers[SIGNATURE_HEADER] = signature or sign(secret, stamp, data)
        if invocation_id == "auto":
            invocation_id = str(uuid.uuid4())
        if invocation_id is not None:
            headers[INVOCATION_HEADER] = invocation_id
        target = app.test_client() if app is not None else client
        return target.post(
            "/webhooks/zendesk", data=data, headers=headers, content_type=content_type
        )

    return post


def attempted(event: store.InboxEvent) -> bool:
    """A worker ran the handler on it and let go (done, or failed and rescheduled). Processes
    started from the command line run the app's real handler, which needs Zendesk settings
    these tests do not give, so "attempted" is what they can observe of the worker loop."""
    return event.attempts >= 1 and event.lease_owner is None


def _serving_url(process: subprocess.Popen[str], lines: list[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("{") and json.loads(line).get("event") == "serving":
            return str(json.loads(line)["url"])
    raise AssertionError("serve did not start:\n" + "".join(lines))


@contextmanager
def run_service(
    db_app: Flask, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    """`flask --app app serve --port 0` on db_app's database: (base URL, process, log lines)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "serve", "--port", "0"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "CXLAYER_DATABASE_URL": store.engine(db_app).url.render_as_string(False),
            "CXLAYER_LOGGING_LEVEL": "INFO",
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        yield _serving_url(process, lines), process, lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()
