"""What the agent sidebar shows for one ticket, and what its buttons decide. Pure: no I/O.

`panel(...)` turns a ticket snapshot and what cxlayer knows about it into the JSON-ready
sections the sidebar renders, in the support guide's words:

- **status**: the status as the requester sees it (the guide's four) and what it means;
- **resolution**: the resolution type's definition, who manages it, whether it needs the
  client's data-maintenance approval and whether that approval is recorded, and a warning
  when the type is not allowed for the ticket's product (the guide's "Configuration request
  — for use with Lumina only"); `draft_notices` gives the same warning for every type an agent
  might still pick, so the sidebar warns *before* the ticket is solved;
- **clock**: the auto-solve clock as `triggers.autosolve.decide` sees it now: started when,
  reminder and solve dates on the team's calendar, or why it is paused or stopped;
- **duplicates**: candidates with score and strongest evidence;
- **history**: cxlayer's audit entries on the ticket, newest first.

`pause_decision` / `resume_decision` / `not_duplicate_decision` are the buttons' changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from mappings.model import Mappings, ResolutionType, Team
from triggers import autosolve_texts
from triggers.autosolve import (
    TAG_REMINDED,
    AutoSolveConfig,
    EpisodeState,
    LastPublicComment,
    Outcome,
    decide,
)
from triggers.business_days import add_business_days
from triggers.duplicates.texts import TAG_POSSIBLE_DUPLICATE
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
    FIELD_DUPLICATE_OF,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    Action,
    AddTags,
    Decision,
    InternalNote,
    RemoveTags,
    SetField,
    TicketSnapshot,
    field_date,
)

RULE_PAUSE = "sidebar.pause_auto_solve"
RULE_RESUME = "sidebar.resume_auto_solve"
RULE_NOT_DUPLICATE = "sidebar.not_a_duplicate"
RULE_MERGE = "sidebar.merge"
RULE_UNDO = "sidebar.undo"
# The rules whose history line offers Undo, and what undoes them (see `undo_offers`).
UNDO_PAUSE, UNDO_RESUME, UNDO_SOFT_MERGE, UNDO_AUTO_SOLVE = (
    "pause",
    "resume",
    "soft_merge",
    "auto_solve",
)

MANAGED_BY_WORDS = {
    "client": "the Client",
    "mediaocean_cx": "Mediaocean Customer Experience",
    "account_management": "Account Management",
    "third_party": "a Third Party",
}
RULE_WORDS = {
    "status_mapping": "Status mapping",
    "data_maintenance_approval": "Data maintenance approval",
    "managed_by_routing": "Managed-by routing",
    "product_restriction": "Product restriction",
    "reserved_types": "Reserved resolution types",
    "auto_solve": "Auto-solve",
    "auto_solve_undo": "Auto-solve undo",
    "auto_solve_requester_replied": "Auto-solve (requester replied)",
    "duplicates.flag": "Possible duplicate",
    "duplicates.soft_merge": "Soft merge",
    RULE_PAUSE: "Auto-solve paused (sidebar)",
    RULE_RESUME: "Auto-solve resumed (sidebar)",
    RULE_NOT_DUPLICATE: "Not a duplicate (sidebar)",
    RULE_MERGE: "Merged (sidebar)",
    RULE_UNDO: "Undone (sidebar)",
    "duplicates.undo": "Soft merge undone",
}
UNDO_LABELS = {
    UNDO_PAUSE: "Undo: resume auto-solve",
    UNDO_RESUME: "Undo: pause auto-solve again",
    UNDO_SOFT_MERGE: "Undo soft merge: reopen",
    UNDO_AUTO_SOLVE: "Undo auto-solve: reopen",
}

# --- words ------------------------------------------------------------------------------
PRODUCT_WARNING = (
    "“{option}” is for {allowed} only, and this ticket's Product is {product}. Solving with it "
    "will be undone by cxlayer: choose another resolution type, or correct the Product first."
)
PRODUCT_WARNING_UNSET = (
    "“{option}” is for {allowed} only, and this ticket has no Product yet. Set the Product to "
    "{allowed} before solving, or choose another resolution type."
)
RESERVED_WARNING = (
    "“{option}” is set only by cxlayer's automation; chosen by a person it is undone."
)
APPROVAL_NOTICE = "“{option}” needs the client's data-maintenance approval. {recorded}"
APPROVAL_RECORDED = "The approval is recorded on this ticket."
APPROVAL_MISSING = (
    "No approval is recorded yet: if you solve now, cxlayer sets the ticket to "
    "“Awaiting your reply” and asks the requester for it."
)
CLOCK_RUNNING = "The requester has until the end of {solve_date} to reply."
CLOCK_PAUSED = "Auto-solve is paused on this ticket (tag {tag}): it will not be reminded or solved automatically."
CLOCK_EXEMPT = "This ticket is never auto-solved: {reason}."
CLOCK_NOT_AWAITING = (
    "The clock runs only while the ticket is “Awaiting your reply”; it is {status}."
)
CLOCK_NOT_STARTED = "The clock has not started: no public comment by an agent is known."
CLOCK_WAITING_ON_US = (
    "The clock is stopped: the {who} replied last, so the ticket waits on the team."
)
CLOCK_DUE = "Due now: the nightly sweep will {what} on its next run."
PAUSE_NOTE = (
    "Auto-solve paused by {agent} from the cxlayer sidebar: this ticket will not be reminded or "
    "solved automatically{due_text}. Use “Resume auto-solve” in the sidebar (or remove the tag "
    "{tag}) to start counting again."
)
PAUSE_DUE_TEXT = " (the Auto-solve due date {due_date} was cleared)"
RESUME_NOTE = (
    "Auto-solve resumed by {agent} from the cxlayer sidebar: if the ticket is awaiting the "
    "requester's reply, the nightly sweep counts business days from the agent's last public "
    "comment again and shows the new dates."
)
NOT_DUPLICATE_NOTE = (
    "{agent} marked this ticket as not a duplicate of #{candidate_id} in the cxlayer sidebar: "
    "the possible_duplicate flag was removed{cleared}, and cxlayer will not flag these two "
    "tickets again."
)
NOT_DUPLICATE_CLEARED = " and “Duplicate of” cleared"
MERGE_TARGET_NOTE = (
    "Ticket #{source_id} was merged into this ticket by {agent} from the cxlayer sidebar "
    "(possible duplicate, score {score:.2f}); the requester was told the conversation "
    "continues here."
)
MERGE_CONFIRM = (
    "Merge this ticket into #{target_id}? This ticket is closed and the requester is told the "
    "conversation continues in #{target_id}. A merge cannot be undone."
)
EVIDENCE_REFERENCE = "this ticket mentions #{ticket_id}"
EVIDENCE_SENTENCES = "“{new}” ↔ “{old}”"
EVIDENCE_NONE = "similar words in subject and description"


@dataclass(frozen=True)
class Candidate:
    """A possible duplicate as the duplicates package scored it."""

    ticket_id: int
    score: float
    matching_sentences: Sequence[tuple[str, str]] = ()
    references: bool = False
    flagged: bool = False  # the one cxlayer set as "Duplicate of"


def _product_name(mappings: Mappings, raw: object) -> str | None:
    product = mappings.product(raw) if isinstance(raw, str) and raw else None
    if product is not None:
        return product.name
    return str(raw) if raw else None


def _allowed_names(mappings: Mappings, rtype: ResolutionType) -> str:
    names = [p.name for key in rtype.products if (p := mappings.product(key)) is not None]
    return " and ".join(names) or ", ".join(rtype.products)


def type_notice(
    snapshot: TicketSnapshot, mappings: Mappings, rtype: ResolutionType
) -> dict[str, str] | None:
    """The warning (or notice) an agent needs before solving with `rtype`; None when none.

    Mirrors the rules that would act on the solve: product restriction (warning), reserved
    types (warning), data-maintenance approval (notice).
    """
    if rtype.reserved_for:
        return {"level": "warning", "text": RESERVED_WARNING.format(option=rtype.option_name)}
    if rtype.products:
        raw = snapshot.field(FIELD_PRODUCT)
        product = mappings.product(raw) if isinstance(raw, str) and raw else None
        if product is None or product.key not in rtype.products:
            allowed = _allowed_names(mappings, rtype)
            name = _product_name(mappings, raw)
            text = (
                PRODUCT_WARNING.format(
                    option=rtype.option_name, allowed=allowed, product=f"“{name}”"
                )
                if name
                else PRODUCT_WARNING_UNSET.format(option=rtype.option_name, allowed=allowed)
            )
            return {"level": "warning", "text": text}
    if rtype.requires_data_maintenance_approval:
        recorded = bool(snapshot.field(FIELD_DATA_MAINTENANCE_APPROVED))
        return {
            "level": "notice",
            "text": APPROVAL_NOTICE.format(
                option=rtype.option_name,
                recorded=APPROVAL_RECORDED if recorded else APPROVAL_MISSING,
            ),
        }
    return None


def status_section(snapshot: TicketSnapshot, mappings: Mappings) -> dict[str, Any]:
    """The status as the requester sees it, and what it means."""
    status = next((s for s in mappings.statuses if s.value == snapshot.custom_status), None)
    if status is None:
        return {
            "customer_status": None,
            "requester_label": snapshot.status.capitalize(),
            "meaning": "This status is not one of the support guide's; cxlayer maps it on the next change.",
            "agent_label": snapshot.custom_status or snapshot.status,
        }
    return {
        "customer_status": status.customer_status,
        "requester_label": status.end_user_label,
        "meaning": status.end_user_description,
        "agent_label": status.agent_label,
        "agent_meaning": status.agent_description,
    }


def resolution_section(snapshot: TicketSnapshot, mappings: Mappings) -> dict[str, Any]:
    """The current resolution type (if any) and a notice for every type an agent may pick."""
    value = snapshot.field(FIELD_RESOLUTION_TYPE)
    rtype = mappings.resolution_type(value if isinstance(value, str) else None)
    notices = {}
    for candidate in mappings.resolution_types:
        notice = type_notice(snapshot, mappings, candidate)
        if notice is not None:
            notices[candidate.value] = notice
    current = None
    if rtype is not None:
        current = {
            "value": rtype.value,
            "name": rtype.option_name.replace("::", " › "),
            "definition": rtype.definition,
            "managed_by": MANAGED_BY_WORDS.get(rtype.managed_by, rtype.managed_by),
            "needs_approval": rtype.requires_data_maintenance_approval,
            "approval_recorded": bool(snapshot.field(FIELD_DATA_MAINTENANCE_APPROVED)),
            "products": _allowed_names(mappings, rtype) if rtype.products else None,
            "notice": notices.get(rtype.value),
        }
    return {
        "current": current,
        "product": _product_name(mappings, snapshot.field(FIELD_PRODUCT)),
        "draft_notices": notices,
    }


def _calendar(team: Team) -> str:
    days = ", ".join(d.capitalize() for d in team.days)
    holidays = team.holiday_country + (
        f"-{team.holiday_subdivision}" if team.holiday_subdivision else ""
    )
    return (
        f"{team.name}: {days}, {team.start:%H:%M}–{team.end:%H:%M} ({team.timezone}), "
        f"{holidays} public holidays"
    )


def clock_section(  # noqa: PLR0917  the inputs of autosolve.decide, in its order
    snapshot: TicketSnapshot,
    mappings: Mappings,
    config: AutoSolveConfig,
    now: datetime,
    last_public: LastPublicComment | None,
    episode: EpisodeState | None,
) -> dict[str, Any]:
    """The auto-solve clock now, as the nightly sweep would decide it."""
    team = mappings.team_for_group(snapshot.group)
    decision = decide(snapshot, last_public, team, config, now, episode)
    pause_tag = min(config.exempt_tags) if config.exempt_tags else None
    paused = pause_tag is not None and pause_tag in {t.lower() for t in snapshot.tags}
    out: dict[str, Any] = {
        "state": "not_running",
        "team": team.name,
        "calendar": _calendar(team),
        "pause_tag": pause_tag,
        "paused": paused,
        "can_pause": pause_tag is not None and not paused,
        "can_resume": paused,
        "started": None,
        "remind_date": None,
        "solve_date": None,
        "shown_due": None,
        "business_days": decision.business_days_elapsed,
        "remind_after": config.remind_after,
        "solve_after": config.solve_after,
        "reminded": TAG_REMINDED in snapshot.tags,
        "explanation": "",
    }
    shown = field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))
    if shown is not None:
        out["shown_due"] = autosolve_texts.long_date(shown)
    if decision.clock_start is not None:
        start = decision.clock_start
        out["started"] = autosolve_texts.local_moment(start, team.timezone)
        if decision.decision is not Outcome.EXEMPT:  # a paused clock has no dates to promise
            remind = add_business_days(team, start, config.remind_after)
            solve = add_business_days(team, start, config.solve_after)
            out["remind_date"] = autosolve_texts.long_date(remind)
            out["solve_date"] = autosolve_texts.long_date(solve)
    if decision.decision is Outcome.EXEMPT:
        out["state"] = "paused" if paused else "stopped"
        out["explanation"] = (
            CLOCK_PAUSED.format(tag=pause_tag)
            if paused
            else CLOCK_EXEMPT.format(reason=decision.reason.split(";")[0])
        )
    elif decision.decision is Outcome.WAITING_ON_US:
        who = "requester"
        if last_public is not None and last_public.author_id != snapshot.requester_id:
            who = "CC" if last_public.author_id in snapshot.collaborator_ids else "end user"
        out["state"] = "stopped"
        out["explanation"] = CLOCK_WAITING_ON_US.format(who=who)
    elif decision.decision in (Outcome.REMIND, Outcome.SOLVE):
        out["state"] = "due"
        what = "send the reminder" if decision.decision is Outcome.REMIND else "solve the ticket"
        out["explanation"] = CLOCK_DUE.format(what=what)
    elif decision.clock_start is not None:
        out["state"] = "running"
        out["explanation"] = CLOCK_RUNNING.format(solve_date=out["solve_date"])
    elif snapshot.custom_status not in config.awaiting_statuses:
        status = next((s for s in mappings.statuses if s.value == snapshot.custom_status), None)
        label = f"“{status.end_user_label}”" if status else snapshot.status
        out["explanation"] = CLOCK_NOT_AWAITING.format(status=label)
    else:
        out["state"] = "not_started"
        out["explanation"] = CLOCK_NOT_STARTED
    return out


def evidence(candidate: Candidate) -> str:
    """The strongest evidence for a candidate, in one line."""
    if candidate.references:
        return EVIDENCE_REFERENCE.format(ticket_id=candidate.ticket_id)
    if candidate.matching_sentences:
        new, old = candidate.matching_sentences[0]
        return EVIDENCE_SENTENCES.format(new=new, old=old)
    return EVIDENCE_NONE


def duplicates_section(
    candidates: Iterable[Candidate], threshold: float, *, can_merge: bool = False
) -> dict[str, Any]:
    """Candidates in words; `can_merge` (the account enabled merging from the sidebar) adds
    each candidate's merge confirmation text."""
    shown = list(candidates)
    return {
        "threshold": threshold,
        "can_merge": can_merge,
        "merge_confirm": {
            str(c.ticket_id): MERGE_CONFIRM.format(target_id=c.ticket_id) for c in shown
        }
        if can_merge
        else {},
        "candidates": [
            {
                "ticket_id": c.ticket_id,
                "score": round(c.score, 2),
                "evidence": evidence(c),
                "flagged": c.flagged,
            }
            for c in shown
        ],
    }


