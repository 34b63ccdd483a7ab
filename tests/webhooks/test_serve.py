"""`flask --app app serve` as a real process: signed events over HTTP flow into the inbox and
are processed by its workers; oversized chunked bodies are refused; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from sqlalchemy import select

import store
from settings import ROOT
from webhooks.signature import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from .conftest import event_body, iso

SECRET = "serve-test-secret-1"


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


@pytest.fixture
def served(db_app: Flask) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CXLAYER_DATABASE_URL": store.engine(db_app).url.render_as_string(False),
        "CXLAYER_WEBHOOK_SECRETS": SECRET,
        "CXLAYER_WEBHOOK_MAX_BODY_BYTES": "4096",
        "CXLAYER_LOGGING_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
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


def _signed_headers(body: bytes) -> dict[str, str]:
    stamp = iso(store.utcnow())
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(SECRET, stamp, body),
        INVOCATION_HEADER: str(uuid.uuid4()),
    }


@pytest.mark.integration
def test_serve_accepts_processes_refuses_and_stops_cleanly(
    db_app: Flask, served: tuple[str, subprocess.Popen[str], list[str]]
) -> None:
    url, process, lines = served
    body = json.dumps(event_body(ticket_id="31")).encode()
    with requests.Session() as http:
        accepted = http.post(f"{url}/webhooks/zendesk", data=body, headers=_signed_headers(body))
        assert accepted.status_code == 202, accepted.text

        def chunks() -> Iterator[bytes]:
            yield b'{"event": "status_changed", "ticket_id": "32", "extras": {"pad": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}}'

        # No Content-Length (chunked): the limit is enforced on the bytes actually read.
        too_big = http.post(
            f"{url}/webhooks/zendesk", data=chunks(), headers=_signed_headers(b"unused")
        )
        assert too_big.status_code == 413
        unsigned = http.post(
            f"{url}/webhooks/zendesk", data=body, headers={"Content-Type": "application/json"}
        )
        assert unsigned.status_code == 401

    deadline = time.monotonic() + 60  # the embedded workers pick the event up
    status = None
    while time.monotonic() < deadline:
        with store.session(db_app) as sess:
            status = sess.scalar(
                select(store.InboxEvent.status).where(store.InboxEvent.ticket_id == 31)
            )
        if status == store.DONE:
            break
        time.sleep(0.1)
    assert status == store.DONE
    with store.session(db_app) as sess:
        assert sess.scalars(select(store.InboxEvent.ticket_id)).all() == [31]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert process.stdout is not None
    rest = [
        json.loads(line)["event"]
        for line in lines + process.stdout.readlines()
        if line.startswith("{")
    ]
    assert {"workers started", "stopping", "workers stopped", "stopped"} <= set(rest)
