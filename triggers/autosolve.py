"""Auto-solve decisions: who is due a reminder or a solve, undo, and the requester-reply rule. No I/O.

The sweep (which lists tickets, folds the clock's facts and writes updates) is a thin loop:
`ClockFacts` from the stored comments, `decide` on each listed ticket, one safe update of
`decision.actions` (unless dry run); when Zendesk refuses it (409: the ticket changed), the
sweep re-reads the ticket and calls `decide` again, reporting `conflict` if it still cannot
write; `next_state` goes into the store after a successful write. Undo is `undo_decision` per
solved ticket; the webhook worker calls `decide` (minus reminders and solves) and
`after_requester_reply`.

Rules, in the order `decide` applies them (the clock's states are `triggers.clock`'s):

1. a ticket that is not in an "Awaiting your reply" status → "skip"; a shown "Auto-solve due"
   is cleared (reason in the audit; a note when an end user's reply reopened it). An auto-reply
   that reopened a ticket whose clock ran puts it back to "Awaiting your reply" (webhooks);
2. an exempt ticket (tag, priority, organization, group, ticket form from [sweep]) → "exempt"
   (a shown date is cleared);
3. no agent public comment known → "skip"; an end user spoke (any comment, public or private,
   auto-replies aside) at or after the agent's last public comment → "waiting_on_us", the
   shown date cleared with the "clock stopped" note;
4. the episode's auto-solve was undone → "skip" (not again until a new agent comment);
5. otherwise the clock runs from the agent's last public comment; the due date is the later
   of the calendar's (`solve_after` business days of the ticket's current team) and every date
   already shown in this episode (promises hold: never earlier, a later one is shown), and
   - reminded in this episode, the due date's working day over, and at least
     `solve_after - remind_after` business days since the reminder → "solve";
   - not reminded and elapsed >= remind_after → "remind" (also past solve_after: reminder
     first), promising a date at least `solve_after - remind_after` business days ahead;
   - else "skip", with the date shown (moved later with a note, and after a reminder a public
     comment telling the requester the new date).

A *waiting episode* is identified by its clock start (the agent comment's time). A reminder
was sent in this episode when the store's `EpisodeState` says so for this clock start, when
cxlayer's own public comment follows the clock start, or when the ticket carries the reminder
tag and shows a date no earlier than this episode's. The last test is what makes a crash
between the Zendesk write and the store write harmless: the reminder comment, tag and due
field are written in one update, and a later episode always has a later due date.

Writes, notes and their cost: the "Auto-solve due" field shows agents the solve date from the
moment the clock starts, so "skip" sets it when it differs from the ticket's value, with an
internal note announcing the reminder date and the solve date (the plan note; the webhook
handler writes the same when an agent's comment starts the clock). That is one update per
ticket per episode (the next runs see the same value and write nothing); the sweep batches
these. "remind" and "solve" are one update each, carrying every action of the decision; their
one comment is the public one (Zendesk takes one comment per update), so their internal note
is posted separately by the sweep only when the plan note was never written
(`AutoSolveDecision.announced` is False: the ticket did not show this due date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from mappings.model import Mappings, Team
from triggers import autosolve_texts as texts
from triggers.business_days import add_business_days, business_day_end, business_days_between
from triggers.clock import ClockFacts
from triggers.comments import latest_public
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_RESOLUTION_TYPE,
    Action,
    AddTags,
    Comment,
    Decision,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketSnapshot,
    field_date,
)

__all__ = [
    "AWAITING_CUSTOMER_STATUS",
    "RESOLUTION_AUTO_SOLVED",
    "RULE",
    "RULE_REPLY",
    "RULE_UNDO",
    "STATUS_SOLVED",
    "TAG_REMINDED",
    "TAG_SOLVED",
    "AutoSolveConfig",
    "AutoSolveDecision",
    "EpisodeState",
    "LastPublicComment",
    "Outcome",
    "after_requester_reply",
    "as_facts",
    "conflict",
    "decide",
    "exemption",
    "last_public_comment",
    "listing_cutoff",
    "next_state",
    "undo_actions",
    "undo_decision",
    "webhook_actions",
]

RULE = "auto_solve"
RULE_UNDO = "auto_solve_undo"
RULE_REPLY = "auto_solve_requester_replied"
TAG_REMINDED = "mo_autosolve_reminded"
TAG_SOLVED = "mo_autosolved"
RESOLUTION_AUTO_SOLVED = "mo_res_auto_solved_no_response"
STATUS_SOLVED = "solved"
AWAITING_CUSTOMER_STATUS = "Awaiting your reply"
DEFAULT_AWAITING_STATUSES = frozenset({"awaiting_reply"})


class Outcome(StrEnum):
    """A decision's kind; the values are the report's public `decision` strings, in report order."""

    REMIND = "remind"
    SOLVE = "solve"
    SKIP = "skip"  # not yet due (or nothing to do)
    EXEMPT = "exempt"
    WAITING_ON_US = "waiting_on_us"
    CONFLICT = "conflict"  # produced by the sweep when a safe update gets 409


@dataclass(frozen=True)
class LastPublicComment:
    """The latest public comment on a ticket that was not written by cxlayer itself.

    cxlayer's own reminders are public comments by an agent (the API user); they must not
    restart the clock, so the caller leaves them out. Passing one (`by_service=True`) is an error.
    """

    created_at: datetime
    author_id: int
    author_is_agent: bool
    by_service: bool = False


@dataclass(frozen=True)
class EpisodeState:
    """What the store remembers of a ticket's waiting episode (keyed by the clock start)."""

    clock_start: datetime
    reminded_at: datetime | None = None
    due: date | None = None  # the latest date shown (to agents or in the reminder)
    undone: bool = False  # an auto-solve of this episode was undone: not again in it