def history_section(entries: Iterable[Mapping[str, Any]], timezone: str) -> list[dict[str, Any]]:
    """Audit entries (newest first) in words, one line per decision: when (local), which
    rule, what it did, why. A decision's actions share its invocation, rule and reason."""
    rows: list[dict[str, Any]] = []
    last_key: tuple[object, ...] | None = None
    for entry in entries:
        created = entry["created_at"]
        when = (
            created.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
            if isinstance(created, datetime)
            else str(created)
        )
        action = str(entry["action"]).replace("_", " ")
        key = (entry.get("invocation_id"), entry["rule"], entry.get("reason"), when)
        if key == last_key and rows:
            if action not in rows[-1]["actions"]:
                rows[-1]["actions"].insert(0, action)  # newest first: keep the written order
            rows[-1]["action"] = ", ".join(rows[-1]["actions"])
            continue
        last_key = key
        rows.append(
            {
                "when": when,
                "rule": RULE_WORDS.get(str(entry["rule"]), str(entry["rule"])),
                "rule_key": str(entry["rule"]),
                "invocation_id": entry.get("invocation_id"),
                "actions": [action],
                "action": action,
                "reason": str(entry.get("reason") or ""),
                "undo": None,
            }
        )
    for row in rows:
        del row["actions"]
    return rows


