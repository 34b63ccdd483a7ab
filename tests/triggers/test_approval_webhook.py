"""Issue 13's cases through the real webhook path: the sandbox's provisioned triggers post signed
webhooks to the running service, the worker reads the ticket with sync's client, the approval
rule decides on the requester's reply, and the outcome recorded in Zendesk and in the audit
table is exactly approved, declined, or left to the agent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

import store
from mappings import Mappings
from sandbox.testing import SandboxHandle
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import FACTORY_EXTENSION
from sync.provisioning import apply
from sync.snapshot import NOTE_SEPARATOR, Provisioned
from tests.desk import (
    TicketReader,
    create_user,
    fast_client,
    process_events,
    sandbox_settings,
    served,
)
from triggers import texts
from triggers.model import FIELD_DATA_MAINTENANCE_APPROVED, FIELD_RESOLUTION_TYPE
from triggers.rules._common import when
from triggers.rules.data_maintenance_approval import (
    RULE,
    TAG_APPROVED,
    TAG_NOT_APPROVED,
    TAG_REQUESTED,
)

pytestmark = pytest.mark.integration

DATA_FIX = "mo_res_data_fix_patch"  # "Defect › Data fix/patch": needs approval
OPTION = "Defect::Data fix/patch"
REQUEST = texts.DMA_REQUEST_PUBLIC.format(type_name="Data fix/patch")
APPROVED, DECLINED, LEFT_TO_AGENT = "approved", "declined", "left to the agent"


@dataclass
class ApprovalDesk(TicketReader):
    app: Flask
    requester: str  # e-mail
    agent: str
    http: requests.Session

    def _as(self, email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.zd.oauth_token}", "X-On-Behalf-Of": email}

    def process(self) -> None:
        process_events(self.app, self.zd, "approval-test-worker")

    def ticket_awaiting_approval(self) -> int:
        """The requester opens a ticket; an agent solves it as a data fix, so the service
        asks the requester publicly for approval (the setting of every case)."""
        created = self.http.post(
            f"{self.zd.base_url}/api/v2/tickets.json",
            json={"ticket": {"subject": "Wrong vendor", "comment": {"body": "40 orders."}}},
            headers=self._as(self.requester),
            timeout=30,
        )
        assert created.status_code == 201, created.text
        ticket_id = int(created.json()["ticket"]["id"])
        field = self.provisioned.field_id(FIELD_RESOLUTION_TYPE)
        solved = self.http.put(
            f"{self.zd.base_url}/api/v2/tickets/{ticket_id}.json",
            json={
                "ticket": {
                    "status": "solved",
                    "custom_fields": [{"id": field, "value": DATA_FIX}],
                    "comment": {"body": "We will patch the vendor.", "public": True},
                }
            },
            headers=self._as(self.agent),
            timeout=30,
        )
        assert solved.status_code == 200, solved.text
        self.process()
        assert TAG_REQUESTED in self.ticket(ticket_id)["tags"]
        assert self.service_comments(ticket_id, public=True) == [REQUEST]
        return ticket_id

    def reply(self, ticket_id: int, comment: dict[str, Any]) -> None:
        """The requester answers by e-mail (a public comment of theirs)."""
        response = self.http.put(
            f"{self.zd.base_url}/api/v2/tickets/{ticket_id}.json",
            json={"ticket": {"comment": {"public": True, **comment}}},
            headers=self._as(self.requester),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        self.process()

    def requester_reply_time(self, ticket_id: int) -> datetime:
        requester = next(
            u["id"]
            for u in self.zd.api("GET", "users.json").json()["users"]
            if u["email"] == self.requester
        )
        last = [c for c in self.comments(ticket_id) if c["author_id"] == requester][-1]
        return datetime.fromisoformat(last["created_at"].replace("Z", "+00:00"))

    def notes(self, ticket_id: int) -> list[str]:
        """The service's internal notes, one per decision (an update carries every deciding
        rule's note in one comment)."""
        return [
            note
            for comment in self.service_comments(ticket_id, public=False)
            for note in comment.split(NOTE_SEPARATOR)
        ]

    def outcome(self, ticket_id: int) -> str:
        """Approved, declined or left to the agent, as recorded on the ticket and audited."""
        tags = set(self.ticket(ticket_id)["tags"])
        ticked = self.field_value(ticket_id, FIELD_DATA_MAINTENANCE_APPROVED)
        with store.session(self.app) as session:
            reasons = set(
                session.scalars(
                    select(store.AuditEntry.reason).where(
                        store.AuditEntry.ticket_id == ticket_id, store.AuditEntry.rule == RULE
                    )
                )
            )
        if ticked is True and TAG_APPROVED in tags and TAG_NOT_APPROVED not in tags:
            assert texts.DMA_APPROVED_REASON in reasons
            return APPROVED
        assert not ticked and TAG_APPROVED not in tags and TAG_NOT_APPROVED in tags
        if texts.DMA_DECLINED_REASON in reasons:
            return DECLINED
        assert texts.DMA_UNCLEAR_REASON in reasons
        return LEFT_TO_AGENT


