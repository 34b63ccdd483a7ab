"""Fixtures for duplicate detection on the sandbox: a provisioned account, requesters and an
agent, an app on a migrated database, and optionally the service itself receiving the
sandbox's signed webhooks (served in-process on a free loopback port)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask

from duplicates.detection import duplicates_decider
from mappings import Mappings
from sandbox.testing import SandboxHandle
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import FACTORY_EXTENSION, ZendeskClient
from sync.provisioning import apply
from sync.snapshot import Provisioned
from tests.desk import (
    TicketReader,
    create_user,
    fast_client,
    process_events,
    sandbox_settings,
    served,
)
from triggers.duplicates import DEFAULT_FLAG_THRESHOLD
from webhooks.handler import DECIDERS_EXTENSION, register_decider

# The shipped threshold (a calibrated probability, bench/results/duplicates_eval.md), set
# explicitly so these tests do not depend on settings.toml's current value.
FLAG_THRESHOLD = DEFAULT_FLAG_THRESHOLD


@dataclass(frozen=True)
class Person:
    id: int
    email: str


@dataclass
class Desk(TicketReader):
    app: Flask
    client: ZendeskClient
    rita: Person
    otto: Person
    carl: Person
    agent: Person
    make_client: Callable[[], ZendeskClient] = field(repr=False)
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    def _as(self, person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.zd.oauth_token}", "X-On-Behalf-Of": person.email}

    def open_ticket(
        self, person: Person, subject: str, body: str, *, ccs: tuple[int, ...] = ()
    ) -> int:
        """The requester opens a ticket themselves (fires the ticket_created trigger)."""
        ticket: dict[str, Any] = {"subject": subject, "comment": {"body": body}}
        if ccs:
            ticket["email_cc_ids"] = list(ccs)
        response = self.http.post(
            self.zd.base_url + "/api/v2/tickets.json",
            json={"ticket": ticket},
            headers=self._as(person),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return int(response.json()["ticket"]["id"])

    def import_ticket(self, person: Person, subject: str, body: str, created_at: str) -> int:
        """A ticket from before the service existed (imports fire no triggers)."""
        response = self.zd.api(
            "POST",
            "imports/tickets.json",
            json={
                "ticket": {
                    "subject": subject,
                    "requester_id": person.id,
                    "created_at": created_at,
                    "comments": [{"author_id": person.id, "created_at": created_at, "body": body}],
                }
            },
        )
        assert response.status_code == 201, response.text
        return int(response.json()["ticket"]["id"])

    def as_agent(self, ticket_id: int, **changes: Any) -> None:
        """An update made by a human agent (not cxlayer's API user)."""
        response = self.http.put(
            f"{self.zd.base_url}/api/v2/tickets/{ticket_id}.json",
            json={"ticket": changes},
            headers=self._as(self.agent),
            timeout=30,
        )
        assert response.status_code == 200, response.text

    def process_events(self, rounds: int = 6) -> int:
        """Wait for the sandbox's webhooks, then let a worker process the inbox; repeat while
        the service's own updates fire more. Returns the events processed."""
        return process_events(self.app, self.zd, "duplicates-test-worker", rounds)


def _person(zd: SandboxHandle, name: str, email: str, role: str) -> Person:
    return Person(create_user(zd, name, email, role), email)


@pytest.fixture
def duplicates_settings() -> dict[str, Any]:
    """[duplicates] for the test's app; tests override keys through indirect parametrisation
    or by requesting their own fixture."""
    return {"flag_threshold": FLAG_THRESHOLD, "auto_threshold": 0.0, "native_merge": False}


def _build_desk(
    zd: SandboxHandle,
    build_app: Callable[..., Flask],
    mappings: Mappings,
    duplicates: dict[str, Any],
    public_url: Callable[[Flask], str],
) -> Desk:
    app = build_app(SETTINGS={**sandbox_settings(zd), "duplicates": duplicates})

    def make_client() -> ZendeskClient:
        return fast_client(app, mappings)

    app.extensions[FACTORY_EXTENSION] = lambda _app: make_client()
    if duplicates_decider not in app.extensions.get(DECIDERS_EXTENSION, []):
        register_decider(app, duplicates_decider)
    client = make_client()
    apply(client, mappings, public_url(app))
    desk = Desk(
        zd=zd,
        app=app,
        client=client,
        provisioned=Provisioned.load(client),
        service_id=int(client.me()["id"]),
        rita=_person(zd, "Rita Requester", "rita@client.example", "end-user"),
        otto=_person(zd, "Otto Other", "otto@elsewhere.example", "end-user"),
        carl=_person(zd, "Carl Cc", "carl@client.example", "end-user"),
        agent=_person(zd, "Alex Agent", "alex@mediaocean.example", "agent"),
        make_client=make_client,
    )
    zd.reset_stats()
    return desk


@pytest.fixture
def desk(
    zd: SandboxHandle,
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    mappings: Mappings,
    duplicates_settings: dict[str, Any],
) -> Desk:
    """Provisioned sandbox and app, no service running (webhooks go nowhere useful)."""
    return _build_desk(
        zd, make_db_app, mappings, duplicates_settings, lambda _app: "http://127.0.0.1:9"
    )


@pytest.fixture
def served_desk(
    zd: SandboxHandle,
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    mappings: Mappings,
    duplicates_settings: dict[str, Any],
) -> Iterator[Desk]:
    """As `desk`, with the service answering the sandbox's signed webhooks on a free port;
    `desk.process_events()` runs the real worker on what arrived."""
    with ExitStack() as stack:

        def serve(app: Flask) -> str:
            return stack.enter_context(served(app))

        yield _build_desk(zd, make_db_app, mappings, duplicates_settings, serve)