@dataclass(frozen=True)
class UndoFacts:
    """What decides whether a history line can be undone now (read by the caller)."""

    paused: bool = False  # the ticket carries an exempt tag now
    can_pause: bool = False  # an exempt tag is configured and the ticket is not closed
    soft_merge_undoable: bool = False  # cxlayer's soft merge of this ticket, not undone yet
    auto_solve_run: str | None = None  # the sweep run whose solve of this ticket can be undone


def undo_offers(rows: list[dict[str, Any]], facts: UndoFacts) -> list[dict[str, Any]]:
    """Mark the history lines (newest first) whose action the product can undo now: the newest
    pause or resume (each is the other's undo), cxlayer's soft merge (reopen; the CCs it moved
    removed) and a sweep's auto-solve (reopen). Each kind is offered once, on its newest line.
    A Zendesk merge cannot be undone, so it never is."""
    offered: set[str] = set()
    for row in rows:
        rule, kind = row["rule_key"], None
        if rule in (RULE_PAUSE, RULE_RESUME) and "clock" not in offered:
            offered.add("clock")  # only the newest pause/resume line decides
            if rule == RULE_PAUSE and facts.paused and row["action"] != "none":
                kind = UNDO_PAUSE
            elif rule == RULE_RESUME and not facts.paused and facts.can_pause:
                kind = UNDO_RESUME if row["action"] != "none" else None
        elif rule == "duplicates.soft_merge" and facts.soft_merge_undoable:
            kind = UNDO_SOFT_MERGE
        elif (
            rule == "auto_solve"
            and facts.auto_solve_run is not None
            and row["invocation_id"] == facts.auto_solve_run
        ):
            kind = UNDO_AUTO_SOLVE
        if kind is not None and kind not in offered:
            offered.add(kind)
            row["undo"] = {"kind": kind, "label": UNDO_LABELS[kind]}
            if kind == UNDO_AUTO_SOLVE:
                row["undo"]["run_id"] = facts.auto_solve_run
    return rows