def _int_set(name: str, values: Iterable[Any]) -> frozenset[int]:
    if isinstance(values, str):
        raise ValueError(f"[sweep] {name} must be a list, got the string {values!r}")
    result = set()
    for value in values:
        try:
            result.add(int(value))
        except (TypeError, ValueError):
            raise ValueError(f"[sweep] {name} must list numeric ids, got {value!r}") from None
    return frozenset(result)


def _str_set(name: str, values: Iterable[Any], *, fold: bool = True) -> frozenset[str]:
    """Tags and priorities compare case-insensitively (Zendesk lowercases them); names do not."""
    if isinstance(values, str):
        raise ValueError(f"[sweep] {name} must be a list, got the string {values!r}")
    return frozenset(str(v).strip().lower() if fold else str(v) for v in values)


@dataclass(frozen=True)
class AutoSolveConfig:
    """The [sweep] settings that shape decisions; built with `from_settings`."""

    remind_after: int = 3
    solve_after: int = 5
    exempt_tags: frozenset[str] = frozenset()
    exempt_priorities: frozenset[str] = frozenset()
    exempt_organizations: frozenset[int] = frozenset()
    exempt_groups: frozenset[str] = frozenset()  # Zendesk group names
    exempt_forms: frozenset[int] = frozenset()
    awaiting_statuses: frozenset[str] = DEFAULT_AWAITING_STATUSES  # custom status values

    def __post_init__(self) -> None:
        if isinstance(self.remind_after, bool) or not isinstance(self.remind_after, int):
            raise ValueError(f"[sweep] remind_after must be an integer, got {self.remind_after!r}")
        if isinstance(self.solve_after, bool) or not isinstance(self.solve_after, int):
            raise ValueError(f"[sweep] solve_after must be an integer, got {self.solve_after!r}")
        if self.remind_after < 1:
            raise ValueError(f"[sweep] remind_after must be at least 1, got {self.remind_after}")
        if self.solve_after <= self.remind_after:
            raise ValueError(
                f"[sweep] solve_after ({self.solve_after}) must be greater than "
                f"remind_after ({self.remind_after})"
            )
        if not self.awaiting_statuses:
            raise ValueError("no custom status is mapped to 'Awaiting your reply'")

    @classmethod
    def from_settings(
        cls, sweep: Mapping[str, Any], mappings: Mappings | None = None
    ) -> AutoSolveConfig:
        """Build from `app.config["CXLAYER"]["sweep"]`; missing keys take the defaults.

        With `mappings`, the awaiting statuses are those whose customer status is
        "Awaiting your reply"; without, the shipped `awaiting_reply`.
        """
        awaiting = (
            frozenset(s.value for s in mappings.statuses_for(AWAITING_CUSTOMER_STATUS))
            if mappings is not None
            else DEFAULT_AWAITING_STATUSES
        )
        return cls(
            remind_after=sweep.get("remind_after", 3),
            solve_after=sweep.get("solve_after", 5),
            exempt_tags=_str_set("exempt_tags", sweep.get("exempt_tags", ())),
            exempt_priorities=_str_set("exempt_priorities", sweep.get("exempt_priorities", ())),
            exempt_organizations=_int_set(
                "exempt_organizations", sweep.get("exempt_organizations", ())
            ),
            exempt_groups=_str_set("exempt_groups", sweep.get("exempt_groups", ()), fold=False),
            exempt_forms=_int_set("exempt_forms", sweep.get("exempt_forms", ())),
            awaiting_statuses=awaiting,
        )