@pytest.fixture
def desk(
    zd: SandboxHandle,
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    mappings: Mappings,
) -> Iterator[ApprovalDesk]:
    """A provisioned sandbox whose webhooks reach the service served on a free port."""
    app = make_db_app(SETTINGS=sandbox_settings(zd))
    app.extensions[FACTORY_EXTENSION] = lambda _app: fast_client(app, mappings)
    with served(app) as url:
        client = fast_client(app, mappings)
        apply(client, mappings, url)
        create_user(zd, "Rita Requester", "rita@client.example", "end-user")
        create_user(zd, "Alex Agent", "alex@mediaocean.example", "agent")
        yield ApprovalDesk(
            zd=zd,
            provisioned=Provisioned.load(client),
            service_id=int(client.me()["id"]),
            app=app,
            requester="rita@client.example",
            agent="alex@mediaocean.example",
            http=requests.Session(),
        )


def quoted(header: str, older: str) -> str:
    return f"\n\n{header}\n{older}"


OUR_REQUEST_QUOTED = "\n".join("> " + line for line in REQUEST.splitlines())
FOOTER = (
    "\n\nIf you are not the intended recipient of this e-mail, do not read, copy or use it; "
    "please delete it. This message may contain confidential information."
)


@pytest.mark.parametrize(
    ("reply", "expected", "sentence", "why"),
    [
        pytest.param(
            {"body": "Can you confirm which campaigns this will change?"},
            LEFT_TO_AGENT,
            "Can you confirm which campaigns this will change?",
            texts.DMA_WHY_QUESTION,
            id="question-with-confirm",
        ),
        pytest.param(
            {"body": "OK, I'll check with my manager and get back to you."},
            LEFT_TO_AGENT,
            "OK, I'll check with my manager and get back to you.",
            texts.DMA_WHY_DEFERRAL,
            id="deferral",
        ),
        pytest.param(
            {"body": "Nein, das ist nicht ok. Bitte nichts ändern."},
            DECLINED,
            "Nein, das ist nicht ok.",
            None,
            id="german-refusal",
        ),
        pytest.param(
            {
                "body": "Please wait."
                + quoted(
                    "Fra: Ole Hansen <ole@client.example>\nSendt: 26. november 2026 10:00\n"
                    "Til: Rita Requester\nEmne: SV: Wrong vendor",
                    "I approve.",
                )
            },
            DECLINED,
            "Please wait.",
            None,
            id="colleague-approval-under-danish-header",
        ),
        pytest.param(
            {
                "body": "Please wait."
                + quoted(
                    "Von: Max Muster <max@client.example>\nGesendet: Donnerstag, 26. November "
                    "2026 10:00\nAn: Rita Requester\nBetreff: AW: Wrong vendor",
                    "I approve.",
                )
            },
            DECLINED,
            "Please wait.",
            None,
            id="colleague-approval-under-german-header",
        ),
        pytest.param(
            {
                "body": "Oui, allez-y."
                + quoted(
                    "Le jeu. 26 nov. 2026 à 10:00, Mediaocean Support "
                    "<support@mediaocean.com> a écrit :",
                    OUR_REQUEST_QUOTED,
                )
            },
            APPROVED,
            "Oui, allez-y.",
            None,
            id="french-yes-above-our-quoted-request",
        ),
        pytest.param(
            {"body": "I approve." + FOOTER},
            APPROVED,
            "I approve.",
            None,
            id="approval-above-confidentiality-footer",
        ),
        pytest.param(
            {
                "html_body": "<div dir='ltr'><p>Yes, go ahead.</p></div><div class='gmail_quote'>"
                "<blockquote>Tell us if you do not want the change made.</blockquote></div>"
            },
            APPROVED,
            "Yes, go ahead.",
            None,
            id="html-only-reply",
        ),
    ],
)
def test_the_requesters_reply_is_recorded_as_exactly_what_it_says(
    desk: ApprovalDesk, reply: dict[str, str], expected: str, sentence: str, why: str | None
) -> None:
    """The outcome, and the one note quoting the sentence it rests on, word for word."""
    ticket_id = desk.ticket_awaiting_approval()
    desk.reply(ticket_id, reply)
    assert desk.outcome(ticket_id) == expected
    replied = when(desk.requester_reply_time(ticket_id))
    if expected == APPROVED:
        wanted = texts.DMA_APPROVED_NOTE.format(option=OPTION, when=replied, sentence=sentence)
    elif expected == DECLINED:
        wanted = texts.DMA_DECLINED_NOTE.format(option=OPTION, when=replied, sentence=sentence)
    else:
        wanted = texts.DMA_UNCLEAR_NOTE.format(
            option=OPTION, when=replied, why=why, sentence=sentence
        )
    # Exactly one note about the reply, despite the webhooks the service's own update fired.
    assert [n for n in desk.notes(ticket_id) if sentence in n] == [wanted]
    if expected == APPROVED:
        # Recorded only: the requester's reply reopened the ticket, solving is the agent's.
        assert desk.ticket(ticket_id)["status"] == "open"
