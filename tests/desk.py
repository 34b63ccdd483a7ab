"""What the sandbox-backed test desks share: the app's settings for a sandbox, a client that
polls jobs quickly, people, and reading tickets back the way an agent would see them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from demo.launcher import SANDBOX_EMAIL, SANDBOX_TOKEN
from mappings import Mappings
from sandbox.testing import SandboxHandle, free_port
from settings import ROOT
from sync import DbStateStore, ZendeskClient
from sync.snapshot import Provisioned
from webhooks.worker import process_one


def sandbox_settings(zd: SandboxHandle, public_url: str | None = None) -> dict[str, Any]:
    """[zendesk] pointing at the sandbox; [service] public_url when webhooks need a target."""
    settings: dict[str, Any] = {
        "zendesk": {
            "subdomain": zd.subdomain,
            "url": zd.base_url,
            "email": zd.email,
            "token": zd.token,
        },
    }
    if public_url is not None:
        settings["service"] = {"public_url": public_url}
    return settings


def fast_client(app: Flask, mappings: Mappings) -> ZendeskClient:
    """The app's client, polling job statuses every few milliseconds (tests wait on jobs)."""
    return ZendeskClient.from_settings(
        app.config["CXLAYER"],
        DbStateStore(app),
        mappings=mappings,
        poll_initial_seconds=0.01,
        poll_max_seconds=0.05,
    )


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app answering on a free loopback port in a thread: the target of the sandbox's
    signed webhooks (provisioning points them at the URL this yields)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="cxlayer-test", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def process_events(app: Flask, zd: SandboxHandle, worker: str, rounds: int = 6) -> int:
    """Wait for the sandbox's webhooks, then let a worker process the inbox; repeat while the
    service's own updates fire more. Returns the events processed."""
    processed = 0
    for _ in range(rounds):
        zd.deliveries(wait=30)
        handled = 0
        while process_one(app, worker) is not None:
            handled += 1
        processed += handled
        if handled == 0:
            return processed
    return processed


def create_user(zd: SandboxHandle, name: str, email: str, role: str) -> int:
    response = zd.api(
        "POST", "users.json", json={"user": {"name": name, "email": email, "role": role}}
    )
    response.raise_for_status()
    return int(response.json()["user"]["id"])


def writes(stats: dict[str, Any]) -> dict[str, int]:
    """Non-GET API endpoints with their counts, from the sandbox's request stats (webhook
    deliveries to the sandbox's own address show up as `<unmatched>` and are not API calls)."""
    return {
        k: v for k, v in stats["endpoints"].items() if not k.startswith("GET ") and "/api/" in k
    }


@dataclass
class TicketReader:
    """Reads tickets back from the sandbox as the admin; the base of the test desks."""

    zd: SandboxHandle
    provisioned: Provisioned
    service_id: int  # cxlayer's API user

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        response = self.zd.api("GET", f"tickets/{ticket_id}.json")
        response.raise_for_status()
        ticket: dict[str, Any] = response.json()["ticket"]
        return ticket

    def field_value(self, ticket_id: int, key: str) -> Any:
        wanted = self.provisioned.field_id(key)
        for item in self.ticket(ticket_id).get("custom_fields") or []:
            if int(item["id"]) == wanted:
                return item.get("value")
        return None

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        response = self.zd.api("GET", f"tickets/{ticket_id}/comments.json")
        response.raise_for_status()
        comments: list[dict[str, Any]] = response.json()["comments"]
        return comments

    def service_comments(self, ticket_id: int, *, public: bool) -> list[str]:
        """Bodies of the comments cxlayer's API user wrote (public or internal)."""
        return [
            str(c["body"])
            for c in self.comments(ticket_id)
            if c["author_id"] == self.service_id and bool(c["public"]) is public
        ]

    def writes(self) -> dict[str, int]:
        """Non-GET API requests since the last stats reset."""
        return writes(self.zd.stats())


# Run a command as a background job of a non-interactive shell runs it (`bash .ci/run &`,
# schedulers): SIGINT inherited as *ignored*. Prefix a Popen argument list with it.
AS_BACKGROUND_JOB = ["bash", "-c", "trap '' INT; exec \"$@\"", "background-job"]


class Demo:
    """`python -m demo` (what `make run` runs) in its own process group, as a background job of
    a non-interactive shell starts it (SIGINT inherited as ignored: the launcher must stop on
    Ctrl-C by its own handler). Its output goes to a file beside the instance folder (the
    launcher empties the folder), never to a pipe nobody reads while it runs.

    `prefix` goes before the demo's command instead of AS_BACKGROUND_JOB, e.g. a shell that
    stands for make. Use `running_demo` to start it ready and have it stopped on any exit."""

    def __init__(
        self,
        instance: Path,
        *,
        sandbox_port: int | None = None,
        port: int | None = None,
        seed_size: int = 20,
        prefix: list[str] = AS_BACKGROUND_JOB,
    ) -> None:
        self.instance = instance
        self.sandbox_port = sandbox_port or free_port()
        self.port = port or free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.service_url = f"http://127.0.0.1:{self.port}"
        handle, log = tempfile.mkstemp(
            prefix=f"{instance.name}-", suffix=".log", dir=instance.parent
        )
        os.close(handle)
        self.log = Path(log)
        command = [
            *prefix,
            sys.executable,
            "-m",
            "demo",
            "--sandbox-port",
            str(self.sandbox_port),
            "--port",
            str(self.port),
            "--seed-size",
            str(seed_size),
            "--instance",
            str(instance),
            "--no-tour",
        ]
        with self.log.open("w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a failed start stops the sandbox too
            )

    @property
    def database(self) -> Path:
        return self.instance / "cxlayer.sqlite3"

    @property
    def env(self) -> dict[str, str]:
        """The demo service's environment, for a second process on the same database."""
        return {
            **os.environ,
            "CXLAYER_ZENDESK_SUBDOMAIN": "sandbox",
            "CXLAYER_ZENDESK_URL": self.sandbox_url,
            "CXLAYER_ZENDESK_EMAIL": SANDBOX_EMAIL,
            "CXLAYER_ZENDESK_TOKEN": SANDBOX_TOKEN,
            "CXLAYER_SERVICE_PUBLIC_URL": self.service_url,
            "CXLAYER_DATABASE_URL": f"sqlite:///{self.database}",
        }

    def output(self) -> str:
        """Everything the demo printed so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_ready(self, timeout: float = 300) -> None:
        """Until the demo prints the console's address, its last line once the service answers
        (db upgrade, apply, adopt and one sweep come first: generous on a loaded machine).
        A demo that exits or does not get there is killed, with its output in the error."""
        deadline = time.monotonic() + timeout
        while not any(line.startswith("admin console:") for line in self.output().splitlines()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"demo did not start:\n{self.output()[-4000:]}")
            time.sleep(0.3)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the demo to exit by itself (a refusal): its exit status and output."""
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.kill()
        return self.process.returncode, self.output()

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60) -> int:
        """Ctrl-C (or `sig`) to the launcher and wait; the whole group is killed only when it
        does not stop in time. Returns the launcher's exit status (killed: negative)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to whatever of the group is left (the launcher, the sandbox, the service)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def running_demo(instance: Path, **options: Any) -> Iterator[Demo]:
    """A started and ready `Demo` (options as Demo takes), stopped on any exit from the block."""
    demo = Demo(instance, **options)
    try:
        demo.wait_until_ready()
        yield demo
    finally:
        demo.stop()
