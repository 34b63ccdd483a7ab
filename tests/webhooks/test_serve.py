"""`flask --app app serve` as a real process: signed events over HTTP flow into the inbox and
are picked up by its workers; oversized chunked bodies are refused; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from sqlalchemy import select

import store
from webhooks.signature import INVOCATION_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from .conftest import attempted, event_body, iso, run_service

SECRET = "serve-test-secret-1"


@pytest.fixture
def served(db_app: Flask) -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    env = {"CXLAYER_WEBHOOK_SECRETS": SECRET, "CXLAYER_WEBHOOK_MAX_BODY_BYTES": "4096"}
    with run_service(db_app, env) as running:
        yield running


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
    while time.monotonic() < deadline:
        with store.session(db_app) as sess:
            rows = list(sess.scalars(select(store.InboxEvent)))
        if rows and attempted(rows[0]):
            break
        time.sleep(0.1)
    [row] = rows
    assert row.ticket_id == 31
    assert attempted(row)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert process.stdout is not None
    rest = [
        json.loads(line)["event"]
        for line in lines + process.stdout.readlines()
        if line.startswith("{")
    ]
    assert {"workers started", "stopping", "workers stopped", "stopped"} <= set(rest)


@pytest.mark.integration
def test_110_half_open_connections_do_not_block_healthz_and_stalled_ones_are_closed(
    db_app: Flask,
) -> None:
    """The probe's slow clients: connections that send half a request and then nothing.
    (With waitress's defaults, 100 connections and 120 s, /healthz timed out.)"""
    env = {"CXLAYER_SERVICE_CHANNEL_TIMEOUT": "3"}
    with run_service(db_app, env) as (url, _process, _lines):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        stalled: list[socket.socket] = []
        try:
            for _ in range(110):
                conn = socket.create_connection((host, int(port)), timeout=10)
                conn.sendall(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Len")
                stalled.append(conn)
            assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
            # A stalled connection is closed by the server (after channel_timeout), not kept.
            conn = stalled[0]
            conn.settimeout(60)
            assert conn.recv(1024) == b""
        finally:
            for conn in stalled:
                conn.close()