def panel(
    snapshot: TicketSnapshot,
    mappings: Mappings,
    config: AutoSolveConfig,
    now: datetime,
    *,
    last_public: LastPublicComment | None,
    episode: EpisodeState | None,
    candidates: Iterable[Candidate],
    flag_threshold: float,
    audit: Iterable[Mapping[str, Any]],
    can_merge: bool = False,
    undo: UndoFacts | None = None,
) -> dict[str, Any]:
    """Every section of the sidebar for one ticket (JSON-ready)."""
    team = mappings.team_for_group(snapshot.group)
    open_ticket = snapshot.status != "closed"
    history = history_section(audit, team.timezone)
    return {
        "ticket_id": snapshot.id,
        "status": status_section(snapshot, mappings),
        "resolution": resolution_section(snapshot, mappings),
        "clock": clock_section(snapshot, mappings, config, now, last_public, episode),
        "duplicates": duplicates_section(
            candidates, flag_threshold, can_merge=can_merge and open_ticket
        ),
        "history": undo_offers(history, undo) if undo is not None and open_ticket else history,
    }


def merge_target_note(source_id: int, agent: str, score: float) -> str:
    """The internal note on the ticket another was merged into from the sidebar."""
    return MERGE_TARGET_NOTE.format(source_id=source_id, agent=agent, score=score)


