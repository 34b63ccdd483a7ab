"""The auto-solve clock through the real event path (issue 14): the sandbox's signed webhooks,
captured and delivered to the running service shuffled and twice, the real worker, and the real
sweep. One test per failure listed under "Why" in the issue."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import store
from mappings import Mappings
from sandbox.testing import SandboxHandle
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import FACTORY_EXTENSION
from sync.provisioning import apply
from sync.snapshot import Provisioned
from tests.desk import create_user, fast_client, sandbox_settings, served
from triggers import autosolve_texts as texts
from triggers.autosolve import RESOLUTION_AUTO_SOLVED, TAG_REMINDED, TAG_SOLVED
from triggers.autosolve_texts import long_date
from webhooks.worker import process_one

from .conftest import Desk, utc

pytestmark = pytest.mark.integration


@dataclass
class Recorder:
    """Stands where Zendesk's webhooks point; keeps each signed request to deliver it later."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-zendesk")}
        headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        with self.lock:
            self.requests.append((headers, request.get_data()))
        return Response("", status=200)(environ, start_response)

    def take(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            taken, self.requests = self.requests, []
        return taken


@dataclass
class EventDesk(Desk):
    recorder: Recorder = field(default_factory=Recorder)
    service_url: str = ""
    rng: random.Random = field(default_factory=lambda: random.Random(14))
    delivered: int = 0

    def person(self, user_id: int) -> dict[str, str]:
        email = next(
            u["email"]
            for u in self.zd.api("GET", "users.json").json()["users"]
            if int(u["id"]) == user_id
        )
        return {"Authorization": f"Bearer {self.zd.oauth_token}", "X-On-Behalf-Of": email}

    def update_as(self, user_id: int, ticket_id: int, **changes: Any) -> None:
        """An update made in Zendesk by that person (an agent, the requester, a CC)."""
        response = requests.put(
            f"{self.zd.base_url}/api/v2/tickets/{ticket_id}.json",
            json={"ticket": changes},
            headers=self.person(user_id),
            timeout=30,
        )
        assert response.status_code == 200, response.text

    def deliver(self, rounds: int = 6) -> int:
        """Deliver what Zendesk sent, shuffled and each twice, to the running service; let the
        worker process the inbox; repeat while the service's own updates send more."""
        processed = 0
        for _ in range(rounds):
            self.zd.deliveries(wait=30)
            batch = self.recorder.take()
            if not batch:
                return processed
            twice = batch + batch
            self.rng.shuffle(twice)
            for headers, body in twice:
                response = requests.post(
                    self.service_url + "/webhooks/zendesk", data=body, headers=headers, timeout=30
                )
                assert response.status_code in (200, 202), response.text
                self.delivered += 1
            while process_one(self.app, "clock-events-test") is not None:
                processed += 1
        return processed

    def notes(self, ticket_id: int) -> list[str]:
        return self.service_comments(ticket_id, public=False)


@pytest.fixture
def events(
    zd: SandboxHandle,
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    mappings: Mappings,
) -> Iterator[EventDesk]:
    recorder = Recorder()
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    threading.Thread(target=server.serve_forever, name="recorder", daemon=True).start()
    recorder_url = f"http://127.0.0.1:{server.server_port}"
    app = make_db_app(SETTINGS=sandbox_settings(zd, public_url=recorder_url))
    app.extensions[FACTORY_EXTENSION] = lambda _app: fast_client(app, mappings)
    client = fast_client(app, mappings)
    apply(client, mappings, recorder_url)
    groups = {str(g["name"]): int(g["id"]) for g in client.groups(refresh=True)}
    try:
        with served(app) as url:
            desk = EventDesk(
                zd=zd,
                app=app,
                client=client,
                provisioned=Provisioned.load(client),
                groups=groups,
                agent_id=create_user(zd, "Alex Agent", "alex@mediaocean.example", "agent"),
                requester_id=create_user(zd, "Rita Requester", "rita@client.example", "end-user"),
                cc_id=create_user(zd, "Carl Cc", "carl@client.example", "end-user"),
                service_id=int(client.me()["id"]),
                make_client=lambda: fast_client(app, mappings),
                recorder=recorder,
                service_url=url,
            )
            yield desk
    finally:
        server.shutdown()
        server.server_close()


def sweep(desk: EventDesk, tmp_path: Any, **kwargs: Any) -> dict[int, dict[str, Any]]:
    from autosolve.sweep import run_sweep

    kwargs.setdefault("report_path", tmp_path / f"report-{len(list(tmp_path.iterdir()))}.json")
    result = run_sweep(desk.app, client=desk.make_client(), **kwargs)
    return {int(t["id"]): t for t in result.report["tickets"]}


def asked(desk: EventDesk, *, group: str = "All Media") -> int:
    """The requester opens a ticket; the agent asks a question, Awaiting your reply."""
    response = requests.post(
        f"{desk.zd.base_url}/api/v2/tickets.json",
        json={
            "ticket": {
                "subject": "Campaign export fails",
                "comment": {"body": "The export of campaign 881 fails."},
                "group_id": desk.groups[group],
            }
        },
        headers=desk.person(desk.requester_id),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    ticket_id = int(response.json()["ticket"]["id"])
    desk.update_as(
        desk.agent_id,
        ticket_id,
        custom_status_id=desk.status_id("awaiting_reply"),
        comment={"body": "Which export format did you choose?", "public": True},
    )
    desk.deliver()
    return ticket_id


def test_a_requester_reply_stops_the_clock_whatever_order_its_events_arrive_in(
    events: EventDesk,
):
    """Zendesk sends status_changed and comment_added for one reply; delivered shuffled and
    twice, after an agent's internal note too: the clock stops, the date goes, one note."""
    ticket = asked(events)
    due = events.field_value(ticket, "auto_solve_due")
    assert due is not None
    events.update_as(
        events.agent_id, ticket, comment={"body": "Asked product too.", "public": False}
    )
    events.update_as(events.requester_id, ticket, comment={"body": "CSV.", "public": True})
    events.deliver()
    assert events.ticket(ticket)["status"] == "open"
    assert events.field_value(ticket, "auto_solve_due") is None
    stopped = texts.CLOCK_STOPPED_NOTE.format(
        who=texts.WHO_REQUESTER, due_date=long_date(date.fromisoformat(str(due)))
    )
    assert sum(stopped in n for n in events.notes(ticket)) == 1
    assert events.delivered >= 4


def test_a_ccs_private_reply_stops_the_clock_and_the_sweep_never_solves(
    events: EventDesk, tmp_path: Any
):
    """A CC's e-mail reply that arrives as a private comment is a reply."""
    ticket = asked(events)
    events.update_as(events.agent_id, ticket, collaborator_ids=[events.cc_id])
    events.update_as(events.cc_id, ticket, comment={"body": "Use XLSX.", "public": False})
    events.deliver()
    # Whatever status an agent sets afterwards, the CC spoke last: waiting on the team.
    events.update_as(events.agent_id, ticket, custom_status_id=events.status_id("awaiting_reply"))
    events.deliver()
    assert events.field_value(ticket, "auto_solve_due") is None
    rows = sweep(events, tmp_path, as_of=utc("2027-01-04T12:00:00Z"), dry_run=True, full=True)
    assert rows[ticket]["decision"] == "waiting_on_us"
    assert texts.WHO_CC in rows[ticket]["reason"]


ASKED = "2025-12-24T15:00:00Z"  # Wednesday 10:00 New York
REMINDED = "2025-12-31T12:00:00Z"  # cxlayer's reminder: Dec 31 and Jan 2 follow
SOLVE_AS_OF = utc("2026-01-03T12:00:00Z")


def imported(desk: EventDesk, *, reminded: bool, status: str = "awaiting_reply") -> int:
    """A ticket with a backdated history (the sweep learns it: no webhook ever told us)."""
    history = [(desk.requester_id, "2025-12-22T14:00:00Z", True), (desk.agent_id, ASKED, True)]
    if reminded:
        history.append((desk.service_id, REMINDED, True))
    return desk.import_ticket(history, status=status)


def test_back_to_awaiting_without_a_comment_gets_a_reminder_first(events: EventDesk, tmp_path: Any):
    """An agent puts a ticket back to Awaiting your reply without a new comment, weeks after
    their last one: the date shows at once, and the sweep reminds; it never solves."""
    ticket = imported(events, reminded=False, status="open_cx")
    events.update_as(events.agent_id, ticket, custom_status_id=events.status_id("awaiting_reply"))
    events.deliver()
    assert events.field_value(ticket, "auto_solve_due") is not None
    overdue = [n for n in events.notes(ticket) if "it reminds the requester first" in n]
    assert len(overdue) == 1
    first = sweep(events, tmp_path)
    assert first[ticket]["decision"] == "remind"
    assert events.ticket(ticket)["status"] == "pending"
    assert TAG_REMINDED in events.ticket(ticket)["tags"]
    assert sweep(events, tmp_path)[ticket]["decision"] == "skip"  # the same night: no solve


def test_leaving_awaiting_clears_the_date_with_its_reason_in_the_audit(events: EventDesk):
    ticket = asked(events)
    assert events.field_value(ticket, "auto_solve_due") is not None
    events.update_as(events.agent_id, ticket, custom_status_id=events.status_id("open_product"))
    events.deliver()
    assert events.field_value(ticket, "auto_solve_due") is None
    with store.session(events.app) as sess:
        reasons = [
            a.reason
            for a in sess.scalars(
                select(store.AuditEntry).where(store.AuditEntry.ticket_id == ticket)
            )
        ]
    assert any("Auto-solve due cleared: the ticket left Awaiting your reply" in r for r in reasons)


def test_undo_means_not_again_in_this_episode(events: EventDesk, tmp_path: Any):
    """`sweep undo` reopens; the next runs do not solve again until an agent's new comment."""
    from autosolve.sweep import run_sweep, undo_run

    ticket = imported(events, reminded=True)
    solved = run_sweep(
        events.app, client=events.make_client(), as_of=SOLVE_AS_OF, report_path=tmp_path / "s.json"
    )
    assert {int(t["id"]): t["decision"] for t in solved.report["tickets"]}[ticket] == "solve"
    events.deliver()
    (result,) = undo_run(events.app, solved.run_id, client=events.make_client())
    assert result.reopened
    events.deliver()
    undo_note = next(n for n in events.notes(ticket) if n.startswith("Auto-solve undone"))
    assert "will not be auto-solved again in this waiting episode" in undo_note
    again = sweep(events, tmp_path)
    assert again[ticket]["decision"] == "skip"
    assert again[ticket]["reason"] == texts.REASON_UNDONE
    assert events.ticket(ticket)["status"] == "pending"
    assert events.field_value(ticket, "auto_solve_due") is None  # no clock runs
    solved_messages = [c for c in events.service_comments(ticket, public=True) if "solved" in c]
    assert len(solved_messages) == 1
    # An agent's new public comment starts a new episode: the clock runs again.
    events.update_as(events.agent_id, ticket, comment={"body": "Any news?", "public": True})
    events.deliver()
    assert events.field_value(ticket, "auto_solve_due") is not None


def test_a_reply_after_an_auto_solve_clears_its_resolution_type_and_tags(
    events: EventDesk, tmp_path: Any
):
    ticket = imported(events, reminded=True)
    assert sweep(events, tmp_path, as_of=SOLVE_AS_OF)[ticket]["decision"] == "solve"
    events.deliver()
    assert events.field_value(ticket, "resolution_type") == RESOLUTION_AUTO_SOLVED
    events.update_as(events.requester_id, ticket, comment={"body": "Still broken.", "public": True})
    events.deliver()
    after = events.ticket(ticket)
    assert after["status"] == "open"
    assert events.field_value(ticket, "resolution_type") is None
    assert TAG_SOLVED not in after["tags"] and TAG_REMINDED not in after["tags"]
    assert sum("replied after this ticket was auto-solved" in n for n in events.notes(ticket)) == 1


def test_an_agent_later_made_an_end_user_still_asked_as_an_agent(events: EventDesk, tmp_path: Any):
    """Roles are those the authors had when they wrote: the question seen by the webhook as an
    agent's stays one after the agent is downgraded."""
    ticket = asked(events)
    events.zd.api("PUT", f"users/{events.agent_id}.json", json={"user": {"role": "end-user"}})
    rows = sweep(events, tmp_path, dry_run=True, full=True)
    assert rows[ticket]["decision"] == "skip"
    assert rows[ticket]["clock_start"] is not None


def test_an_auto_reply_keeps_the_clock_running_and_the_agent_is_told_once(
    events: EventDesk, tmp_path: Any
):
    """An out-of-office reply reopens the ticket in Zendesk; it is not a reply: the ticket goes
    back to Awaiting your reply, the date stays, agents are told once; the sweep reminds."""
    ticket = asked(events)
    due = events.field_value(ticket, "auto_solve_due")
    for _ in range(2):
        events.update_as(
            events.requester_id,
            ticket,
            comment={"body": "Automatic reply: I am out of the office until Monday."},
        )
        events.deliver()
        assert events.ticket(ticket)["status"] == "pending"
        assert events.field_value(ticket, "auto_solve_due") == due
    told = [n for n in events.notes(ticket) if texts.AUTO_REPLY_NOTE_MARK in n]
    assert len(told) == 1
    row = sweep(events, tmp_path, dry_run=True, full=True)[ticket]
    assert row["decision"] == "skip" and row["clock_start"] is not None  # the clock runs


def test_a_requester_message_merged_in_stops_the_clock(events: EventDesk):
    ticket = asked(events)
    second = requests.post(
        f"{events.zd.base_url}/api/v2/tickets.json",
        json={"ticket": {"subject": "Export again", "comment": {"body": "Still failing!"}}},
        headers=events.person(events.requester_id),
        timeout=30,
    ).json()["ticket"]
    events.deliver()
    response = requests.post(
        f"{events.zd.base_url}/api/v2/tickets/{ticket}/merge.json",
        json={
            "ids": [second["id"]],
            "target_comment": f'Request #{second["id"]} "Export again" was closed and merged '
            "into this request. Last comment in request "
            f"#{second['id']}: Still failing!",
        },
        headers=events.person(events.agent_id),
        timeout=30,
    )
    assert response.status_code in (200, 202), response.text
    # Zendesk merges in a background job: wait until it closed the source, then for the
    # webhooks the merge caused (on a loaded machine the job can finish after a first wait).
    deadline = time.monotonic() + 60
    while (
        events.zd.api("GET", f"/api/v2/tickets/{second['id']}.json").json()["ticket"]["status"]
        != "closed"
    ):
        assert time.monotonic() < deadline, "the merge job did not finish"
        time.sleep(0.2)
    for _ in range(3):
        events.zd.deliveries(wait=30)
        events.deliver()
        if events.field_value(ticket, "auto_solve_due") is None:
            break
    assert events.field_value(ticket, "auto_solve_due") is None
    with store.session(events.app) as sess:
        from autosolve.models import SweepComment

        kinds = [
            r.kind
            for r in sess.scalars(select(SweepComment).where(SweepComment.ticket_id == ticket))
        ]
    assert kinds.count("end_user") >= 2  # the opening message and the merged one


def _expected_running(desk: EventDesk, ticket_id: int) -> bool:
    """The clock the pure state machine sees in the comments as Zendesk lists them now."""
    from triggers.clock import facts_from_comments
    from triggers.model import Comment

    roles = {desk.agent_id: True, desk.service_id: True}
    comments = [
        Comment(
            int(c["author_id"]),
            bool(c["public"]),
            utc(c["created_at"]),
            str(c.get("body") or ""),
            roles.get(int(c["author_id"]), False),
        )
        for c in desk.comments(ticket_id)
    ]
    facts = facts_from_comments(comments, [desk.service_id])
    ticket = desk.ticket(ticket_id)
    awaiting = ticket.get("custom_status_id") == desk.status_id("awaiting_reply")
    return awaiting and "no_autosolve" not in ticket["tags"] and facts.clock_start is not None


@pytest.mark.parametrize("seed", range(4))
def test_random_histories_end_to_end_keep_the_clock_invariants(
    events: EventDesk, tmp_path: Any, seed: int
):
    """A small sample of random histories on the sandbox, each change's webhooks delivered
    shuffled and twice: after every change "Auto-solve due" is shown iff the state machine says
    a clock runs; a second delivery of the same events writes nothing; the real sweep agrees."""
    rng = random.Random(seed)
    events.rng = random.Random(seed + 100)
    ticket = asked(events)
    events.update_as(events.agent_id, ticket, collaborator_ids=[events.cc_id])
    events.deliver()
    for _step in range(7):
        kind = rng.choice(
            [
                "agent_asks",
                "agent_note",
                "requester",
                "cc_private",
                "auto_reply",
                "status",
                "exempt",
            ]
        )
        if kind == "agent_asks":
            events.update_as(
                events.agent_id,
                ticket,
                custom_status_id=events.status_id("awaiting_reply"),
                comment={"body": "Could you confirm?", "public": True},
            )
        elif kind == "agent_note":
            events.update_as(events.agent_id, ticket, comment={"body": "FYI", "public": False})
        elif kind == "requester":
            events.update_as(
                events.requester_id, ticket, comment={"body": "Done.", "public": rng.random() < 0.7}
            )
        elif kind == "cc_private":
            events.update_as(events.cc_id, ticket, comment={"body": "Seen.", "public": False})
        elif kind == "auto_reply":
            events.update_as(
                events.requester_id,
                ticket,
                comment={"body": "Réponse automatique : je suis absente jusqu'au 5."},
            )
        elif kind == "status":
            value = rng.choice(["awaiting_reply", "open_cx", "open_product"])
            events.update_as(events.agent_id, ticket, custom_status_id=events.status_id(value))
        else:
            # With a note: the provisioned triggers send no event for a tag change alone.
            tags = ["no_autosolve"] if rng.random() < 0.5 else []
            events.update_as(
                events.agent_id, ticket, tags=tags, comment={"body": "Tags.", "public": False}
            )
        events.deliver()
        shown = events.field_value(ticket, "auto_solve_due") is not None
        assert shown == _expected_running(events, ticket), (seed, _step, kind)
        events.zd.reset_stats()
        # The same events again, shuffled: nothing more to write.
        assert events.deliver() == 0 or not events.writes()
    row = sweep(events, tmp_path, dry_run=True, full=True).get(ticket)
    if _expected_running(events, ticket):
        assert row is not None and row["clock_start"] is not None


def test_a_promise_holds_when_the_ticket_moves_to_a_faster_calendar(
    events: EventDesk, tmp_path: Any
):
    """Reminded on Jan 1 on the Canadian Spot calendar ("by the end of Monday, January 5"),
    then moved to All Media, whose calendar alone would give Jan 2: not solved before Jan 5."""
    ticket = events.import_ticket(
        [(events.requester_id, "2025-12-22T14:00:00Z", True), (events.agent_id, ASKED, True)],
        group="Canadian Spot",
    )
    first = sweep(events, tmp_path, as_of=utc("2026-01-01T12:00:00Z"))
    assert first[ticket]["decision"] == "remind"
    assert "Monday, January 5, 2026" in events.service_comments(ticket, public=True)[-1]
    events.deliver()
    events.update_as(events.agent_id, ticket, group_id=events.groups["All Media"])
    events.deliver()
    held = sweep(events, tmp_path, as_of=utc("2026-01-03T12:00:00Z"))
    assert held[ticket]["decision"] == "skip"
    assert held[ticket]["team"] == "all_media" and held[ticket]["due"] == "2026-01-05"
    assert events.ticket(ticket)["status"] == "pending"
    assert sweep(events, tmp_path, as_of=utc("2026-01-06T12:00:00Z"))[ticket]["decision"] == (
        "solve"
    )