@dataclass(frozen=True)
class AutoSolveDecision:
    """One ticket's decision: what the report shows and the actions the sweep writes."""

    ticket_id: int
    decision: Outcome
    reason: str
    team: str  # team key from mappings/teams.toml
    snapshot_stamp: str  # updated_at of the snapshot decided on: the safe-update stamp
    clock_start: datetime | None = None
    business_days_elapsed: int | None = None
    due: date | None = None  # the date after whose business day the ticket is solved
    previous_status: str | None = None  # custom status before the decision (undo needs it)
    actions: tuple[Action, ...] = field(default=())
    # The ticket already showed agents this episode's due date. cxlayer only ever writes that
    # date together with an internal note announcing the reminder and the solve, so a reminder
    # or solve on an announced ticket is explained to agents before it happens; the sweep posts
    # its own follow-up note only for the unannounced ones (Zendesk takes one comment per
    # update, and the reminder's or solve's one comment is the requester's).
    announced: bool = False

    def as_decision(self) -> Decision:
        """The shared rule output, for sync/'s safe update and the audit trail."""
        return Decision(rule=RULE, reason=self.reason, actions=self.actions)


def exemption(snapshot: TicketSnapshot, config: AutoSolveConfig) -> str | None:
    """Why the ticket is exempt from auto-solve, in words; None when it is not."""
    tags = sorted(t for t in snapshot.tags if t.lower() in config.exempt_tags)
    if tags:
        return texts.REASON_EXEMPT.format(what=texts.EXEMPT_BY_TAG, value=tags[0])
    if snapshot.priority and snapshot.priority.lower() in config.exempt_priorities:
        return texts.REASON_EXEMPT.format(what=texts.EXEMPT_BY_PRIORITY, value=snapshot.priority)
    if snapshot.organization_id is not None and (
        snapshot.organization_id in config.exempt_organizations
    ):
        return texts.REASON_EXEMPT.format(
            what=texts.EXEMPT_BY_ORGANIZATION, value=snapshot.organization_id
        )
    if snapshot.group is not None and snapshot.group in config.exempt_groups:
        return texts.REASON_EXEMPT.format(what=texts.EXEMPT_BY_GROUP, value=snapshot.group)
    if snapshot.form_id is not None and snapshot.form_id in config.exempt_forms:
        return texts.REASON_EXEMPT.format(what=texts.EXEMPT_BY_FORM, value=snapshot.form_id)
    return None


def last_public_comment(
    comments: Iterable[Comment], service_user_ids: Iterable[int]
) -> LastPublicComment | None:
    """The latest public comment not written by cxlayer's own users, from a ticket's comments.

    Comments may come in any order; of two at the same instant the later-listed one wins
    (Zendesk lists comments oldest first).
    """
    latest = latest_public(comments, service_user_ids)
    if latest is None:
        return None
    return LastPublicComment(
        created_at=latest.created_at,
        author_id=latest.author_id,
        author_is_agent=latest.author_is_agent,
    )


