"""Helpers for other areas' tests and benchmarks: start a sandbox, point zenpy at it, control it.

    from sandbox.testing import run_sandbox, zenpy_client
    with run_sandbox(seed="demo") as zd:
        client = zenpy_client(zd)

Pytest fixtures `sandbox` (fresh per test) and `sandbox_zenpy` are importable from here:
`from sandbox.testing import sandbox, sandbox_zenpy  # noqa: F401` in a conftest.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from zenpy import Zenpy

from sandbox.account import ADMIN_EMAIL, API_TOKEN, OAUTH_TOKEN, SUBDOMAIN
from sandbox.core import Sandbox
from sandbox.seed import DEMO_SIZE, seed_account
from sandbox.server import SandboxServer


@dataclass
class SandboxHandle:
    """A running sandbox and its controls (all over HTTP, so it works for subprocesses too)."""

    base_url: str
    email: str = ADMIN_EMAIL
    token: str = API_TOKEN
    oauth_token: str = OAUTH_TOKEN
    subdomain: str = SUBDOMAIN
    server: SandboxServer | None = None
    process: subprocess.Popen[str] | None = None
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def auth(self) -> tuple[str, str]:
        """Basic auth for `requests`: ("admin@example.com/token", "sandbox-token")."""
        return (f"{self.email}/token", self.token)

    @property
    def netloc(self) -> str:
        """For ZENPY_FORCE_NETLOC."""
        return urlsplit(self.base_url).netloc

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An authenticated request to `/api/v2/...` (path with or without the prefix)."""
        if not path.startswith("/api/"):
            path = "/api/v2/" + path.lstrip("/")
        return self.http.request(method, self.base_url + path, auth=self.auth, timeout=30, **kwargs)

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method, self.base_url + "/sandbox/" + path, timeout=300, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """{"total": n, "endpoints": {"GET /api/v2/tickets/<int:ticket_id>": n, ...}, "statuses": {...}}"""
        result: dict[str, Any] = self._admin("GET", "stats")
        return result

    def reset_stats(self) -> None:
        self._admin("POST", "stats/reset")

    def set_faults(
        self,
        *,
        error_rate: float = 0.0,
        status: int = 503,
        latency_ms: int = 0,
        drop_rate: float = 0.0,
        paths: list[str] | None = None,
        random_seed: int | None = None,
        methods: list[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer a share of /api requests with `status`, add latency, or drop connections.
        `paths` limits faults to requests whose path starts with one of them, `methods` to
        those HTTP methods; `times` stops the injected errors after that many."""
        self._admin(
            "POST",
            "faults",
            json={
                "error_rate": error_rate,
                "status": status,
                "latency_ms": latency_ms,
                "drop_rate": drop_rate,
                "paths": paths or [],
                "random_seed": random_seed,
                "methods": methods or [],
                "times": times,
            },
        )

    def clear_faults(self) -> None:
        self._admin("DELETE", "faults")

    def set_limits(self, *, rpm: int | None = None, ticket_update_limit: int | None = None) -> None:
        payload: dict[str, Any] = {}
        if rpm is not None:
            payload["rpm"] = rpm
        if ticket_update_limit is not None:
            payload["ticket_update_limit"] = ticket_update_limit
        self._admin("POST", "limits", json=payload)

    def pause_jobs(self, paused: bool = True) -> None:
        """Keep background jobs `queued` until `pause_jobs(False)`."""
        self._admin("POST", "jobs", json={"paused": paused})

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock forward (timestamps, relative search dates)."""
        self._admin("POST", "clock", json={"advance_seconds": seconds})

    def seed(self, size: int = DEMO_SIZE, random_seed: int = 1) -> dict[str, Any]:
        result: dict[str, Any] = self._admin(
            "POST", "seed", json={"size": size, "random_seed": random_seed}
        )
        return result

    def deliveries(self, wait: float = 0.0) -> list[dict[str, Any]]:
        """Webhook invocations so far; `wait` > 0 first waits (up to that many seconds) until
        none is queued or in flight."""
        params = {"wait": str(wait)} if wait else None
        result: list[dict[str, Any]] = self._admin("GET", "webhooks", params=params)["deliveries"]
        return result

    def set_webhook_delivery(
        self, *, backoff_seconds: float | None = None, timeout_seconds: float | None = None
    ) -> None:
        payload: dict[str, Any] = {}
        if backoff_seconds is not None:
            payload["backoff_seconds"] = backoff_seconds
        if timeout_seconds is not None:
            payload["timeout_seconds"] = timeout_seconds
        self._admin("POST", "webhooks", json=payload)

    def wait_job(self, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll a job status until it is completed or failed."""
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.api("GET", f"job_statuses/{job_id}.json").json()[
                "job_status"
            ]
            if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
                return job
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_sandbox(
    *, rpm: int = 100000, seed: str | int | None = None, db: str | None = None, random_seed: int = 1
) -> Iterator[SandboxHandle]:
    """A sandbox on 127.0.0.1 and a free port, served from a background thread of this process.
    `seed="demo"` seeds the demo account; an int seeds that many tickets."""
    core = Sandbox(db, rpm=rpm)
    if seed is not None and seed != "none":
        seed_account(core.account, DEMO_SIZE if seed == "demo" else int(seed), random_seed)
    server = SandboxServer(core).start()
    handle = SandboxHandle(base_url=server.base_url, server=server)
    try:
        yield handle
    finally:
        handle.http.close()
        server.stop()


@contextmanager
def run_sandbox_process(
    *, rpm: int = 100000, seed: str = "none", db: str | None = None, startup_timeout: float = 30.0
) -> Iterator[SandboxHandle]:
    """`python -m sandbox` as a real subprocess (for tests of processes and signals)."""
    port = free_port()
    cmd = [sys.executable, "-m", "sandbox", "--port", str(port), "--seed", seed, "--rpm", str(rpm)]
    if db:
        cmd += ["--db", db]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module, fixed arguments
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=root
    )
    handle = SandboxHandle(base_url=f"http://127.0.0.1:{port}", process=process)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                handle.http.get(handle.base_url + "/sandbox/stats", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    raise RuntimeError(f"sandbox did not start: {output}") from None
                time.sleep(0.05)
        yield handle
    finally:
        handle.http.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()


class _SandboxAdapter(HTTPAdapter):
    """Connects https://<subdomain>.zendesk.com/... requests to the sandbox while keeping the
    Zendesk URL and Host: zenpy matches responses by host, and the sandbox then writes its
    pagination links on the Zendesk address, exactly as a real account would."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._target = urlsplit(base_url)

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        original = str(request.url)
        parts = urlsplit(original)
        request.url = urlunsplit(
            (self._target.scheme, self._target.netloc, parts.path, parts.query, "")
        )
        request.headers["Host"] = parts.netloc
        request.headers["X-Forwarded-Proto"] = parts.scheme
        try:
            response = super().send(request, *args, **kwargs)
        finally:
            request.url = original
        response.url = original
        return response


def zenpy_client(handle: SandboxHandle, **kwargs: Any) -> Any:
    """A real Zenpy client talking to the sandbox, without ZENPY_FORCE_* environment variables.
    Zenpy sets Basic auth (`email/token`) on the session it is given."""
    session = requests.Session()
    session.mount(f"https://{handle.subdomain}.zendesk.com/", _SandboxAdapter(handle.base_url))
    return Zenpy(
        subdomain=handle.subdomain,
        email=handle.email,
        token=handle.token,
        session=session,
        **kwargs,
    )


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    """A fresh, empty sandbox (admin user and default statuses only) for one test."""
    with run_sandbox() as handle:
        yield handle


@pytest.fixture
def sandbox_zenpy(sandbox: SandboxHandle) -> Any:
    """A Zenpy client on the test's fresh sandbox."""
    return zenpy_client(sandbox)
