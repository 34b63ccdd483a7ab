"""Write-time re-decisions, conflicts, undo of a run's solves, and the requester-reply rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from mappings import Team
from tests.autosolve.helpers import agent_comment, apply, end_user_comment, ny, snapshot
from triggers import autosolve_texts as texts
from triggers.autosolve import (
    RESOLUTION_AUTO_SOLVED,
    RULE_UNDO,
    TAG_REMINDED,
    TAG_SOLVED,
    AutoSolveConfig,
    AutoSolveDecision,
    EpisodeState,
    Outcome,
    after_requester_reply,
    clock_reads_comments,
    conflict,
    decide,
    undo_actions,
    undo_decision,
    webhook_actions,
)
from triggers.clock import ClockFacts
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_RESOLUTION_TYPE,
    InternalNote,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketSnapshot,
)

CLOCK = ny(2026, 11, 25, 10)
REMINDED = EpisodeState(CLOCK, reminded_at=ny(2026, 12, 2, 2), due=date(2026, 12, 3))


@pytest.fixture
def solve(all_media: Team, config: AutoSolveConfig) -> AutoSolveDecision:
    result = decide(
        snapshot(), agent_comment(CLOCK), all_media, config, ny(2026, 12, 4, 2), REMINDED
    )
    assert result.decision is Outcome.SOLVE
    return result


# Write time: the sweep's safe update carries the snapshot's stamp, so Zendesk refuses the
# write when anything changed (tests/sweep: reply or exempt tag between listing and write);
# the sweep then re-reads the ticket and decides again. These are the re-decisions.


def test_redecided_on_the_unchanged_ticket_the_solve_stands(
    solve: AutoSolveDecision, all_media: Team, config: AutoSolveConfig
) -> None:
    again = decide(
        snapshot(), agent_comment(CLOCK), all_media, config, ny(2026, 12, 4, 2), REMINDED
    )
    assert again == solve


@pytest.mark.parametrize(
    ("fresh", "outcome"),
    [
        (snapshot(tags=frozenset({"no_autosolve"})), Outcome.EXEMPT),  # exempt tag added since
        (snapshot(priority="urgent"), Outcome.EXEMPT),
        (snapshot(custom_status="open_cx", status="open"), Outcome.SKIP),  # no longer awaiting
    ],
)
def test_redecided_on_a_changed_ticket_nothing_is_written(
    all_media: Team, config: AutoSolveConfig, fresh: object, outcome: Outcome
) -> None:
    again = decide(fresh, agent_comment(CLOCK), all_media, config, ny(2026, 12, 4, 2), None)  # type: ignore[arg-type]
    assert again.decision is outcome
    assert again.actions == ()


def test_a_requester_reply_since_means_waiting_on_us_and_nothing_written(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """Waiting-on-us decisions are never written."""
    waiting = decide(
        snapshot(),
        end_user_comment(CLOCK),
        all_media,
        config,
        ny(2026, 12, 4),
        None,
    )
    assert waiting.decision is Outcome.WAITING_ON_US
    assert waiting.actions == ()


def test_conflict_keeps_facts_and_drops_actions(solve: AutoSolveDecision) -> None:
    """A 409 is reported as conflict, with the clock facts, and nothing to write."""
    result = conflict(solve, "updated_at changed")
    assert result.decision is Outcome.CONFLICT
    assert result.actions == ()
    assert (result.due, result.business_days_elapsed) == (date(2026, 12, 3), 5)
    assert result.reason == texts.REASON_CONFLICT.format(detail="updated_at changed")


def test_undo_actions_restore_status_and_clear_resolution() -> None:
    """Undo: previous status back, resolution type cleared, solve tag removed, a note."""
    assert undo_actions("awaiting_reply", "run-7") == (
        SetCustomStatus("awaiting_reply"),
        SetField(FIELD_RESOLUTION_TYPE, None),
        RemoveTags((TAG_SOLVED,)),
        InternalNote(texts.UNDO_NOTE.format(run_id="run-7", status="awaiting_reply")),
    )


def test_undo_decision_restores_what_the_run_solved(solve: AutoSolveDecision) -> None:
    """Applied to the solved ticket, undo brings back the status and drops the resolution."""
    solved = apply(snapshot(), solve.actions, "s2")
    solved = replace(solved, status="solved")
    result = undo_decision(solved, solve.previous_status or "", "run-7")
    assert result.rule == RULE_UNDO
    restored = apply(solved, result.actions, "s3")
    assert restored.custom_status == "awaiting_reply"
    assert restored.field(FIELD_RESOLUTION_TYPE) is None
    assert TAG_SOLVED not in restored.tags


@pytest.mark.parametrize(
    ("current", "reason"),
    [
        (snapshot(status="closed", custom_status="solved"), texts.UNDO_CLOSED),
        (
            snapshot(status="open", custom_status="open_cx"),
            texts.UNDO_NOT_SOLVED.format(status="open_cx"),
        ),
        (
            snapshot(
                status="solved",
                custom_status="solved",
                fields={FIELD_RESOLUTION_TYPE: "mo_res_fixed"},
            ),
            texts.UNDO_OTHER_RESOLUTION.format(resolution_type="mo_res_fixed"),
        ),
    ],
)
def test_undo_never_overwrites_later_work(current: object, reason: str) -> None:
    """Closed, reopened or re-resolved tickets are reported, not changed."""
    result = undo_decision(current, "awaiting_reply", "run-7")  # type: ignore[arg-type]
    assert (result.actions, result.reason) == ((), reason)


SOLVED_AT = ny(2026, 12, 4, 2)
REPLY = ClockFacts(
    agent_public=CLOCK, service_public=SOLVED_AT, end_user=ny(2026, 12, 4, 9), end_user_id=500
)


def test_requester_reply_after_auto_solve_clears_resolution_type_and_tags() -> None:
    """Zendesk reopened the ticket on the reply; the auto-solve resolution type and its tags
    are cleared, with a note naming who replied."""
    reopened = snapshot(
        status="open",
        custom_status="open_cx",
        fields={FIELD_RESOLUTION_TYPE: RESOLUTION_AUTO_SOLVED},
        tags=frozenset({TAG_SOLVED, TAG_REMINDED}),
    )
    result = after_requester_reply(reopened, REPLY)
    assert result is not None
    assert result.actions == (
        SetField(FIELD_RESOLUTION_TYPE, None),
        RemoveTags((TAG_REMINDED, TAG_SOLVED)),
        InternalNote(texts.REOPENED_NOTE.format(who=texts.WHO_REQUESTER)),
    )
    cc = after_requester_reply(reopened, replace(REPLY, end_user_id=600))
    assert cc is not None
    assert cc.actions[-1] == InternalNote(texts.REOPENED_NOTE.format(who=texts.WHO_CC))


@pytest.mark.parametrize(
    ("ticket", "reads"),
    [
        (snapshot(), True),  # awaiting: a clock may start or run
        (snapshot(status="open", custom_status="open_cx"), False),
        (snapshot(status="hold", custom_status="open_product"), False),
        (snapshot(status="solved", custom_status="solved"), False),
        (snapshot(custom_status=None, status="open"), False),
        # left "Awaiting your reply" while its clock ran: clear the date, say why
        (
            snapshot(
                status="open", custom_status="open_cx", fields={FIELD_AUTO_SOLVE_DUE: "2026-12-03"}
            ),
            True,
        ),
        # reopened after an auto-solve: a reply clears the resolution type
        (
            snapshot(
                status="open",
                custom_status="open_cx",
                fields={FIELD_RESOLUTION_TYPE: RESOLUTION_AUTO_SOLVED},
            ),
            True,
        ),
        (
            snapshot(
                status="solved",
                custom_status="solved",
                fields={FIELD_RESOLUTION_TYPE: RESOLUTION_AUTO_SOLVED},
            ),
            False,
        ),
    ],
)
def test_the_clock_reads_comments_only_where_they_can_change_its_decision(
    ticket: TicketSnapshot, reads: bool, all_media: Team, config: AutoSolveConfig
) -> None:
    """Where `clock_reads_comments` says no, the webhook decisions are empty whatever the
    comments say; where it says yes, the comments change them (here: an end user's reply
    after a reminder and an auto-solve, against an agent's question alone)."""
    assert clock_reads_comments(ticket, config) is reads
    written: set[tuple[object, ...]] = set()
    for facts in (REPLY, ClockFacts(agent_public=CLOCK)):
        result = decide(
            ticket,
            facts,
            all_media,
            config,
            ny(2026, 11, 26, 10),
            REMINDED,
            reopened_by_end_user=True,
        )
        reply = after_requester_reply(ticket, facts)
        written.add(webhook_actions(result, ticket) + (reply.actions if reply else ()))
    assert (len(written) > 1) is reads, written


def test_requester_reply_stops_the_clock_and_clears_due_date(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """A reply while awaiting clears the due date and the reminder tag, with a note."""
    waiting = snapshot(fields={FIELD_AUTO_SOLVE_DUE: "2026-12-03"}, tags=frozenset({TAG_REMINDED}))
    facts = ClockFacts(agent_public=CLOCK, end_user=ny(2026, 12, 2, 9), end_user_id=500)
    result = decide(waiting, facts, all_media, config, ny(2026, 12, 2, 10), REMINDED)
    assert result.decision is Outcome.WAITING_ON_US
    assert result.actions == (
        SetField(FIELD_AUTO_SOLVE_DUE, None),
        RemoveTags((TAG_REMINDED,)),
        InternalNote(
            texts.CLOCK_STOPPED_NOTE.format(
                who=texts.WHO_REQUESTER, due_date="Thursday, December 3, 2026"
            )
        ),
    )


def test_reply_rule_ignores_agents_comments_nobody_replying_and_stale_solved_snapshots() -> None:
    """Still-solved snapshots, an agent reopening without a reply, an agent's later comment and
    plain tickets: no action."""
    auto_solved = snapshot(
        status="solved",
        custom_status="solved",
        fields={FIELD_RESOLUTION_TYPE: RESOLUTION_AUTO_SOLVED},
    )
    assert after_requester_reply(auto_solved, REPLY) is None
    assert after_requester_reply(snapshot(), REPLY) is None
    reopened = replace(auto_solved, status="open", custom_status="open_cx")
    no_reply = ClockFacts(agent_public=CLOCK, service_public=SOLVED_AT)
    assert after_requester_reply(reopened, no_reply) is None
    agent_after = replace(REPLY, agent_public=ny(2026, 12, 4, 10))
    assert after_requester_reply(reopened, agent_after) is None