def _utc_text(moment: datetime) -> str:
    """UTC with a Z, as the report writes times, so reasons read the same on every host."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _who(snapshot: TicketSnapshot, author_id: int) -> str:
    if author_id == snapshot.requester_id:
        return texts.WHO_REQUESTER
    if author_id in snapshot.collaborator_ids:
        return texts.WHO_CC
    return texts.WHO_OTHER_END_USER


def _reminded_in_episode(
    snapshot: TicketSnapshot,
    state: EpisodeState | None,
    facts: ClockFacts,
    clock_start: datetime,
    computed: date,
) -> tuple[bool, datetime | None]:
    """(a reminder went out in this episode, when if known).

    Known from the store (written after the reminder's update), from cxlayer's own public
    comment after the clock start, or from the reminder tag with a shown date (a reminder
    writes comment, tag and date in one update: a crash before the store write is harmless).
    """
    when = None
    if state is not None and state.clock_start == clock_start and state.reminded_at is not None:
        when = state.reminded_at
    if facts.reminder is not None and (when is None or facts.reminder < when):
        when = facts.reminder
    if when is not None:
        return True, when
    shown = field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))
    # A later episode's due date always lies after an earlier one's (its clock starts later),
    # so a shown date before this episode's is an earlier episode's reminder.
    if TAG_REMINDED in snapshot.tags and shown is not None and shown >= computed:
        return True, None
    return False, None


def _promised(
    snapshot: TicketSnapshot, state: EpisodeState | None, clock_start: datetime
) -> date | None:
    """The latest date shown in this episode: to agents ("Auto-solve due") or in a reminder."""
    dates = [field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))]
    if state is not None and state.clock_start == clock_start:
        dates.append(state.due)
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def _clear_due(snapshot: TicketSnapshot, why: str, note: str | None = None) -> tuple[Action, ...]:
    """Clear a shown "Auto-solve due" (no clock runs); nothing when none is shown. `why` goes
    to the audit through the decision's reason; `note` (agents) only when a person's act
    stopped a clock they may be counting on."""
    del why
    if field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE)) is None:
        return ()
    actions: list[Action] = [SetField(FIELD_AUTO_SOLVE_DUE, None)]
    if TAG_REMINDED in snapshot.tags:
        actions.append(RemoveTags((TAG_REMINDED,)))
    if note:
        actions.append(InternalNote(note))
    return tuple(actions)


def _due_field_actions(snapshot: TicketSnapshot, due: date, note: str) -> tuple[Action, ...]:
    """Show the due date to agents, with the note that announces what will happen and when;
    drop a reminder tag left by an earlier episode. Nothing when the date is already shown."""
    if field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE)) == due:
        return ()
    actions: list[Action] = [SetField(FIELD_AUTO_SOLVE_DUE, due)]
    if TAG_REMINDED in snapshot.tags:
        actions.append(RemoveTags((TAG_REMINDED,)))
    actions.append(InternalNote(note))
    return tuple(actions)


def as_facts(last_public: ClockFacts | LastPublicComment | None) -> ClockFacts:
    """Clock facts from the older "who spoke last" input (tests and callers that have only it)."""
    if isinstance(last_public, ClockFacts):
        return last_public
    if last_public is None:
        return ClockFacts()
    if last_public.by_service:
        raise ValueError(
            "last_public is cxlayer's own comment; pass the latest public comment not "
            "written by cxlayer (its reminders do not restart the clock)"
        )
    if last_public.author_is_agent:
        return ClockFacts(agent_public=last_public.created_at)
    return ClockFacts(end_user=last_public.created_at, end_user_id=last_public.author_id)


def _deadline(team: Team, day: date) -> datetime:
    """The end of `day`'s working hours on the team's calendar: when a promise for it is kept."""
    return business_day_end(team, day)


def decide(  # noqa: PLR0917  the clock's states, one branch each
    snapshot: TicketSnapshot,
    last_public: ClockFacts | LastPublicComment | None,
    team: Team,
    config: AutoSolveConfig,
    now: datetime,
    state: EpisodeState | None,
    *,
    reopened_by_end_user: bool = False,
) -> AutoSolveDecision:
    """Decide what auto-solve does to one ticket at `now` (aware). Pure: same inputs, same output.

    `reopened_by_end_user` (webhook handler): the change being handled was made by an end user
    (their mail system); an auto-reply that reopened a ticket whose clock ran puts it back to
    "Awaiting your reply" (Zendesk reopens on any mail from the requester's side).

    `last_public` is the ticket's `ClockFacts` (or, for older callers, the latest public comment
    not by cxlayer); `team` the ticket's team (`mappings.team_for_group(snapshot.group)`);
    `state` the store's record of the ticket's episode, or None. See `triggers.clock` for the
    states and the module docstring for the invariants.
    """
    facts = as_facts(last_public)
    base = AutoSolveDecision(
        ticket_id=snapshot.id,
        decision=Outcome.SKIP,
        reason="",
        team=team.key,
        snapshot_stamp=snapshot.updated_stamp,
        previous_status=snapshot.custom_status,
    )
    if snapshot.custom_status not in config.awaiting_statuses:
        status = snapshot.custom_status or snapshot.status
        reason = texts.REASON_NOT_AWAITING.format(status=status)
        if snapshot.status in ("solved", "closed"):
            return replace(base, reason=reason)  # the solve itself leaves no clock; see solve
        if reopened_by_end_user and _reopened_by_auto_reply(snapshot, facts):
            restore: list[Action] = [SetCustomStatus(min(config.awaiting_statuses))]
            shown_due = field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))
            if facts.auto_reply_untold and shown_due is not None:
                hint = (
                    texts.EXEMPT_HINT.format(tag=min(config.exempt_tags))
                    if config.exempt_tags
                    else ""
                )
                restore.append(_auto_reply_note(facts, team, shown_due, hint))
            return replace(base, reason=texts.REASON_AUTO_REPLY_REOPENED, actions=tuple(restore))
        shown = field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))
        note = None
        if shown is not None and facts.agent_public is not None and facts.clock_start is None:
            # An end user's reply reopened it (Zendesk does): the clock stopped; agents are told.
            note = texts.CLOCK_STOPPED_NOTE.format(
                who=_who(snapshot, facts.end_user_id or 0), due_date=texts.long_date(shown)
            )
        cleared = _clear_due(snapshot, texts.WHY_NOT_AWAITING.format(status=status), note)
        if cleared:
            reason = texts.REASON_DUE_CLEARED.format(
                why=texts.WHY_NOT_AWAITING.format(status=status)
            )
        return replace(base, reason=reason, actions=cleared)

    clock_start = facts.clock_start
    elapsed = business_days_between(team, clock_start, now) if clock_start else None

    exempt = exemption(snapshot, config)
    if exempt is not None:
        cleared = _clear_due(snapshot, exempt)
        reason = (
            texts.REASON_DUE_CLEARED.format(why=texts.WHY_EXEMPT.format(exempt=exempt))
            if cleared
            else exempt
        )
        return replace(
            base,
            decision=Outcome.EXEMPT,
            reason=reason,
            clock_start=clock_start,
            business_days_elapsed=elapsed,
            actions=cleared,
        )
    shown = field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))
    if clock_start is None or elapsed is None:
        if facts.end_user is None:
            reason = texts.REASON_NO_AGENT_COMMENT
            cleared = _clear_due(snapshot, reason)
            return replace(base, reason=reason, actions=cleared)
        who = _who(snapshot, facts.end_user_id or 0)
        note = (
            texts.CLOCK_STOPPED_NOTE.format(who=who, due_date=texts.long_date(shown))
            if shown is not None
            else None
        )
        return replace(
            base,
            decision=Outcome.WAITING_ON_US,
            reason=texts.REASON_WAITING_ON_US.format(who=who, when=_utc_text(facts.end_user)),
            actions=_clear_due(snapshot, "waiting on us", note),
        )

    if state is not None and state.clock_start == clock_start and state.undone:
        why = texts.WHY_NO_CLOCK.format(state="undone in this waiting episode")
        cleared = _clear_due(snapshot, why)
        return replace(
            base,
            reason=texts.REASON_UNDONE,
            clock_start=clock_start,
            business_days_elapsed=elapsed,
            actions=cleared,
        )

    computed = add_business_days(team, clock_start, config.solve_after)
    promised = _promised(snapshot, state, clock_start)
    due = max(computed, promised) if promised is not None else computed
    reminded, reminded_at = _reminded_in_episode(snapshot, state, facts, clock_start, computed)
    gap = config.solve_after - config.remind_after
    timed = replace(
        base,
        clock_start=clock_start,
        business_days_elapsed=elapsed,
        due=due,
        announced=shown == due,
    )
    words = {
        "elapsed": elapsed,
        "remind_after": config.remind_after,
        "solve_after": config.solve_after,
        "due_date": due.isoformat(),
    }
    start_date = texts.long_date(clock_start.astimezone(ZoneInfo(team.timezone)).date())
    hint = texts.EXEMPT_HINT.format(tag=min(config.exempt_tags)) if config.exempt_tags else ""
    told = (
        texts.AUTO_REPLY_SENTENCE.format(
            when=texts.local_moment(facts.auto_reply, team.timezone)  # type: ignore[arg-type]
        )
        if facts.auto_reply_untold
        else ""
    )
    remind_date = add_business_days(team, clock_start, config.remind_after)
    plan = {
        "due_date": texts.long_date(due),
        "remind_date": texts.long_date(remind_date),
        "clock_start": texts.local_moment(clock_start, team.timezone),
        "remind_after": config.remind_after,
        "solve_after": config.solve_after,
        "team_name": team.name,
        "exempt_hint": hint + told,
    }

    if reminded:
        gap_kept = reminded_at is None or business_days_between(team, reminded_at, now) >= gap
        if now >= _deadline(team, due) and gap_kept:
            note = texts.SOLVED_NOTE.format(
                elapsed=elapsed,
                team_name=team.name,
                clock_start=texts.local_moment(clock_start, team.timezone),
            )
            return replace(
                timed,
                decision=Outcome.SOLVE,
                reason=texts.REASON_SOLVE.format(**words),
                announced=timed.announced and not told,
                actions=(
                    SetCustomStatus(STATUS_SOLVED),
                    SetField(FIELD_RESOLUTION_TYPE, RESOLUTION_AUTO_SOLVED),
                    PublicComment(texts.SOLVED_PUBLIC.format(clock_start_date=start_date)),
                    AddTags((TAG_SOLVED,)),
                    # No clock runs on a solved ticket: "Auto-solve due" goes with the solve.
                    *((SetField(FIELD_AUTO_SOLVE_DUE, None),) if shown is not None else ()),
                    *((RemoveTags((TAG_REMINDED,)),) if TAG_REMINDED in snapshot.tags else ()),
                    InternalNote(note + told),
                ),
            )
        reason = texts.REASON_ALREADY_REMINDED.format(**words)
        if shown is not None and shown < due:
            # Later than shown: show the new date; the requester was promised the old one.
            moved = texts.DUE_MOVED_NOTE.format(
                old_date=texts.long_date(shown),
                due_date=texts.long_date(due),
                team_name=team.name,
                reminded=texts.DUE_MOVED_REMINDED,
            )
            return replace(
                timed,
                reason=reason,
                announced=False,
                actions=(
                    PublicComment(texts.DUE_MOVED_PUBLIC.format(due_date=texts.long_date(due))),
                    SetField(FIELD_AUTO_SOLVE_DUE, due),
                    AddTags((TAG_REMINDED,)),
                    InternalNote(moved + told),
                ),
            )
        actions = _due_field_actions(snapshot, due, texts.PLAN_NOTE_REMINDED.format(**plan))
        if TAG_REMINDED in snapshot.tags:  # the tag belongs to this episode's reminder
            actions = tuple(a for a in actions if not isinstance(a, RemoveTags))
        if not actions and told:
            actions = (_auto_reply_note(facts, team, due, hint),)
        return replace(timed, reason=reason, actions=actions)

    if elapsed >= config.remind_after:
        # Reminder first: the reminder promises a date at least `gap` business days ahead.
        promise = max(due, add_business_days(team, now, gap))
        note = texts.REMINDER_NOTE.format(
            elapsed=elapsed,
            team_name=team.name,
            clock_start=texts.local_moment(clock_start, team.timezone),
            due_date=texts.long_date(promise),
            exempt_hint=hint + told,
        )
        first = elapsed >= config.solve_after
        return replace(
            timed,
            due=promise,
            announced=shown == promise and not told,
            decision=Outcome.REMIND,
            reason=(texts.REASON_REMIND_FIRST if first else texts.REASON_REMIND).format(
                **{**words, "due_date": promise.isoformat()}
            ),
            actions=(
                PublicComment(
                    texts.REMINDER_PUBLIC.format(
                        clock_start_date=start_date, due_date=texts.long_date(promise)
                    )
                ),
                SetField(FIELD_AUTO_SOLVE_DUE, promise),
                AddTags((TAG_REMINDED,)),
                InternalNote(note),
            ),
        )

    same_episode = state is not None and state.clock_start == clock_start
    if shown is not None and shown < due and same_episode:
        note = (
            texts.DUE_MOVED_NOTE.format(
                old_date=texts.long_date(shown),
                due_date=texts.long_date(due),
                team_name=team.name,
                reminded="",
            )
            + told
        )
    else:
        note = texts.PLAN_NOTE.format(**plan)  # carries the auto-reply sentence, if any
    actions = _due_field_actions(snapshot, due, note)
    if not actions and told:
        actions = (_auto_reply_note(facts, team, due, hint),)
    return replace(
        timed,
        reason=texts.REASON_NOT_YET.format(remind_date=remind_date.isoformat(), **words),
        actions=actions,
    )


def _reopened_by_auto_reply(snapshot: TicketSnapshot, facts: ClockFacts) -> bool:
    """Zendesk reopened (Open) a ticket whose clock ran ("Auto-solve due" shown) on an
    auto-reply, the latest thing that happened: nobody replied, nobody else spoke since."""
    start = facts.clock_start
    if snapshot.status != "open" or start is None or facts.auto_reply is None:
        return False
    if field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE)) is None or facts.auto_reply <= start:
        return False
    return facts.service_public is None or facts.auto_reply > facts.service_public


def _auto_reply_note(facts: ClockFacts, team: Team, due: date, hint: str) -> InternalNote:
    when = texts.local_moment(facts.auto_reply, team.timezone)  # type: ignore[arg-type]
    return InternalNote(
        texts.AUTO_REPLY_NOTE.format(when=when, due_date=texts.long_date(due), exempt_hint=hint)
    )


def clock_reads_comments(snapshot: TicketSnapshot, config: AutoSolveConfig) -> bool:
    """Whether the clock's decisions on this ticket (`decide`, `after_requester_reply`) can
    depend on its comments. Only on a ticket that is "Awaiting your reply" (a clock may start,
    run or stop), shows "Auto-solve due" (a clock ran: clear it, say why, or put back a ticket
    an auto-reply reopened) or is still marked auto-solved (a reply after the solve); on any
    other ticket both decide nothing whatever its comments say. Solved and closed tickets
    never need them."""
    if snapshot.status in ("solved", "closed"):
        return False
    return (
        snapshot.custom_status in config.awaiting_statuses
        or field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE)) is not None
        or snapshot.field(FIELD_RESOLUTION_TYPE) == RESOLUTION_AUTO_SOLVED
    )


def webhook_actions(decision: AutoSolveDecision, snapshot: TicketSnapshot) -> tuple[Action, ...]:
    """What the webhook handler writes of a decision: all of it, except what is the nightly
    sweep's (reminders, solves and any public comment, with its budget, report and undo). A
    ticket due a reminder or a solve still shows its date at once ("Auto-solve due" is shown
    whenever a clock runs), with a note saying the sweep acts on it."""
    if decision.decision in (Outcome.REMIND, Outcome.SOLVE):
        if decision.due is None or field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE)) is not None:
            return ()
        note = texts.PLAN_NOTE_OVERDUE.format(due_date=texts.long_date(decision.due))
        return (SetField(FIELD_AUTO_SOLVE_DUE, decision.due), InternalNote(note))
    if any(isinstance(a, PublicComment) for a in decision.actions):
        return ()
    return decision.actions


def next_state(
    decision: AutoSolveDecision, previous: EpisodeState | None, written_at: datetime
) -> EpisodeState | None:
    """What the store keeps once the decision's update succeeded (never after a dry run).

    A reminder is recorded for its episode with the date it promised; a later decision in the
    same episode keeps the reminder, the latest promised date and an undo; a new clock start
    begins a fresh record; no clock means nothing to keep.
    """
    if decision.decision in (Outcome.CONFLICT, Outcome.EXEMPT):
        return previous  # nothing was written: the store keeps what it knew
    if decision.clock_start is None:
        return None  # waiting on us, not awaiting or no agent comment: no episode runs
    same = (
        previous if previous is not None and previous.clock_start == decision.clock_start else None
    )
    reminded_at = same.reminded_at if same is not None else None
    if decision.decision is Outcome.REMIND:
        reminded_at = written_at
    dues = [d for d in (decision.due, same.due if same is not None else None) if d is not None]
    return EpisodeState(
        clock_start=decision.clock_start,
        reminded_at=reminded_at,
        due=max(dues) if dues else None,
        undone=same.undone if same is not None else False,
    )


def conflict(decision: AutoSolveDecision, detail: str) -> AutoSolveDecision:
    """The report entry for a write refused with 409: same facts, nothing written."""
    return replace(
        decision,
        decision=Outcome.CONFLICT,
        reason=texts.REASON_CONFLICT.format(detail=detail),
        actions=(),
    )


def undo_actions(previous_status: str, run_id: str) -> tuple[Action, ...]:
    """Reopen a ticket a run auto-solved: previous status back, resolution type cleared, a note."""
    return (
        SetCustomStatus(previous_status),
        SetField(FIELD_RESOLUTION_TYPE, None),
        RemoveTags((TAG_SOLVED,)),
        InternalNote(texts.UNDO_NOTE.format(run_id=run_id, status=previous_status)),
    )


def undo_decision(current: TicketSnapshot, previous_status: str, run_id: str) -> Decision:
    """Undo for one ticket, only if it is still as the run left it (never undo later work).

    No actions when the ticket is no longer solved, is closed (Zendesk refuses to reopen),
    or has another resolution type; the reason says which.
    """
    if current.status == "closed":
        return Decision(rule=RULE_UNDO, reason=texts.UNDO_CLOSED, actions=())
    if current.custom_status != STATUS_SOLVED and current.status != "solved":
        status = current.custom_status or current.status
        return Decision(
            rule=RULE_UNDO, reason=texts.UNDO_NOT_SOLVED.format(status=status), actions=()
        )
    resolution = current.field(FIELD_RESOLUTION_TYPE)
    if resolution != RESOLUTION_AUTO_SOLVED:
        return Decision(
            rule=RULE_UNDO,
            reason=texts.UNDO_OTHER_RESOLUTION.format(resolution_type=resolution),
            actions=(),
        )
    return Decision(
        rule=RULE_UNDO,
        reason=texts.UNDO_REASON.format(status=previous_status),
        actions=undo_actions(previous_status, run_id),
    )


def after_requester_reply(snapshot: TicketSnapshot, facts: ClockFacts) -> Decision | None:
    """After an auto-solve, an end user's reply (any comment after cxlayer's solve message)
    reopens the ticket (Zendesk does that); the resolution type "Auto-solved › No response
    from user" and the auto-solve tags no longer describe it, so they are cleared, with a note.
    None when there is nothing to do; a stale snapshot still showing Solved is left for the
    next event. (Clearing "Auto-solve due" when the clock stops is `decide`'s.)
    """
    if snapshot.status in ("solved", "closed"):
        return None
    if snapshot.field(FIELD_RESOLUTION_TYPE) != RESOLUTION_AUTO_SOLVED:
        return None
    if facts.end_user is None or facts.clock_start is not None:
        return None  # no end user spoke after the last agent comment
    if facts.service_public is not None and facts.end_user <= facts.service_public:
        return None  # nobody replied to the solve message: an agent reopened the ticket
    actions: list[Action] = [SetField(FIELD_RESOLUTION_TYPE, None)]
    stale = tuple(sorted({TAG_SOLVED, TAG_REMINDED} & snapshot.tags))
    if stale:
        actions.append(RemoveTags(stale))
    actions.append(
        InternalNote(texts.REOPENED_NOTE.format(who=_who(snapshot, facts.end_user_id or 0)))
    )
    return Decision(rule=RULE_REPLY, reason=texts.REPLY_REASON, actions=tuple(actions))


def listing_cutoff(mappings: Mappings, config: AutoSolveConfig, as_of: datetime) -> date:
    """The latest "Auto-solve due" date a ticket due a reminder or a solve at `as_of` can show.

    A ticket is due a reminder once `remind_after` business days have passed, and its due
    date lies `solve_after - remind_after` business days after that; counted from `as_of` on
    each team's calendar, the latest of those dates bounds every team's tickets.
    """
    ahead = config.solve_after - config.remind_after
    return max(add_business_days(team, as_of, ahead) for team in mappings.teams)
