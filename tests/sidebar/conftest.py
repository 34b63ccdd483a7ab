"""The agent sidebar on the sandbox: a provisioned account with the sidebar app installed, the
service serving webhooks and the sidebar on a free loopback port, people, and a real Chromium
(Debian's, installed by .ci/chromium.sh; Playwright never downloads a browser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
import waitress
from flask import Flask

from mappings import Mappings
from sandbox.apps import sign_app_token
from sandbox.testing import SandboxHandle
from sidebar.cli import install
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import FACTORY_EXTENSION, ZendeskClient
from sync.apps import APP_STATE
from sync.provisioning import apply
from sync.snapshot import Provisioned
from tests.desk import TicketReader, create_user, fast_client, sandbox_settings
from webhooks.worker import process_one

FLAG_THRESHOLD = 0.18


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    name: str


@dataclass
class SidebarDesk(TicketReader):
    app: Flask
    client: ZendeskClient
    service_url: str
    agent: Person
    requester: Person
    end_user: Person
    groups: dict[str, int]
    make_client: Callable[[], ZendeskClient] = field(repr=False)
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    # --- what the browser opens -----------------------------------------------------------
    def agent_page(self, ticket_id: int) -> str:
        return f"{self.zd.base_url}/agent/tickets/{ticket_id}?as={self.agent.email}"

    # --- the installed app, as the sandbox holds it -----------------------------------------
    @property
    def recorded(self) -> dict[str, Any]:
        return dict(self.client.state.get(APP_STATE) or {})

    def app_doc(self) -> dict[str, Any]:
        assert self.zd.server is not None
        doc = self.zd.server.sandbox.store.get("app", self.recorded["app_id"])
        assert doc is not None
        return doc

    def signed_token(self, user_id: int) -> str:
        """A token exactly as the sandbox's agent page signs it."""
        return sign_app_token(self.app_doc(), self.recorded["installation_id"], user_id)

    def token_with(self, key: str | None = None, **claims: Any) -> str:
        """A token with chosen claims, signed with the app's key (or `key`)."""
        now = int(time.time())
        host = f"{self.zd.subdomain}.zendesk.com"
        body = {
            "iss": host,
            "aud": f"https://{host}/api/v2/apps/installations/{self.recorded['installation_id']}.json",
            "sub": f"https://{host}/api/v2/users/{self.agent.id}.json",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(body, key or self.app_doc()["_private_key"], algorithm="RS256")

    def load_sidebar(self, token: str) -> requests.Response:
        """Zendesk's signed first load of the sidebar."""
        return self.http.post(self.service_url + "/sidebar/", data={"token": token}, timeout=30)

    # --- tickets ------------------------------------------------------------------------
    def _as(self, person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.zd.oauth_token}", "X-On-Behalf-Of": person.email}

    def open_ticket(self, person: Person, subject: str, body: str) -> int:
        """The requester opens a ticket (fires the ticket_created trigger)."""
        response = self.http.post(
            self.zd.base_url + "/api/v2/tickets.json",
            json={"ticket": {"subject": subject, "comment": {"body": body}}},
            headers=self._as(person),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return int(response.json()["ticket"]["id"])

    def awaiting_ticket(self, *, asked_days_ago: float = 1.0, product: str | None = None) -> int:
        """Imported: the requester wrote, an agent asked a question publicly, no reply since;
        status "Awaiting your reply" (auto-solve's clock runs)."""
        now = datetime.now(UTC)
        opened = (now - timedelta(days=asked_days_ago + 1)).isoformat().replace("+00:00", "Z")
        asked = (now - timedelta(days=asked_days_ago)).isoformat().replace("+00:00", "Z")
        custom: list[dict[str, Any]] = []
        if product:
            custom.append({"id": self.provisioned.field_id("product"), "value": product})
        response = self.zd.api(
            "POST",
            "imports/tickets.json",
            json={
                "ticket": {
                    "subject": "Campaign export fails",
                    "requester_id": self.requester.id,
                    "assignee_id": self.agent.id,
                    "group_id": self.groups["All Media"],
                    "custom_status_id": self.provisioned.status_id("awaiting_reply"),
                    "created_at": opened,
                    "custom_fields": custom,
                    "comments": [
                        {
                            "author_id": self.requester.id,
                            "created_at": opened,
                            "public": True,
                            "body": "The campaign export never finishes.",
                        },
                        {
                            "author_id": self.agent.id,
                            "created_at": asked,
                            "public": True,
                            "body": "Which campaign and which export format do you use?",
                        },
                    ],
                }
            },
        )
        response.raise_for_status()
        return int(response.json()["ticket"]["id"])

    def process_events(self, rounds: int = 6) -> int:
        """Wait for the sandbox's webhooks, then run the real worker on the inbox."""
        processed = 0
        for _ in range(rounds):
            self.zd.deliveries(wait=30)
            handled = 0
            while process_one(self.app, "sidebar-test-worker") is not None:
                handled += 1
            processed += handled
            if handled == 0:
                return processed
        return processed


def _person(zd: SandboxHandle, name: str, email: str, role: str) -> Person:
    return Person(create_user(zd, name, email, role), email, name)


@pytest.fixture
def sidebar_desk(
    zd: SandboxHandle,
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    mappings: Mappings,
) -> Iterator[SidebarDesk]:
    """Provisioned sandbox, the sidebar installed, the service served on a free port."""
    app = make_db_app(
        SETTINGS={
            **sandbox_settings(zd),
            "duplicates": {"flag_threshold": FLAG_THRESHOLD, "auto_threshold": 0.0},
        }
    )

    def make_client() -> ZendeskClient:
        return fast_client(app, mappings)

    app.extensions[FACTORY_EXTENSION] = lambda _app: make_client()
    # waitress, as `serve` runs it: werkzeug's development server leaves a response's file open
    # when a browser resets the connection mid-response (its drain of the socket raises before
    # it closes the response), which a navigating host page does to the sidebar's assets.
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    stopping = threading.Event()

    def serve() -> None:
        try:
            server.run()
        except OSError:
            if not stopping.is_set():
                raise  # closing the sockets under the loop (teardown) ends it with EBADF

    loop = threading.Thread(target=serve, name="cxlayer-sidebar-test", daemon=True)
    loop.start()
    service_url = f"http://127.0.0.1:{server.effective_port}"
    app.config["CXLAYER"]["service"]["public_url"] = service_url
    try:
        client = make_client()
        apply(client, mappings, service_url)
        install(app)
        desk = SidebarDesk(
            zd=zd,
            app=app,
            client=client,
            provisioned=Provisioned.load(client),
            service_id=int(client.me()["id"]),
            service_url=service_url,
            agent=_person(zd, "Alex Agent", "alex@mediaocean.example", "agent"),
            requester=_person(zd, "Rita Requester", "rita@client.example", "end-user"),
            end_user=_person(zd, "Erin Enduser", "erin@client.example", "end-user"),
            groups={str(g["name"]): int(g["id"]) for g in client.groups(refresh=True)},
            make_client=make_client,
        )
        yield desk
    finally:
        stopping.set()
        server.close()
        for channel in list(server._map.values()):  # connections still open (keep-alive)
            channel.close()
        loop.join(timeout=30)
        # Waits for requests still running (a browser's last refresh), so none holds a
        # database connection when the test's database is dropped.
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=30)


# --- the browser ------------------------------------------------------------------------
@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def sidebar_frame(page: Any) -> Any:
    """The cxlayer sidebar's iframe on the sandbox's agent page."""
    return page.frame_locator("iframe[data-guid]").first