# --- the buttons -------------------------------------------------------------------------
def pause_decision(snapshot: TicketSnapshot, config: AutoSolveConfig, agent: str) -> Decision:
    """ "Pause auto-solve": the exempt tag, the shown due date cleared, a note saying who."""
    if not config.exempt_tags:
        raise ValueError("no [sweep] exempt_tags: auto-solve cannot be paused by a tag")
    tag = min(config.exempt_tags)
    if tag in {t.lower() for t in snapshot.tags}:
        return Decision(rule=RULE_PAUSE, reason="already paused", actions=())
    actions: list[Action] = [AddTags((tag,))]
    due = field_date(snapshot.field(FIELD_AUTO_SOLVE_DUE))
    if due is not None:
        actions.append(SetField(FIELD_AUTO_SOLVE_DUE, None))
    if TAG_REMINDED in snapshot.tags:
        actions.append(RemoveTags((TAG_REMINDED,)))
    due_text = PAUSE_DUE_TEXT.format(due_date=autosolve_texts.long_date(due)) if due else ""
    actions.append(InternalNote(PAUSE_NOTE.format(agent=agent, tag=tag, due_text=due_text)))
    return Decision(rule=RULE_PAUSE, reason=f"{agent} paused auto-solve", actions=tuple(actions))


def resume_decision(snapshot: TicketSnapshot, config: AutoSolveConfig, agent: str) -> Decision:
    """ "Resume auto-solve": the exempt tag removed, a note saying who."""
    tags = sorted(t for t in snapshot.tags if t.lower() in config.exempt_tags)
    if not tags:
        return Decision(rule=RULE_RESUME, reason="not paused", actions=())
    return Decision(
        rule=RULE_RESUME,
        reason=f"{agent} resumed auto-solve",
        actions=(RemoveTags(tuple(tags)), InternalNote(RESUME_NOTE.format(agent=agent))),
    )


def not_duplicate_decision(snapshot: TicketSnapshot, candidate_id: int, agent: str) -> Decision:
    """ "Not a duplicate": the possible_duplicate tag removed and "Duplicate of" cleared when
    it names the candidate; a note saying who. No actions when nothing shows the flag."""
    actions: list[Action] = []
    if TAG_POSSIBLE_DUPLICATE in snapshot.tags:
        actions.append(RemoveTags((TAG_POSSIBLE_DUPLICATE,)))
    linked = snapshot.field(FIELD_DUPLICATE_OF)
    cleared = linked == candidate_id
    if cleared:
        actions.append(SetField(FIELD_DUPLICATE_OF, None))
    if actions:
        actions.append(
            InternalNote(
                NOT_DUPLICATE_NOTE.format(
                    agent=agent,
                    candidate_id=candidate_id,
                    cleared=NOT_DUPLICATE_CLEARED if cleared else "",
                )
            )
        )
    return Decision(
        rule=RULE_NOT_DUPLICATE,
        reason=f"{agent}: not a duplicate of #{candidate_id}",
        actions=tuple(actions),
    )
