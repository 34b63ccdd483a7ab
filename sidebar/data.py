"""The sidebar's reads and writes: the ticket from Zendesk (through sync/), what cxlayer keeps
about it (auto-solve episode, duplicate flags and index, audit), and the buttons' updates.

Reads for one panel: the ticket in parallel with its comments (their authors side-loaded: who
spoke last), with the groups list cached per process for 5 minutes; the service user's id is
asked once per process; an agent's role once per session length. Writes are
safe updates on the snapshot's stamp (a 409 means "read again, decide again"), and every
change is audited with the agent named.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

import store
from autosolve.models import WRITE_OK, SweepEpisode, SweepRunTicket
from autosolve.sweep import SweepError, undo_run
from duplicates.detection import (
    NATIVE_MERGE_SOURCE_COMMENT,
    DuplicatesError,
    current_index,
    descriptions,
    duplicate_settings,
    index_state,
    record_not_duplicate,
    suppressed_pairs,
    undo_soft_merge,
)
from duplicates.models import SOURCE_AGENT, DupFlag, DupSoftMerge
from mappings import current_mappings
from sync import TicketConflict, ZendeskClient, ZendeskError, client_for
from sync.apps import APP_STATE
from sync.audited import Intent, announce, write_audited
from sync.merge import MergeComments, MergeOutcomeUnknown, merge_tickets
from sync.state import DbStateStore
from triggers import sidebar as words
from triggers.autosolve import AutoSolveConfig, EpisodeState, Outcome, last_public_comment
from triggers.duplicates import find_duplicates
from triggers.model import Decision, TicketSnapshot
from triggers.router import audit_records

SERVICE_USER_EXTENSION = "cxlayer.sidebar_service_user"
GROUPS_EXTENSION = "cxlayer.sidebar_groups"
AGENTS_EXTENSION = "cxlayer.sidebar_agents"  # user id -> (when read, the agent user)
INDEX_REFRESH_EXTENSION = "cxlayer.sidebar_index_refreshed"  # monotonic time of the last one
INDEX_REFRESH_SECONDS = 5.0
GROUPS_SECONDS = 300.0  # groups change rarely; a panel then costs one API call less
MAX_CONFLICT_ROUNDS = 3
SHOWN_CANDIDATES = 3
AGENT_ROLES = ("agent", "admin")


@dataclass(frozen=True)
class Installation:
    """What `sidebar install` recorded: the app, its installation and its public key."""

    app_id: int
    installation_id: int
    public_key: str


def installation(app: Flask) -> Installation | None:
    recorded = DbStateStore(app).get(APP_STATE) or {}
    if not recorded.get("installation_id") or not recorded.get("public_key"):
        return None
    return Installation(
        int(recorded["app_id"]), int(recorded["installation_id"]), str(recorded["public_key"])
    )


def agent_user(app: Flask, user_id: int, *, keep_seconds: float = 0.0) -> dict[str, Any] | None:
    """The Zendesk user if it is an agent or admin; None for end users and unknown ids.

    An agent is remembered for `keep_seconds` (the session's length): a sidebar load within
    that time costs no API call, and a role taken away counts from the next session, as the
    session itself does. End users and unknown ids are never remembered (read every time).
    """
    known: dict[int, tuple[float, dict[str, Any]]] = app.extensions.setdefault(AGENTS_EXTENSION, {})
    cached = known.get(user_id)
    if cached is not None and time.monotonic() - cached[0] < keep_seconds:
        return dict(cached[1])
    with client_for(app) as client:
        users = client.users([user_id])
    user = next((u for u in users if int(u.get("id", 0)) == user_id), None)
    if user is None or user.get("role") not in AGENT_ROLES:
        known.pop(user_id, None)
        return None
    known[user_id] = (time.monotonic(), dict(user))
    return dict(user)


def _service_user_id(app: Flask, client: ZendeskClient) -> int:
    known = app.extensions.get(SERVICE_USER_EXTENSION)
    if known is None:
        known = int(client.me()["id"])
        app.extensions[SERVICE_USER_EXTENSION] = known
    return int(known)


def autosolve_config(app: Flask) -> AutoSolveConfig:
    with app.app_context():
        mappings = current_mappings()
    return AutoSolveConfig.from_settings(app.config["CXLAYER"].get("sweep", {}), mappings)


def _refresh_index(app: Flask, session: Any) -> None:
    """Bring the in-memory duplicate index up to date with the table, at most every
    `INDEX_REFRESH_SECONDS` from the sidebar: each refresh re-reads every row indexed in the
    last 30 s (`duplicates.detection.REFRESH_OVERLAP`), thousands after a scan, and a
    candidate list a few seconds old is as good to an agent (the event handler keeps this
    process's memory current with the tickets it indexes itself)."""
    last = app.extensions.get(INDEX_REFRESH_EXTENSION)
    if last is not None and time.monotonic() - last < INDEX_REFRESH_SECONDS:
        return
    current_index(app, session)
    app.extensions[INDEX_REFRESH_EXTENSION] = time.monotonic()


def _candidates(app: Flask, snapshot: TicketSnapshot) -> list[words.Candidate]:
    settings = duplicate_settings(app)
    with store.session(app, readonly=True) as session:  # reads only: never waits for writers
        _refresh_index(app, session)
        suppressed = suppressed_pairs(session, snapshot.id)
        flag = session.get(DupFlag, snapshot.id)
        flagged = flag.candidate_id if flag is not None and flag.feedback_at is None else None
        state = index_state(app)
        with state.lock:  # candidates' descriptions are read from dup_ticket (the session)
            matches = find_duplicates(
                snapshot,
                state.index,
                state.index.model,
                settings,
                suppressed_pairs=suppressed,
                descriptions=descriptions(session),
            )
    shown = [m for m in matches if m.score >= settings.flag_threshold][:SHOWN_CANDIDATES]
    if flagged is not None and all(m.candidate_id != flagged for m in shown):
        shown += [m for m in matches if m.candidate_id == flagged]
    return [
        words.Candidate(
            ticket_id=m.candidate_id,
            score=m.score,
            matching_sentences=tuple(m.matching_sentences),
            references=bool(m.signals.get("references_candidate")),
            flagged=m.candidate_id == flagged,
        )
        for m in shown
    ]


def _episode(app: Flask, ticket_id: int) -> EpisodeState | None:
    with store.session(app, readonly=True) as session:
        row = session.get(SweepEpisode, ticket_id)
        if row is None:
            return None
        return EpisodeState(row.clock_start, row.reminded_at, row.due)


def _audit(app: Flask, ticket_id: int) -> list[dict[str, Any]]:
    with store.session(app, readonly=True) as session:
        return [
            {
                "created_at": e.created_at,
                "rule": e.rule,
                "action": e.action,
                "reason": e.reason,
                "invocation_id": e.invocation_id,
            }
            for e in store.list_audit(session, ticket_id=ticket_id, limit=30)
        ]


class Refused(Exception):
    """A button that cannot do what it says now; the message is for the agent (409)."""


def merge_enabled(app: Flask) -> bool:
    """[sidebar] merge: a Merge button on each duplicate candidate (off unless set to true)."""
    value = app.config["CXLAYER"].get("sidebar", {}).get("merge", False)
    if not isinstance(value, bool):
        raise ValueError(f"[sidebar] merge must be true or false, got {value!r}")
    return value


def _undo_facts(app: Flask, snapshot: TicketSnapshot, config: AutoSolveConfig) -> words.UndoFacts:
    """What the history's Undo buttons depend on, from the ticket and cxlayer's own records."""
    with store.session(app, readonly=True) as session:
        merge = session.get(DupSoftMerge, snapshot.id)
        run = None
        if snapshot.status == "solved":
            run = session.scalars(
                select(SweepRunTicket.run_id)
                .where(
                    SweepRunTicket.ticket_id == snapshot.id,
                    SweepRunTicket.decision == Outcome.SOLVE.value,
                    SweepRunTicket.write == WRITE_OK,
                    SweepRunTicket.undone_at.is_(None),
                )
                .order_by(SweepRunTicket.recorded_at.desc())
                .limit(1)
            ).first()
        soft_merge = (
            merge is not None
            and merge.undone_at is None
            and not (merge.native and merge.original_done_at is not None)
        )
    return words.UndoFacts(
        paused=any(t.lower() in config.exempt_tags for t in snapshot.tags),
        can_pause=bool(config.exempt_tags),
        soft_merge_undoable=soft_merge,
        auto_solve_run=run,
    )


def load_panel(app: Flask, ticket_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Every section of the sidebar for `ticket_id` (see triggers.sidebar.panel)."""
    with app.app_context():
        mappings = current_mappings()
    with client_for(app) as client, client.operation("sidebar panel"):
        cached = app.extensions.get(GROUPS_EXTENSION)
        if cached is not None and time.monotonic() - cached[0] < GROUPS_SECONDS:
            client.prime_cache("groups", cached[1])
        # Display only (the buttons re-read before writing): ticket and comments at once.
        snapshot = client.read_snapshot(ticket_id, with_comments=True, parallel=True)
        app.extensions[GROUPS_EXTENSION] = (
            cached[0] if cached is not None and cached[1] is client.groups() else time.monotonic(),
            client.groups(),
        )
        service_id = _service_user_id(app, client)
    config = autosolve_config(app)
    return words.panel(
        snapshot,
        mappings,
        config,
        now or datetime.now(UTC),
        last_public=last_public_comment(snapshot.comments, [service_id]),
        episode=_episode(app, ticket_id),
        candidates=_candidates(app, snapshot),
        flag_threshold=duplicate_settings(app).flag_threshold,
        audit=_audit(app, ticket_id),
        can_merge=merge_enabled(app),
        undo=_undo_facts(app, snapshot, config),
    )


def apply_button(
    app: Flask,
    ticket_id: int,
    decide: Callable[[TicketSnapshot], Decision],
    *,
    agent_id: int,
    before_write: Callable[[Any, TicketSnapshot], None] | None = None,
) -> Decision:
    """Read the ticket, decide, write one safe update, audit it; again on a 409.

    `before_write(session, snapshot)` records local facts the change stands on (e.g. the "not a
    duplicate" pair) in the same transaction as the audit rows.
    """
    with app.app_context():
        mappings = current_mappings()
    invocation = f"sidebar:agent:{agent_id}"
    with client_for(app) as client, client.operation("sidebar button"):
        for _round in range(MAX_CONFLICT_ROUNDS):
            snapshot = client.read_snapshot(ticket_id)
            decision = decide(snapshot)
            records = audit_records(snapshot, [decision], mappings)
            intents = [Intent.of(ticket_id, record) for record in records]
            if not decision.actions:
                with store.session(app) as session:
                    if before_write is not None:
                        before_write(session, snapshot)
                    announce(
                        session,
                        intents,
                        invocation_id=invocation,
                        state=store.APPLIED,
                        api_result="nothing to change",
                    )
                return decision
            try:
                _write_announced(
                    app,
                    client,
                    snapshot,
                    decision,
                    intents=intents,
                    invocation=invocation,
                    before_write=before_write,
                )
            except TicketConflict:
                continue
            return decision
    raise TicketConflict(ticket_id)


def _write_announced(
    app: Flask,
    client: ZendeskClient,
    snapshot: TicketSnapshot,
    decision: Decision,
    *,
    intents: list[Intent],
    invocation: str,
    before_write: Callable[[Any, TicketSnapshot], None] | None,
) -> None:
    """The button's write, announced in the audit (with the local facts it stands on) before
    it runs and settled after: a crash in between leaves the rows "intended", never a change
    without its record. Raises TicketConflict when the ticket changed first."""

    def prepare(session: Any) -> None:
        if before_write is not None:
            before_write(session, snapshot)

    def outcome(result: Any) -> str:
        return f"ok: {len(result.updates)} update(s), now {result.updated_stamp}"

    write_audited(
        app,
        intents,
        lambda: client.apply_actions(snapshot, decision.actions),
        invocation_id=invocation,
        outcome=outcome,
        ticket_stamp=snapshot.updated_stamp,
        prepare=prepare,
    )


def mark_not_duplicate(
    app: Flask, ticket_id: int, candidate_id: int, *, agent_id: int, agent: str
) -> Decision:
    """ "Not a duplicate": the pair is suppressed for good, the flag's feedback recorded, and
    the tag and "Duplicate of" removed from the ticket."""

    def remember(session: Any, snapshot: TicketSnapshot) -> None:
        record_not_duplicate(
            session,
            ticket_id,
            candidate_id,
            source=SOURCE_AGENT,
            ticket_id=ticket_id,
            actor_id=agent_id,
        )
        flag = session.get(DupFlag, ticket_id)
        if flag is not None and flag.candidate_id == candidate_id and flag.feedback_at is None:
            flag.feedback_at = store.utcnow()

    return apply_button(
        app,
        ticket_id,
        lambda snapshot: words.not_duplicate_decision(snapshot, candidate_id, agent),
        agent_id=agent_id,
        before_write=remember,
    )


def merge_into(app: Flask, ticket_id: int, candidate_id: int, *, agent_id: int, agent: str) -> None:
    """Merge the ticket into a candidate the sidebar shows, with Zendesk's merge (it cannot be
    undone): the ticket closed with a public comment pointing the requester to the candidate,
    an internal note on the candidate naming the agent. Audited on both tickets as intended
    before the merge and settled after; the flag, if it named this candidate, is confirmed.
    `Refused` when the merge no longer makes sense (closed ticket, candidate not shown)."""
    if not merge_enabled(app):
        raise Refused("Merging from the sidebar is not enabled for this account.")
    invocation = f"sidebar:agent:{agent_id}"
    with client_for(app) as client, client.operation("sidebar merge"):
        snapshot = client.read_snapshot(ticket_id)
        if snapshot.status == "closed":
            raise Refused("This ticket is closed: Zendesk cannot merge it.")
        shown = {c.ticket_id: c for c in _candidates(app, snapshot)}
        if candidate_id not in shown:
            raise Refused(f"#{candidate_id} is not shown as a possible duplicate any more.")
        if client.ticket(candidate_id).get("status") == "closed":
            raise Refused(f"#{candidate_id} is closed: Zendesk cannot merge into it.")
        score = shown[candidate_id].score
        reason = f"{agent} merged #{ticket_id} into #{candidate_id} (score {score:.2f})"
        with store.session(app) as session:
            intents = [
                store.record_audit(
                    session,
                    ticket_id=target,
                    rule=words.RULE_MERGE,
                    action=action,
                    reason=reason,
                    invocation_id=invocation,
                    before={"status": snapshot.status} if target == ticket_id else None,
                    after={"merged_into": candidate_id, "merged_ticket": ticket_id},
                    state=store.INTENDED,
                ).id
                for target, action in ((ticket_id, "close_by_merge"), (candidate_id, "merge_in"))
            ]
        comments = MergeComments(
            source=NATIVE_MERGE_SOURCE_COMMENT.format(original_id=candidate_id),
            target=words.merge_target_note(ticket_id, agent, score),
            source_public=True,
            target_public=False,
        )
        try:
            job = merge_tickets(client, candidate_id, [ticket_id], comments)
        except MergeOutcomeUnknown:
            raise  # the intents stay "intended": whether Zendesk merged is not known yet
        except ZendeskError as exc:
            with store.session(app) as session:
                store.settle_audit(session, intents, store.NOT_APPLIED, f"failed: {exc}")
            raise
        with store.session(app) as session:
            store.settle_audit(session, intents, store.APPLIED, f"ok: merge job {job.get('id')}")
            flag = session.get(DupFlag, ticket_id)
            if flag is not None and flag.candidate_id == candidate_id and flag.confirmed_at is None:
                flag.confirmed_at = store.utcnow()


def undo(
    app: Flask,
    ticket_id: int,
    kind: str,
    *,
    agent_id: int,
    agent: str,
    run_id: str | None = None,
) -> None:
    """Undo a history line the sidebar offers (`triggers.sidebar.undo_offers`): a pause is
    undone by resuming and a resume by pausing (notes as for the buttons); cxlayer's soft merge
    by `duplicates.detection.undo_soft_merge`; a sweep's auto-solve by
    `autosolve.sweep.undo_run` (each with its own note and audit), plus an audit line naming the
    agent. `Refused` (with the reason) when it is no longer possible."""
    config = autosolve_config(app)
    if kind in (words.UNDO_PAUSE, words.UNDO_RESUME):
        if not config.exempt_tags:
            raise Refused("Auto-solve has no pause tag configured.")
        decide = words.resume_decision if kind == words.UNDO_PAUSE else words.pause_decision
        apply_button(app, ticket_id, lambda snap: decide(snap, config, agent), agent_id=agent_id)
        return
    try:
        if kind == words.UNDO_SOFT_MERGE:
            done = undo_soft_merge(app, ticket_id)
            what, result = "soft merge", done.reason
        elif kind == words.UNDO_AUTO_SOLVE and run_id:
            [outcome] = undo_run(app, run_id, ticket_id=ticket_id)
            if not outcome.reopened:
                raise Refused(f"Not undone: {outcome.reason}")
            what, result = "auto-solve", outcome.reason
        else:
            raise Refused("Nothing to undo.")
    except (DuplicatesError, SweepError) as exc:
        raise Refused(str(exc)) from None
    with store.session(app) as session:
        store.record_audit(
            session,
            ticket_id=ticket_id,
            rule=words.RULE_UNDO,
            action=f"undo_{kind}",
            reason=f"{agent} undid the {what}: {result}",
            invocation_id=f"sidebar:agent:{agent_id}",
            api_result="ok",
        )
