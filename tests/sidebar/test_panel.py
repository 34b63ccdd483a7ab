"""triggers/sidebar.py: what the panel says for a ticket, and what its buttons decide (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mappings import Mappings
from triggers.autosolve import TAG_REMINDED, AutoSolveConfig, LastPublicComment
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
    FIELD_DUPLICATE_OF,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    AddTags,
    InternalNote,
    RemoveTags,
    SetField,
    TicketSnapshot,
)
from triggers.sidebar import (
    RULE_PAUSE,
    RULE_RESUME,
    Candidate,
    UndoFacts,
    clock_section,
    duplicates_section,
    evidence,
    history_section,
    not_duplicate_decision,
    pause_decision,
    resolution_section,
    resume_decision,
    status_section,
    undo_offers,
)

CONFIG = AutoSolveConfig(exempt_tags=frozenset({"no_autosolve"}))
REQUESTER, AGENT = 10, 20
ASKED = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 New York
NOW = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # Wednesday evening: two business days counted


def ticket(**changes: object) -> TicketSnapshot:
    values: dict[str, object] = {
        "id": 7,
        "status": "pending",
        "custom_status": "awaiting_reply",
        "updated_stamp": "2026-11-23T15:00:00Z",
        "requester_id": REQUESTER,
        "group": "All Media",
        "fields": {},
        **changes,
    }
    return TicketSnapshot(**values)  # type: ignore[arg-type]


def asked() -> LastPublicComment:
    return LastPublicComment(ASKED, AGENT, author_is_agent=True)


def test_status_is_shown_as_the_requester_sees_it(mappings: Mappings) -> None:
    section = status_section(ticket(), mappings)
    assert section["requester_label"] == "Awaiting your reply"
    assert section["customer_status"] == "Awaiting your reply"
    assert section["meaning"]
    hold = status_section(ticket(status="hold", custom_status="open_product"), mappings)
    assert (
        hold["requester_label"] == "Open"
    )  # agents see "with product/development"; requesters Open


def test_a_running_clock_gives_the_reminder_and_solve_dates_on_the_team_calendar(
    mappings: Mappings,
) -> None:
    clock = clock_section(ticket(), mappings, CONFIG, NOW, asked(), None)
    assert clock["state"] == "running"
    assert clock["started"] == "Monday, November 23, 2026 at 10:00 (America/New_York)"
    # Monday does not count (asked at 10:00); Tue, Wed, then Thanksgiving (Thursday Nov 26,
    # a US holiday) is skipped: the 3rd business day is Friday, the 5th Tuesday Dec 1.
    assert clock["remind_date"] == "Friday, November 27, 2026"
    assert clock["solve_date"] == "Tuesday, December 1, 2026"
    assert "until the end of Tuesday, December 1, 2026" in clock["explanation"]
    assert clock["can_pause"] and not clock["can_resume"]


def test_a_paused_clock_promises_no_dates(mappings: Mappings) -> None:
    clock = clock_section(
        ticket(tags=frozenset({"no_autosolve"})), mappings, CONFIG, NOW, asked(), None
    )
    assert clock["state"] == "paused"
    assert clock["remind_date"] is None and clock["solve_date"] is None
    assert "no_autosolve" in clock["explanation"]
    assert clock["can_resume"] and not clock["can_pause"]


@pytest.mark.parametrize(
    ("snapshot", "last", "state", "words"),
    [
        (ticket(priority="urgent"), asked(), "stopped", "never auto-solved"),
        (ticket(), LastPublicComment(ASKED, REQUESTER, False), "stopped", "requester replied last"),
        (ticket(), None, "not_started", "has not started"),
        (ticket(status="open", custom_status="open_cx"), asked(), "not_running", "“Open”"),
    ],
)
def test_why_the_clock_is_stopped_is_said(
    mappings: Mappings,
    snapshot: TicketSnapshot,
    last: LastPublicComment | None,
    state: str,
    words: str,
) -> None:
    config = AutoSolveConfig(
        exempt_tags=frozenset({"no_autosolve"}), exempt_priorities=frozenset({"urgent"})
    )
    clock = clock_section(snapshot, mappings, config, NOW, last, None)
    assert clock["state"] == state
    assert words in clock["explanation"]


def test_configuration_request_warns_before_solving_on_a_non_lumina_ticket(
    mappings: Mappings,
) -> None:
    prod = resolution_section(ticket(fields={FIELD_PRODUCT: "mo_product_prod"}), mappings)
    warning = prod["draft_notices"]["mo_res_configuration_request"]
    assert warning["level"] == "warning"
    assert "Lumina only" in warning["text"] and "“Prod”" in warning["text"]
    unset = resolution_section(ticket(), mappings)["draft_notices"]["mo_res_configuration_request"]
    assert "no Product yet" in unset["text"]
    lumina = resolution_section(ticket(fields={FIELD_PRODUCT: "mo_product_lumina"}), mappings)
    assert "mo_res_configuration_request" not in lumina["draft_notices"]


def test_the_current_type_says_definition_manager_and_approval(mappings: Mappings) -> None:
    section = resolution_section(
        ticket(fields={FIELD_RESOLUTION_TYPE: "mo_res_data_fix_patch"}), mappings
    )
    current = section["current"]
    assert current["definition"]
    assert current["managed_by"]
    assert current["needs_approval"] is True and current["approval_recorded"] is False
    assert "No approval is recorded yet" in current["notice"]["text"]
    recorded = resolution_section(
        ticket(
            fields={
                FIELD_RESOLUTION_TYPE: "mo_res_data_fix_patch",
                FIELD_DATA_MAINTENANCE_APPROVED: True,
            }
        ),
        mappings,
    )["current"]
    assert recorded["approval_recorded"] is True
    assert "recorded on this ticket" in recorded["notice"]["text"]


def test_pause_adds_the_exempt_tag_clears_the_shown_date_and_says_who() -> None:
    snapshot = ticket(
        tags=frozenset({TAG_REMINDED}), fields={FIELD_AUTO_SOLVE_DUE: date(2026, 12, 2)}
    )
    decision = pause_decision(snapshot, CONFIG, "Alex Agent")
    assert decision.actions[:3] == (
        AddTags(("no_autosolve",)),
        SetField(FIELD_AUTO_SOLVE_DUE, None),
        RemoveTags((TAG_REMINDED,)),
    )
    note = decision.actions[3]
    assert isinstance(note, InternalNote)
    assert "Alex Agent" in note.body and "December 2, 2026" in note.body
    assert pause_decision(ticket(tags=frozenset({"no_autosolve"})), CONFIG, "A").actions == ()
    resumed = resume_decision(ticket(tags=frozenset({"no_autosolve"})), CONFIG, "Alex Agent")
    assert resumed.actions[0] == RemoveTags(("no_autosolve",))
    assert resume_decision(ticket(), CONFIG, "A").actions == ()


def test_not_a_duplicate_removes_the_flag_only_for_that_candidate() -> None:
    flagged = ticket(tags=frozenset({"possible_duplicate"}), fields={FIELD_DUPLICATE_OF: 3})
    decision = not_duplicate_decision(flagged, 3, "Alex Agent")
    assert RemoveTags(("possible_duplicate",)) in decision.actions
    assert SetField(FIELD_DUPLICATE_OF, None) in decision.actions
    other = not_duplicate_decision(flagged, 4, "Alex Agent")
    assert SetField(FIELD_DUPLICATE_OF, None) not in other.actions  # #3 stays linked
    assert not_duplicate_decision(ticket(), 3, "A").actions == ()


def test_evidence_prefers_a_reference_then_matching_sentences() -> None:
    assert evidence(Candidate(3, 0.5, (("a", "b"),), references=True)) == "this ticket mentions #3"
    assert evidence(Candidate(3, 0.5, (("new words", "old words"),))) == "“new words” ↔ “old words”"


def test_history_groups_one_decisions_actions_on_one_line() -> None:
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    entries = [
        {
            "created_at": at,
            "rule": "status_mapping",
            "action": "internal_note",
            "reason": "r",
            "invocation_id": "i",
        },
        {
            "created_at": at,
            "rule": "status_mapping",
            "action": "set_custom_status",
            "reason": "r",
            "invocation_id": "i",
        },
        {
            "created_at": at,
            "rule": "duplicates.flag",
            "action": "add_tags",
            "reason": "d",
            "invocation_id": "i",
        },
    ]
    rows = history_section(entries, "America/New_York")
    assert [r["rule"] for r in rows] == ["Status mapping", "Possible duplicate"]
    assert rows[0]["action"] == "set custom status, internal note"
    assert rows[0]["when"] == "2026-11-23 10:00"


def _line(rule: str, action: str, invocation: str = "i", minute: int = 0) -> dict[str, object]:
    return {
        "created_at": datetime(2026, 11, 23, 15, minute, tzinfo=UTC),
        "rule": rule,
        "action": action,
        "reason": "r",
        "invocation_id": invocation,
    }


def _offers(entries: list[dict[str, object]], facts: UndoFacts) -> list[object]:
    rows = undo_offers(history_section(entries, "America/New_York"), facts)
    return [r["undo"] and r["undo"]["kind"] for r in rows]  # type: ignore[index]


def test_undo_is_offered_on_the_newest_line_the_product_can_undo_now() -> None:
    paused = [_line(RULE_PAUSE, "add_tags", minute=2), _line(RULE_RESUME, "remove_tags")]
    assert _offers(paused, UndoFacts(paused=True, can_pause=True)) == ["pause", None]
    # The tag was removed in Zendesk since: nothing to resume, nothing offered.
    assert _offers(paused, UndoFacts(paused=False, can_pause=True)) == [None, None]
    resumed = [_line(RULE_RESUME, "remove_tags", minute=2), _line(RULE_PAUSE, "add_tags")]
    assert _offers(resumed, UndoFacts(paused=False, can_pause=True)) == ["resume", None]
    soft = [_line("duplicates.soft_merge", "set_custom_status")]
    assert _offers(soft, UndoFacts(soft_merge_undoable=True)) == ["soft_merge"]
    assert _offers(soft, UndoFacts(soft_merge_undoable=False)) == [None]
    solved = [
        _line("auto_solve", "set_custom_status", "run-2", minute=3),
        _line("auto_solve", "set_custom_status", "run-1"),
    ]
    rows = undo_offers(
        history_section(solved, "America/New_York"), UndoFacts(auto_solve_run="run-2")
    )
    assert rows[0]["undo"] == {
        "kind": "auto_solve",
        "label": "Undo auto-solve: reopen",
        "run_id": "run-2",
    }
    assert rows[1]["undo"] is None
    # A Zendesk merge cannot be undone: never offered.
    assert _offers([_line("sidebar.merge", "merge_in")], UndoFacts(soft_merge_undoable=True)) == [
        None
    ]


def test_merge_is_offered_only_where_enabled_with_its_confirmation() -> None:
    candidates = [Candidate(ticket_id=3, score=0.81)]
    assert duplicates_section(candidates, 0.7)["can_merge"] is False
    assert duplicates_section(candidates, 0.7)["merge_confirm"] == {}
    enabled = duplicates_section(candidates, 0.7, can_merge=True)
    assert enabled["can_merge"] is True
    assert "into #3" in enabled["merge_confirm"]["3"]
    assert "cannot be undone" in enabled["merge_confirm"]["3"]
