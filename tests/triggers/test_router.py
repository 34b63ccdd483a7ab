"""The router: registration, dispatch by event kind, loop safety, merging and simulating actions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mappings import Mappings
from triggers.model import (
    COMMENT_ADDED,
    EVENT_KINDS,
    FIELD_RESOLUTION_TYPE,
    STATUS_CHANGED,
    AddTags,
    AssignGroup,
    Comment,
    Decision,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import (
    SIMULATED_AUTHOR_ID,
    Router,
    apply_actions,
    audit_records,
    merge_decisions,
)
from triggers.rules import RULE_MODULES, decide, default_router

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def snapshot(**kw: object) -> TicketSnapshot:
    base: dict[str, object] = {
        "id": 7,
        "status": "open",
        "custom_status": "open_cx",
        "updated_stamp": "2026-11-27T14:00:00Z",
        "requester_id": 50,
        "tags": frozenset({"mo_status_open_cx"}),
    }
    base.update(kw)
    return TicketSnapshot(**base)  # type: ignore[arg-type]


def event(
    kind: str = STATUS_CHANGED, *, by_service: bool = False, ticket_id: int = 7
) -> TicketEvent:
    return TicketEvent(kind=kind, ticket_id=ticket_id, invocation_id="inv-1", by_service=by_service)


def note_rule(name: str) -> Decision:
    return Decision(rule=name, reason="test", actions=(AddTags((name,)), InternalNote(name)))


def test_register_refuses_unknown_or_missing_kinds() -> None:
    """A typo in an event kind fails at import time, not silently at dispatch."""
    router = Router()
    with pytest.raises(ValueError, match="unknown"):
        router.register("ticket_solved")
    with pytest.raises(ValueError, match="needs event kinds"):
        router.register()
    with pytest.raises(ValueError, match="needs_comments"):
        router.register(STATUS_CHANGED, needs_comments=(COMMENT_ADDED,))


def test_same_rule_name_twice_is_refused() -> None:
    router = Router()

    @router.register(STATUS_CHANGED, name="a")
    def first(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        return None

    with pytest.raises(ValueError, match="registered twice"):
        router.register(COMMENT_ADDED, name="a")(first)


def test_dispatch_runs_rules_of_the_event_kind_in_order(mappings: Mappings) -> None:
    """Only rules registered for the kind run, in registration order; None and empty are dropped."""
    router = Router()
    calls: list[str] = []

    @router.register(STATUS_CHANGED, name="one")
    def one(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        calls.append("one")
        return note_rule("one")

    @router.register(COMMENT_ADDED, name="other_kind")
    def other(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        calls.append("other_kind")
        return note_rule("other_kind")

    @router.register(STATUS_CHANGED, name="nothing")
    def nothing(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        calls.append("nothing")
        return Decision(rule="nothing", reason="no actions", actions=())

    @router.register(STATUS_CHANGED, name="two")
    def two(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        calls.append("two")
        return note_rule("two")

    decisions = router.dispatch(snapshot(), event(), mappings, NOW)
    assert [d.rule for d in decisions] == ["one", "two"]
    assert calls == ["one", "nothing", "two"]


def test_service_events_reach_only_rules_that_opt_in(mappings: Mappings) -> None:
    """Loop safety: the service's own updates are not decided on again unless a rule says so."""
    router = Router()

    @router.register(STATUS_CHANGED, name="people_only")
    def people(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        return note_rule("people_only")

    @router.register(STATUS_CHANGED, name="always", on_service_events=True)
    def always(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
        return note_rule("always")

    ours = router.dispatch(snapshot(), event(by_service=True), mappings, NOW)
    theirs = router.dispatch(snapshot(), event(by_service=False), mappings, NOW)
    assert [d.rule for d in ours] == ["always"]
    assert [d.rule for d in theirs] == ["people_only", "always"]


def test_only_status_mapping_runs_on_service_events() -> None:
    """The shipped rules: status mapping alone opts in to the service's own events."""
    opted = [r.name for r in default_router().registrations if r.on_service_events]
    assert opted == ["status_mapping"]


def test_dispatch_refuses_an_event_for_another_ticket(mappings: Mappings) -> None:
    with pytest.raises(ValueError, match="ticket 8, not ticket 7"):
        default_router().dispatch(snapshot(), event(ticket_id=8), mappings, NOW)


def test_dispatch_refuses_unknown_kinds(mappings: Mappings) -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        default_router().dispatch(snapshot(), event(kind="ticket_deleted"), mappings, NOW)


def test_default_router_combines_every_rule_module_in_order() -> None:
    """Adding a module to RULE_MODULES is all it takes to register its rules."""
    names = default_router().rule_names
    assert names == (
        "reserved_types",
        "duplicate_needs_ticket",
        "product_restriction",
        "data_maintenance_approval",
        "managed_by_routing",
        "status_mapping",
    )
    assert RULE_MODULES[-1] == "status_mapping"


def test_comments_are_needed_only_for_requester_replies() -> None:
    """Callers read a ticket's comments (two more API calls) only for comment_added by people."""
    router = default_router()
    assert router.needs_comments(COMMENT_ADDED)
    assert not router.needs_comments(COMMENT_ADDED, by_service=True)
    assert [k for k in EVENT_KINDS if router.needs_comments(k)] == [COMMENT_ADDED]


def test_merge_later_actions_win_and_tags_reconcile() -> None:
    """Status and fields: last write wins; tags: one remove and one add giving the same end state."""
    snap = snapshot(
        tags=frozenset({"mo_status_open_cx", "keep", "drop", "mo_res_code_fix"}),
        fields={FIELD_RESOLUTION_TYPE: "mo_res_code_fix"},
    )
    decisions = [
        Decision(
            "a",
            "r",
            (
                SetCustomStatus("open_product"),
                AddTags(("mo_status_open_product", "x")),
                SetField(FIELD_RESOLUTION_TYPE, "mo_res_technical"),
                InternalNote("A1"),
                InternalNote("A2"),
            ),
        ),
        Decision(
            "b",
            "r",
            (
                SetCustomStatus("awaiting_reply"),
                RemoveTags(("drop", "x")),
                SetField(FIELD_RESOLUTION_TYPE, "mo_res_duplicate"),
                AssignGroup("prod"),
                PublicComment("P"),
                InternalNote("B"),
            ),
        ),
    ]
    assert merge_decisions(snap, decisions) == (
        SetCustomStatus("awaiting_reply"),
        SetField(FIELD_RESOLUTION_TYPE, "mo_res_duplicate"),
        AssignGroup("prod"),
        RemoveTags(("drop", "mo_res_code_fix", "mo_status_open_cx")),
        AddTags(("mo_res_duplicate", "mo_status_awaiting_reply")),
        InternalNote("A1 A2\n\nB"),
        PublicComment("P"),
    )


def test_merge_drops_changes_that_leave_the_ticket_as_it_is(mappings: Mappings) -> None:
    snap = snapshot(fields={FIELD_RESOLUTION_TYPE: None})
    decisions = [
        Decision(
            "a",
            "r",
            (
                SetCustomStatus("open_cx"),
                SetField(FIELD_RESOLUTION_TYPE, None),
                AddTags(("mo_status_open_cx",)),
                InternalNote("N"),
            ),
        )
    ]
    assert merge_decisions(snap, decisions, mappings) == (InternalNote("N"),)
    assert merge_decisions(snap, [], mappings) == ()


def test_merge_keeps_the_current_status_when_it_does_not_fit_the_category(
    mappings: Mappings,
) -> None:
    """Open ticket with an Awaiting status (mappings and Zendesk disagree): confirming the
    status is a real change, so it is sent; so it is when mappings are not given to tell."""
    snap = snapshot(
        status="open", custom_status="awaiting_reply", tags=frozenset({"mo_status_awaiting_reply"})
    )
    decisions = [Decision("a", "r", (SetCustomStatus("awaiting_reply"), InternalNote("N")))]
    assert merge_decisions(snap, decisions, mappings) == (
        SetCustomStatus("awaiting_reply"),
        InternalNote("N"),
    )
    consistent = snapshot()
    keep = [Decision("a", "r", (SetCustomStatus("open_cx"), InternalNote("N")))]
    assert merge_decisions(consistent, keep) == (SetCustomStatus("open_cx"), InternalNote("N"))


def test_apply_actions_simulates_zendesk(mappings: Mappings) -> None:
    """A custom status brings its category and tag; tagger fields swap tags; comments are appended."""
    at = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    snap = snapshot(
        tags=frozenset({"mo_status_open_cx", "mo_res_code_fix"}),
        fields={FIELD_RESOLUTION_TYPE: "mo_res_code_fix"},
        comments=(Comment(author_id=50, public=True, created_at=at, body="hi"),),
    )
    after = apply_actions(
        snap,
        (
            SetCustomStatus("open_product"),
            SetField(FIELD_RESOLUTION_TYPE, None),
            AssignGroup("account_management"),
            AddTags(("t",)),
            InternalNote("why"),
            PublicComment("hello"),
        ),
        mappings,
    )
    assert (after.status, after.custom_status) == ("hold", "open_product")
    assert after.tags == frozenset({"mo_status_open_product", "t"})
    assert after.field(FIELD_RESOLUTION_TYPE) is None
    assert after.group == "Account Management"
    assert [(c.body, c.public, c.author_id, c.created_at) for c in after.comments[1:]] == [
        ("why", False, SIMULATED_AUTHOR_ID, at),
        ("hello", True, SIMULATED_AUTHOR_ID, at),
    ]
    assert snap.status == "open"  # the input is not changed


def test_apply_actions_refuses_values_mappings_do_not_know(mappings: Mappings) -> None:
    """A status or team that is not in mappings/ is a clear error, not a half-simulated ticket."""
    with pytest.raises(ValueError, match="custom status 'retired'"):
        apply_actions(snapshot(), (SetCustomStatus("retired"),), mappings)
    with pytest.raises(ValueError, match="team 'sales'"):
        apply_actions(snapshot(), (AssignGroup("sales"),), mappings)


def test_decide_dispatches_and_merges(mappings: Mappings) -> None:
    """decide() is dispatch + merge with the default router: one call for the worker."""
    snap = snapshot(status="hold", custom_status="open_cx")
    plan = decide(snap, event(), mappings, NOW)
    assert [d.rule for d in plan.decisions] == ["status_mapping"]
    assert plan.actions == merge_decisions(snap, plan.decisions, mappings)
    assert plan.actions[0] == SetCustomStatus("open_product")
    assert decide(snapshot(), event(), mappings, NOW).actions == ()


def test_each_rule_sees_the_ticket_as_earlier_rules_left_it(mappings: Mappings) -> None:
    """A later rule does not redo (or write a note about) what an earlier rule already did."""
    router = Router()
    seen: list[frozenset[str]] = []

    def tagger(name: str) -> None:
        @router.register(STATUS_CHANGED, name=name)
        def rule(s: TicketSnapshot, e: TicketEvent, m: Mappings, n: datetime) -> Decision | None:
            seen.append(s.tags)
            if "done" in s.tags:
                return None
            return Decision(name, "r", (AddTags(("done",)), InternalNote(name)))

    tagger("first")
    tagger("second")
    decisions = router.dispatch(snapshot(), event(), mappings, NOW)
    assert [d.rule for d in decisions] == ["first"]
    assert seen == [frozenset({"mo_status_open_cx"}), frozenset({"mo_status_open_cx", "done"})]


def test_audit_records_give_before_and_after_per_action(mappings: Mappings) -> None:
    """What the audit trail stores: rule, action, reason and JSON-ready before → after."""
    snap = snapshot(
        status="solved",
        custom_status="solved",
        tags=frozenset({"mo_status_solved", "mo_res_data_fix_patch"}),
        fields={FIELD_RESOLUTION_TYPE: "mo_res_data_fix_patch"},
        group="Prod",
    )
    decisions = [
        Decision(
            "first",
            "because",
            (SetCustomStatus("awaiting_reply"), AddTags(("x",)), PublicComment("P")),
        ),
        Decision(
            "second",
            "also",
            (SetField(FIELD_RESOLUTION_TYPE, None), AssignGroup("tech"), InternalNote("N")),
        ),
    ]
    records = audit_records(snap, decisions, mappings)
    assert [(r.rule, r.action, r.reason, r.before, r.after) for r in records] == [
        ("first", "set_custom_status", "because", "solved", "awaiting_reply"),
        (
            "first",
            "add_tags",
            "because",
            ["mo_res_data_fix_patch", "mo_status_awaiting_reply"],
            ["mo_res_data_fix_patch", "mo_status_awaiting_reply", "x"],
        ),
        ("first", "public_comment", "because", None, "P"),
        (
            "second",
            "set_field",
            "also",
            {FIELD_RESOLUTION_TYPE: "mo_res_data_fix_patch"},
            {FIELD_RESOLUTION_TYPE: None},
        ),
        ("second", "assign_group", "also", "Prod", "Tech"),
        ("second", "internal_note", "also", None, "N"),
    ]
