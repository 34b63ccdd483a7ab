"""Rules against the sandbox: each recorded case's ticket, decided, applied by sync/, read back.

The fixed point and `apply_actions` are proved on simulated tickets elsewhere; here the real
path checks them: the sandbox (real HTTP, real zenpy through sync/) applies the merged update,
the ticket read back is what `apply_actions` predicted, and the rules then find nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mappings import Mappings, load_mappings
from sandbox.testing import SandboxHandle, run_sandbox
from sync import MemoryStateStore, ZendeskClient
from sync.provisioning import APPROVAL_TAG, apply
from sync.snapshot import Provisioned
from sync.snapshot import apply_actions as apply_in_zendesk
from tests.triggers.cases import fixture_paths, load_case
from triggers.model import (
    CHECKBOX_TAGS,
    COMMENT_ADDED,
    FIELD_DATA_MAINTENANCE_APPROVED,
    Comment,
    Decision,
    InternalNote,
)
from triggers.router import apply_actions
from triggers.rules import decide

pytestmark = pytest.mark.integration

MAPPINGS = load_mappings()


def _zendesk_can_hold(path: Path) -> bool:
    """Closed tickets cannot be written to set up a case (nor are they decided on), and a
    custom status always has its own category in Zendesk: a case of mappings disagreeing with
    Zendesk (a status mapped to another category) cannot be made there."""
    snap = load_case(path).snapshot
    known = {s.value: s.category for s in MAPPINGS.statuses}
    return (
        snap.status != "closed" and known.get(snap.custom_status or "", snap.status) == snap.status
    )


PATHS = [p for p in fixture_paths() if _zendesk_can_hold(p)]


@dataclass(frozen=True)
class Account:
    zd: SandboxHandle
    client: ZendeskClient
    mappings: Mappings
    agent_id: int  # the admin the client acts as: agents' and the service's comments
    cc_id: int  # another end user (a CC's reply)


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    """One provisioned sandbox account for the module: each case makes its own ticket."""
    mappings = MAPPINGS
    with run_sandbox() as zd:
        client = ZendeskClient(
            state=MemoryStateStore(),
            mappings=mappings,
            subdomain=zd.subdomain,
            email=zd.email,
            token=zd.token,
            url=zd.base_url,
            poll_initial_seconds=0.01,
            poll_max_seconds=0.1,
        )
        apply(client, mappings, zd.base_url)
        agent_id = int(zd.api("GET", "users/me.json").json()["user"]["id"])
        cc = zd.api(
            "POST", "users.json", json={"user": {"name": "Cora", "email": "cora@example.com"}}
        )
        cc.raise_for_status()
        yield Account(zd, client, mappings, agent_id, int(cc.json()["user"]["id"]))


def _field_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _create(account: Account, path: Path) -> int:
    """The case's ticket as Zendesk holds it: its comments by the same kinds of author (the
    recorded requester, agents and cxlayer as the agent, anyone else as another end user),
    then status, fields, tags and group."""
    zd, client = account.zd, account.client
    case = load_case(path)
    ids = Provisioned.load(client)
    snap = case.snapshot
    first, *later = snap.comments or (Comment(snap.requester_id, True, case.now, "Help"),)
    created = zd.api(
        "POST",
        "tickets.json",
        json={
            "ticket": {
                "subject": snap.subject or "Case " + case.name,
                "comment": {"body": first.body},
                "requester": {"name": "Rita Requester", "email": "rita@example.com"},
            }
        },
    )
    created.raise_for_status()
    ticket = created.json()["ticket"]
    ticket_id = int(ticket["id"])
    for comment in later:
        if comment.author_id == snap.requester_id:
            author = int(ticket["requester_id"])
        else:
            author = account.agent_id if comment.author_is_agent else account.cc_id
        body = {"body": comment.body, "public": comment.public, "author_id": author}
        zd.api("PUT", f"tickets/{ticket_id}.json", json={"ticket": {"comment": body}})
    state: dict[str, Any] = {
        "tags": sorted(snap.tags),
        "custom_fields": [
            {"id": ids.fields[k], "value": _field_value(v)} for k, v in snap.fields.items()
        ],
    }
    if snap.custom_status is not None:
        state["custom_status_id"] = ids.custom_statuses[snap.custom_status]
    else:  # one of Zendesk's own statuses of the category: not in mappings
        ours = set(ids.custom_statuses.values())
        state["custom_status_id"] = next(
            s["id"]
            for s in client.custom_statuses()
            if s["status_category"] == snap.status and s["id"] not in ours
        )
    if snap.group is not None:
        state["group_id"] = next(g["id"] for g in client.groups() if g["name"] == snap.group)
    # The recorded state may have lagging status tags (a ticket from before cxlayer, or changed
    # by another writer): set it with the provisioned status-tag triggers off, as then.
    tag_triggers = [
        t["id"]
        for t in zd.api("GET", "triggers.json").json()["triggers"]
        if "[cxlayer:status_tag:" in t["title"]
    ]
    for trigger_id in tag_triggers:
        zd.api("PUT", f"triggers/{trigger_id}.json", json={"trigger": {"active": False}})
    try:
        zd.api("PUT", f"tickets/{ticket_id}.json", json={"ticket": state}).raise_for_status()
    finally:
        for trigger_id in tag_triggers:
            zd.api("PUT", f"triggers/{trigger_id}.json", json={"trigger": {"active": True}})
    return ticket_id


def _without_notes(decisions: tuple[Decision, ...]) -> list[tuple[Any, ...]]:
    return [
        (d.rule, d.reason, tuple(a for a in d.actions if not isinstance(a, InternalNote)))
        for d in decisions
    ]


def _state(snapshot: Any) -> tuple[Any, ...]:
    return (snapshot.status, snapshot.custom_status, snapshot.tags, snapshot.fields, snapshot.group)


def _recorded_state(snapshot: Any) -> tuple[Any, ...]:
    """Status, tags, group and the fields that are set (unset and unticked read alike)."""
    fields = {k: v for k, v in snapshot.fields.items() if v not in (None, False)}
    return (snapshot.status, snapshot.custom_status, snapshot.tags, fields, snapshot.group)


def test_checkbox_tag_is_the_one_provisioning_gives_the_field() -> None:
    assert CHECKBOX_TAGS == {FIELD_DATA_MAINTENANCE_APPROVED: APPROVAL_TAG}


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_case_applied_in_the_sandbox_is_as_simulated_and_settles(
    path: Path, account: tuple[SandboxHandle, ZendeskClient, Mappings]
) -> None:
    """sync/ applies the merged actions; the ticket read back equals the simulation, and the
    rules on it (same event) decide nothing more."""
    client, mappings = account.client, account.mappings
    case = load_case(path)
    ticket_id = _create(account, path)
    event = replace(case.event, ticket_id=ticket_id)
    with_comments = event.kind == COMMENT_ADDED
    before = client.read_snapshot(ticket_id, with_comments=with_comments)
    assert _recorded_state(before) == _recorded_state(case.snapshot), "case not reproduced"
    # The recorded decisions (rules see who wrote what, not the sandbox's user ids); notes
    # may name the sandbox's comment times, so they are compared by the pure fixture tests.
    assert _without_notes(decide(before, event, mappings, case.now).decisions) == (
        _without_notes(case.decisions)
    )
    plan = decide(before, event, mappings, case.now)
    apply_in_zendesk(client, before, plan.actions, mappings)
    after = client.read_snapshot(ticket_id, with_comments=with_comments)
    assert _state(after) == _state(apply_actions(before, plan.actions, mappings))
    again = decide(after, event, mappings, case.now)
    assert again.actions == (), again  # bookkeeping alone may remain: it is never written
    assert all(d.bookkeeping for d in again.decisions), again
