"""Snapshots resolved to mappings values, and actions applied as safe updates (sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from mappings import Mappings
from sandbox.testing import SandboxHandle
from sync import NotProvisioned, TicketConflict, ZendeskClient
from sync.snapshot import Provisioned, build_updates, comment_via
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
    FIELD_DUPLICATE_OF,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    AddTags,
    AssignGroup,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
)

from .conftest import api_calls, make_ticket


def _ids(client: ZendeskClient) -> Provisioned:
    return Provisioned.load(client)


def test_read_snapshot_resolves_custom_status_fields_and_group(
    provisioned: ZendeskClient, zd: SandboxHandle
) -> None:
    ids = _ids(provisioned)
    group_id = next(g["id"] for g in provisioned.groups() if g["name"] == "Finance")
    ticket = make_ticket(
        zd,
        custom_status_id=ids.custom_statuses["open_product"],
        group_id=group_id,
        custom_fields=[
            {"id": ids.fields[FIELD_RESOLUTION_TYPE], "value": "mo_res_code_fix"},
            {"id": ids.fields[FIELD_PRODUCT], "value": "mo_product_lumina"},
            {"id": ids.fields[FIELD_DUPLICATE_OF], "value": 7},
            {"id": ids.fields[FIELD_AUTO_SOLVE_DUE], "value": "2026-12-04"},
        ],
    )
    snapshot = provisioned.read_snapshot(ticket["id"], with_comments=True)
    assert snapshot.status == "hold"
    assert snapshot.custom_status == "open_product"
    assert snapshot.group == "Finance"
    assert snapshot.updated_stamp == ticket["updated_at"]
    assert snapshot.fields == {
        FIELD_RESOLUTION_TYPE: "mo_res_code_fix",
        FIELD_PRODUCT: "mo_product_lumina",
        FIELD_DUPLICATE_OF: 7,
        FIELD_AUTO_SOLVE_DUE: date(2026, 12, 4),
        FIELD_DATA_MAINTENANCE_APPROVED: False,
    }
    assert "mo_res_code_fix" in snapshot.tags
    (comment,) = snapshot.comments
    assert comment.body == "It fails since this morning." and not comment.author_is_agent


def test_an_unmapped_status_reads_as_none(provisioned: ZendeskClient, zd: SandboxHandle) -> None:
    pending_default = next(
        s["id"] for s in provisioned.custom_statuses() if s["agent_label"] == "Pending"
    )
    ticket = make_ticket(zd, custom_status_id=pending_default)
    assert provisioned.read_snapshot(ticket["id"]).custom_status is None


def test_actions_become_one_safe_update_with_full_tags_and_a_private_note(
    provisioned: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd, tags=["keep", "drop_me"])
    snapshot = provisioned.read_snapshot(ticket["id"])
    zd.reset_stats()
    result = provisioned.apply_actions(
        snapshot,
        [
            SetCustomStatus("open_product"),
            SetField(FIELD_RESOLUTION_TYPE, "mo_res_record_changed_by_account_management"),
            AddTags(("mo_flagged",)),
            RemoveTags(("drop_me",)),
            AssignGroup("account_management"),
            InternalNote("Moved to product."),
            InternalNote("Account Management will reach out."),
        ],
    )
    assert api_calls(zd.stats()) == {"PUT /api/v2/tickets/<int:ticket_id>": 1}
    (update,) = result.updates
    assert update["comment"] == {
        "body": "Moved to product.\n\nAccount Management will reach out.",
        "public": False,
    }
    after = provisioned.read_snapshot(ticket["id"], with_comments=True)
    assert after.custom_status == "open_product" and after.status == "hold"
    assert after.group == "Account Management"
    assert after.field(FIELD_RESOLUTION_TYPE) == "mo_res_record_changed_by_account_management"
    assert after.tags == {
        "keep",
        "mo_flagged",
        "mo_status_open_product",
        "mo_res_record_changed_by_account_management",
    }
    assert [(c.public, c.author_is_agent) for c in after.comments] == [(True, False), (False, True)]
    assert result.updated_stamp == after.updated_stamp


def test_applying_the_same_actions_again_sends_nothing(
    provisioned: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    actions = [
        SetCustomStatus("awaiting_reply"),
        SetField(FIELD_DATA_MAINTENANCE_APPROVED, True),
        SetField(FIELD_AUTO_SOLVE_DUE, date(2026, 12, 9)),
    ]
    provisioned.apply_actions(provisioned.read_snapshot(ticket["id"]), actions)
    again = provisioned.read_snapshot(ticket["id"])
    assert again.field(FIELD_DATA_MAINTENANCE_APPROVED) is True
    assert "mo_data_maintenance_approved" in again.tags
    zd.reset_stats()
    result = provisioned.apply_actions(again, actions)
    assert result.updates == [] and api_calls(zd.stats()) == {}


def test_a_public_comment_with_a_note_is_two_updates_note_first(
    provisioned: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    result = provisioned.apply_actions(
        provisioned.read_snapshot(ticket["id"]),
        [
            SetCustomStatus("awaiting_reply"),
            InternalNote("Asked for approval."),
            PublicComment("Please approve the data change."),
        ],
    )
    assert [u.get("comment", {}).get("public") for u in result.updates] == [False, True]
    assert "custom_status_id" in result.updates[0] and "custom_status_id" not in result.updates[1]
    comments = provisioned.read_snapshot(ticket["id"], with_comments=True).comments
    assert [(c.body, c.public) for c in comments[1:]] == [
        ("Asked for approval.", False),
        ("Please approve the data change.", True),
    ]


def test_apply_actions_on_a_stale_snapshot_raises_a_conflict_and_changes_nothing(
    provisioned: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    snapshot = provisioned.read_snapshot(ticket["id"])
    zd.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"priority": "urgent"}})
    with pytest.raises(TicketConflict) as caught:
        provisioned.apply_actions(snapshot, [AddTags(("x",)), InternalNote("n")])
    assert not caught.value.after_first_update
    fresh = provisioned.read_snapshot(ticket["id"], with_comments=True)
    assert "x" not in fresh.tags and len(fresh.comments) == 1


def test_build_updates_needs_provisioned_ids(
    provisioned: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    snapshot = provisioned.read_snapshot(make_ticket(zd)["id"])
    with pytest.raises(NotProvisioned, match="not provisioned"):
        build_updates(snapshot, [SetCustomStatus("new")], Provisioned(), mappings, {})


def test_a_public_comment_losing_a_race_after_the_first_update_is_sent_on_the_new_stamp(
    provisioned: ZendeskClient, make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    """Seeded faults on the ticket's path: first PUT passes, second gets 409, the re-read and
    the resent comment pass."""
    # The sandbox's injected answers claim an empty rate budget (X-Rate-Limit-Remaining: 0),
    # which would make the client wait a minute: time is the edge we fake here.
    slept: list[float] = []
    client = make_client(state=provisioned.state, sleep=slept.append)
    ticket = make_ticket(zd)
    snapshot = client.read_snapshot(ticket["id"])
    zd.set_faults(
        status=409, error_rate=0.5, random_seed=37, paths=[f"/api/v2/tickets/{ticket['id']}"]
    )
    result = client.apply_actions(
        snapshot, [SetCustomStatus("awaiting_reply"), InternalNote("n"), PublicComment("p")]
    )
    zd.clear_faults()
    assert api_calls(zd.stats())["PUT /api/v2/tickets/<int:ticket_id>"] == 3
    comments = provisioned.read_snapshot(ticket["id"], with_comments=True).comments
    assert [(c.body, c.public) for c in comments[1:]] == [("n", False), ("p", True)]
    assert result.updated_stamp == provisioned.ticket(ticket["id"])["updated_at"]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"via": {"channel": "email", "source": {"rel": None}}}, ("email", None)),
        ({"via": {"channel": "web", "source": {"rel": "merge"}}}, ("web", "merge")),
        ({"via": {"channel": "api"}}, ("api", None)),
        ({"via": {"source": {"rel": "follow_up"}}}, (None, "follow_up")),  # no "None" text
        ({"via": None}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_comment_via_reads_zendesks_via_object(
    item: dict[str, object], expected: tuple[str | None, str | None]
) -> None:
    """The Via object of a comment (comments endpoint) or of a ticket event's Comment child
    (the sweep's export): the same reading for both, None where Zendesk sent nothing."""
    assert comment_via(item) == expected
