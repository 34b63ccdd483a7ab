"""What the sandbox-backed test desks share: the app's settings for a sandbox, a client that
polls jobs quickly, people, and reading tickets back the way an agent would see them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from mappings import Mappings
from sandbox.testing import SandboxHandle
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
