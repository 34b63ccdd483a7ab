"""Property test of the auto-solve clock over random ticket histories (issue 14).

A small model of one Zendesk ticket (end-user comments reopen it, as Zendesk does) lives
through random steps: agents' public comments and internal notes, requester / CC / other end
user comments (public and private), auto-replies, a merged-in requester message, status and team
changes, the exempt tag added and removed, nightly sweeps at random times (across DST changes and
both countries' holidays), the webhook handler's decisions after every change (each event
delivered twice), and undo. The clock's facts are always folded from the comments in a shuffled
order with duplicates. Checked on every step:

1. reminder first: a solve only with a reminder in the current episode at least
   solve_after - remind_after business days earlier;
2. promises hold: never solved before the end of any date shown in the episode;
3. any end-user comment stops the clock (never solved after one); same decision from the
   comments in any order and with duplicates; after an auto-solve a reply clears its
   resolution type and tags;
4. auto-replies neither stop the clock nor leave it stopped;
5. undo means not again in this episode;
6. "Auto-solve due" shown iff a clock runs (after the events of a change are handled);
and a second delivery of the same events changes nothing, and the webhook decisions change
nothing on a ticket for which the handler reads no comments (`clock_reads_comments`).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Mappings
from tests.autosolve.helpers import apply
from triggers.autosolve import (
    RESOLUTION_AUTO_SOLVED,
    TAG_REMINDED,
    TAG_SOLVED,
    AutoSolveConfig,
    AutoSolveDecision,
    EpisodeState,
    Outcome,
    after_requester_reply,
    clock_reads_comments,
    decide,
    next_state,
    undo_actions,
    webhook_actions,
)
from triggers.business_days import business_day_end as deadline
from triggers.business_days import business_days_between
from triggers.clock import facts_from_comments
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_RESOLUTION_TYPE,
    Comment,
    InternalNote,
    PublicComment,
    SetCustomStatus,
    TicketSnapshot,
)

SERVICE, AGENT, REQUESTER, CC, OTHER = 1, 900, 500, 600, 700
GROUPS = ("All Media", "Canadian Spot", "Tech")
UTC = ZoneInfo("UTC")
EXAMPLES = int(os.environ.get("CXLAYER_TEST_CLOCK_EXAMPLES", "2000"))

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("agent_public"), st.booleans()),
        st.tuples(st.just("agent_note"), st.just(False)),
        st.tuples(st.sampled_from(["requester", "cc", "other"]), st.booleans()),
        st.tuples(st.just("auto_reply"), st.just(True)),
        st.tuples(st.just("merge"), st.just(False)),
        st.tuples(st.just("status"), st.sampled_from(["awaiting_reply", "open_cx", "on_hold"])),
        st.tuples(st.just("team"), st.sampled_from(GROUPS)),
        st.tuples(st.just("exempt"), st.booleans()),
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=120)),
        st.tuples(st.just("sweep"), st.integers(min_value=0, max_value=23)),
        st.tuples(st.just("undo"), st.just(True)),
    ),
    min_size=1,
    max_size=40,
)


def _due(ticket: TicketSnapshot) -> date | None:
    value = ticket.field(FIELD_AUTO_SOLVE_DUE)
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value if isinstance(value, date) else None


@dataclass
class Desk:
    """One ticket as Zendesk holds it, the store's episode record, and what was shown."""

    mappings: Mappings
    config: AutoSolveConfig
    rng: random.Random
    now: datetime
    ticket: TicketSnapshot
    comments: list[Comment] = field(default_factory=list)
    state: EpisodeState | None = None
    shown: dict[datetime, set[date]] = field(default_factory=dict)  # per clock start
    reminders: dict[datetime, list[datetime]] = field(default_factory=dict)
    undone: set[datetime] = field(default_factory=set)
    last_solve: AutoSolveDecision | None = None
    stamp: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    # ---- Zendesk's side
    def tick(self, minutes: int = 1) -> None:
        self.now += timedelta(minutes=minutes)

    def comment(self, author: int, public: bool, body: str = "", **extra: Any) -> None:
        self.tick()
        self.comments.append(
            Comment(author, public, self.now, body, author_is_agent=author in (AGENT,), **extra)
        )
        if author not in (AGENT, SERVICE) and self.ticket.status in ("pending", "solved", "hold"):
            # Zendesk: an end user's comment reopens the ticket.
            self.ticket = replace(self.ticket, status="open", custom_status="open_cx")
        self.events(by_end_user=author not in (AGENT, SERVICE))

    def set_status(self, value: str) -> None:
        category = {"awaiting_reply": "pending", "open_cx": "open", "on_hold": "hold"}[value]
        if self.ticket.status in ("solved", "closed") and value != "open_cx":
            return
        self.ticket = replace(self.ticket, status=category, custom_status=value)
        self.events()

    def write(self, actions: tuple[Any, ...], by_sweep: bool) -> None:
        if not actions:
            return
        self.stamp += 1
        self.tick()
        self.ticket = apply(self.ticket, actions, str(self.stamp))
        for action in actions:
            if isinstance(action, SetCustomStatus):
                status = "solved" if action.value == "solved" else "pending"
                if action.value == "open_cx":
                    status = "open"
                self.ticket = replace(self.ticket, status=status)
            if isinstance(action, PublicComment):
                self.comments.append(Comment(SERVICE, True, self.now, action.body, True))
            if isinstance(action, InternalNote) and not (
                by_sweep and any(isinstance(a, PublicComment) for a in actions)
            ):
                self.comments.append(Comment(SERVICE, False, self.now, action.body, True))
        clock = self.clock_start()
        shown = _due(self.ticket)
        if clock is not None and shown is not None:
            self.shown.setdefault(clock, set()).add(shown)

    # ---- cxlayer's side
    def facts(self) -> Any:
        """The comments folded in a shuffled order with duplicates: same facts as in order."""
        noisy = self.comments + self.rng.sample(self.comments, k=len(self.comments) // 2)
        self.rng.shuffle(noisy)
        facts = facts_from_comments(noisy, [SERVICE])
        assert facts == facts_from_comments(self.comments, [SERVICE])
        return facts

    def clock_start(self) -> datetime | None:
        return facts_from_comments(self.comments, [SERVICE]).clock_start

    def decide(self, by_end_user: bool = False) -> AutoSolveDecision:
        team = self.mappings.team_for_group(self.ticket.group)
        return decide(
            self.ticket,
            self.facts(),
            team,
            self.config,
            self.now,
            self.state,
            reopened_by_end_user=by_end_user,
        )

    def events(self, by_end_user: bool = False) -> None:
        """The webhook handler after a change: the clock's decision minus reminders and solves,
        and the reply rule; each event delivered twice (the second must change nothing)."""
        for delivery in (1, 2):
            result = self.decide(by_end_user)
            actions: tuple[Any, ...] = webhook_actions(result, self.ticket)
            reply = after_requester_reply(self.ticket, self.facts())
            if reply is not None:
                actions = actions + reply.actions
            if delivery == 2:
                assert actions == (), "a duplicate delivery changed the ticket again"
            if not clock_reads_comments(self.ticket, self.config):
                # The handler reads no comments for a status change on such a ticket.
                assert actions == (), "the clock acted where the handler reads no comments"
                self.counts["no comments read"] = self.counts.get("no comments read", 0) + 1
            self.write(actions, by_sweep=False)
        self.check_due_shown_iff_running()

    def sweep(self, hour: int) -> None:
        local = self.now.astimezone(ZoneInfo("America/New_York"))
        target = local.replace(hour=hour, minute=0) + timedelta(days=1)
        self.now = target.astimezone(UTC)
        result = self.decide()
        self.counts[result.decision] = self.counts.get(result.decision, 0) + 1
        if result.decision is Outcome.SOLVE:
            self.check_solve(result)
            self.last_solve = result
        if result.decision is Outcome.REMIND:
            assert result.due is not None
            assert result.clock_start is not None
            self.reminders.setdefault(result.clock_start, []).append(self.now)
        self.write(result.actions, by_sweep=True)
        if result.actions:
            self.state = next_state(result, self.state, self.now)

    def undo(self) -> None:
        solved = self.last_solve
        if solved is None or self.ticket.status != "solved":
            return
        if self.ticket.field(FIELD_RESOLUTION_TYPE) != RESOLUTION_AUTO_SOLVED:
            return
        self.write(undo_actions("awaiting_reply", "run-x"), by_sweep=False)
        assert solved.clock_start is not None
        self.undone.add(solved.clock_start)
        self.state = replace(
            self.state or EpisodeState(solved.clock_start), clock_start=solved.clock_start
        )
        self.state = replace(self.state, undone=True)
        self.last_solve = None
        self.events()

    # ---- the invariants
    def check_solve(self, result: AutoSolveDecision) -> None:
        clock = result.clock_start
        assert clock is not None
        team = self.mappings.team_for_group(self.ticket.group)
        gap = self.config.solve_after - self.config.remind_after
        reminders = self.reminders.get(clock, [])
        assert reminders, "solved without a reminder in this episode"
        assert business_days_between(team, reminders[0], self.now) >= gap, "reminder too late"
        for promised in self.shown.get(clock, set()):
            assert self.now >= deadline(team, promised), f"solved before the promised {promised}"
        later = [
            c
            for c in self.comments
            if c.created_at > clock
            and c.author_id in (REQUESTER, CC, OTHER)
            and "Automatic reply" not in c.body
        ]
        assert not later, "solved after an end user spoke"
        assert clock not in self.undone, "solved again in an undone episode"

    def check_due_shown_iff_running(self) -> None:
        ticket = self.ticket
        shown = _due(ticket)
        if ticket.status in ("solved", "closed"):
            assert shown is None
            return
        facts = facts_from_comments(self.comments, [SERVICE])
        exempt = "no_autosolve" in ticket.tags
        awaiting = ticket.custom_status == "awaiting_reply"
        undone = facts.clock_start is not None and facts.clock_start in self.undone
        running = awaiting and not exempt and facts.clock_start is not None and not undone
        assert (shown is not None) == running, (shown, running, ticket.custom_status)
        if ticket.field(FIELD_RESOLUTION_TYPE) == RESOLUTION_AUTO_SOLVED:
            replied = facts.clock_start is None and facts.end_user is not None
            assert not replied, "a reply after an auto-solve left the auto-solve resolution type"
            assert not (replied and TAG_SOLVED in ticket.tags)
        if not running:
            assert TAG_REMINDED not in ticket.tags or shown is not None


def run(desk: Desk, steps: list[tuple[str, Any]]) -> None:
    for kind, arg in steps:
        if kind == "agent_public":
            desk.comment(AGENT, True, "Could you send the export file?")
            if arg:
                desk.set_status("awaiting_reply")
        elif kind == "agent_note":
            desk.comment(AGENT, False, "internal: checking with product")
        elif kind in ("requester", "cc", "other"):
            author = {"requester": REQUESTER, "cc": CC, "other": OTHER}[kind]
            desk.comment(author, bool(arg), "Here is the file you asked for.")
        elif kind == "auto_reply":
            desk.comment(REQUESTER, True, "Automatic reply: I am out of the office", via="email")
        elif kind == "merge":
            desk.comment(
                AGENT,
                False,
                'Request #77 "Export" was closed and merged into this request. Last comment '
                "in request #77: the export still fails",
            )
        elif kind == "status":
            desk.set_status(str(arg))
        elif kind == "team":
            desk.ticket = replace(desk.ticket, group=str(arg))
            desk.events()
        elif kind == "exempt":
            tags = set(desk.ticket.tags)
            (tags.add if arg else tags.discard)("no_autosolve")
            desk.ticket = replace(desk.ticket, tags=frozenset(tags))
            desk.events()
        elif kind == "wait":
            desk.tick(int(arg) * 60)
        elif kind == "sweep":
            desk.sweep(int(arg))
        elif kind == "undo":
            desk.undo()


@pytest.fixture(scope="module")
def clock_config(mappings: Mappings) -> AutoSolveConfig:
    return AutoSolveConfig.from_settings(
        {"remind_after": 3, "solve_after": 5, "exempt_tags": ["no_autosolve"]}, mappings
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    steps=STEPS,
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1)),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_the_clock_keeps_its_invariants_over_random_histories(
    mappings: Mappings, clock_config: AutoSolveConfig, steps: Any, start: datetime, seed: int
) -> None:
    desk = Desk(
        mappings=mappings,
        config=clock_config,
        rng=random.Random(seed),
        now=start.replace(tzinfo=UTC),
        ticket=TicketSnapshot(
            id=1,
            status="new",
            custom_status="new",
            updated_stamp="0",
            requester_id=REQUESTER,
            group="All Media",
            collaborator_ids=(CC,),
        ),
    )
    desk.comment(REQUESTER, True, "The campaign export fails.")
    # Most histories need the agent to ask and time to pass before anything is due: bias them.
    tail = [("sweep", 2)] * 8 + [("undo", True)] + [("sweep", 2)] * 8
    run(desk, [("agent_public", True), ("sweep", 2), *steps, *tail])
