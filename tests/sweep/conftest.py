"""Fixtures for the auto-solve sweep: a provisioned sandbox, an app on a migrated database,
and helpers that import tickets with backdated, realistic comment histories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from mappings import Mappings
from sandbox.testing import SandboxHandle
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import ZendeskClient
from sync.provisioning import apply
from sync.snapshot import Provisioned
from tests.desk import TicketReader, create_user, fast_client, sandbox_settings


@dataclass
class Desk(TicketReader):
    """The provisioned sandbox account, the app and the people of the scenarios."""

    app: Flask
    client: ZendeskClient
    groups: dict[str, int]
    agent_id: int
    requester_id: int
    cc_id: int
    make_client: Callable[[], ZendeskClient] = field(repr=False)

    def status_id(self, value: str) -> int:
        return self.provisioned.status_id(value)

    def field_id(self, key: str) -> int:
        return self.provisioned.field_id(key)

    def import_ticket(
        self,
        comments: list[tuple[int, str, bool]],
        *,
        group: str = "All Media",
        status: str = "awaiting_reply",
        tags: tuple[str, ...] = (),
        priority: str | None = None,
        collaborators: tuple[int, ...] = (),
    ) -> int:
        """A ticket with a backdated history: (author id, ISO time, public) per comment."""
        body: dict[str, Any] = {
            "subject": "Campaign export fails",
            "requester_id": self.requester_id,
            "assignee_id": self.agent_id,
            "group_id": self.groups[group],
            "custom_status_id": self.status_id(status),
            "tags": list(tags),
            "created_at": comments[0][1],
            "collaborator_ids": list(collaborators),
            "comments": [
                {
                    "author_id": author,
                    "created_at": when,
                    "public": public,
                    "body": f"comment by {author} at {when}",
                }
                for author, when, public in comments
            ],
        }
        if priority:
            body["priority"] = priority
        response = self.zd.api("POST", "imports/tickets.json", json={"ticket": body})
        response.raise_for_status()
        return int(response.json()["ticket"]["id"])

    def as_agent(self, ticket_id: int, **changes: Any) -> None:
        """An update made by someone else (an agent, or the requester via `comment`)."""
        response = self.zd.api("PUT", f"tickets/{ticket_id}.json", json={"ticket": changes})
        response.raise_for_status()


@pytest.fixture
def desk(
    zd: SandboxHandle,
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    mappings: Mappings,
) -> Desk:
    """Provisioned sandbox + migrated app; the sweep's client polls jobs quickly."""
    app = make_db_app(SETTINGS=sandbox_settings(zd, public_url=zd.base_url))

    def make_client() -> ZendeskClient:
        return fast_client(app, mappings)

    client = make_client()
    apply(client, mappings, zd.base_url)
    groups = {str(g["name"]): int(g["id"]) for g in client.groups(refresh=True)}
    desk = Desk(
        zd=zd,
        app=app,
        client=client,
        provisioned=Provisioned.load(client),
        groups=groups,
        agent_id=create_user(zd, "Alex Agent", "alex@mediaocean.example", "agent"),
        requester_id=create_user(zd, "Rita Requester", "rita@client.example", "end-user"),
        cc_id=create_user(zd, "Carl Cc", "carl@client.example", "end-user"),
        service_id=int(client.me()["id"]),
        make_client=make_client,
    )
    zd.reset_stats()
    return desk


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
