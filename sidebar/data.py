"""The sidebar's reads and writes: the ticket from Zendesk (through sync/), what cxlayer keeps
about it (auto-solve episode, duplicate flags and index, audit), and the buttons' updates.

Reads for one panel: the ticket, its comments and their authors (who spoke last), with the
groups list cached per client; the service user's id is asked once per process. Writes are
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

import store
from autosolve.models import SweepEpisode
from duplicates.detection import (
    current_index,
    duplicate_settings,
    index_state,
    record_not_duplicate,
    suppressed_pairs,
)
from duplicates.models import SOURCE_AGENT, DupFlag
from mappings import current_mappings
from sync import TicketConflict, ZendeskClient, client_for
from sync.apps import APP_STATE
from sync.state import DbStateStore
from triggers import sidebar as words
from triggers.autosolve import AutoSolveConfig, EpisodeState, last_public_comment
from triggers.duplicates import find_duplicates
from triggers.model import Decision, TicketSnapshot
from triggers.router import audit_records

SERVICE_USER_EXTENSION = "cxlayer.sidebar_service_user"
GROUPS_EXTENSION = "cxlayer.sidebar_groups"
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


def agent_user(app: Flask, user_id: int) -> dict[str, Any] | None:
    """The Zendesk user if it is an agent or admin; None for end users and unknown ids."""
    with client_for(app) as client:
        users = client.users([user_id])
    user = next((u for u in users if int(u.get("id", 0)) == user_id), None)
    if user is None or user.get("role") not in AGENT_ROLES:
        return None
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


def _candidates(app: Flask, snapshot: TicketSnapshot) -> list[words.Candidate]:
    settings = duplicate_settings(app)
    with store.session(app, readonly=True) as session:  # reads only: never waits for writers
        current_index(app, session)
        suppressed = suppressed_pairs(session, snapshot.id)
        flag = session.get(DupFlag, snapshot.id)
        flagged = flag.candidate_id if flag is not None and flag.feedback_at is None else None
    state = index_state(app)
    with state.lock:
        matches = find_duplicates(
            snapshot, state.index, state.index.model, settings, suppressed_pairs=suppressed
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


def load_panel(app: Flask, ticket_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Every section of the sidebar for `ticket_id` (see triggers.sidebar.panel)."""
    with app.app_context():
        mappings = current_mappings()
    with client_for(app) as client, client.operation("sidebar panel"):
        cached = app.extensions.get(GROUPS_EXTENSION)
        if cached is not None and time.monotonic() - cached[0] < GROUPS_SECONDS:
            client.prime_cache("groups", cached[1])
        snapshot = client.read_snapshot(ticket_id, with_comments=True)
        app.extensions[GROUPS_EXTENSION] = (
            cached[0] if cached is not None and cached[1] is client.groups() else time.monotonic(),
            client.groups(),
        )
        service_id = _service_user_id(app, client)
    return words.panel(
        snapshot,
        mappings,
        autosolve_config(app),
        now or datetime.now(UTC),
        last_public=last_public_comment(snapshot.comments, [service_id]),
        episode=_episode(app, ticket_id),
        candidates=_candidates(app, snapshot),
        flag_threshold=duplicate_settings(app).flag_threshold,
        audit=_audit(app, ticket_id),
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
            result = None
            if decision.actions:
                try:
                    result = client.apply_actions(snapshot, decision.actions)
                except TicketConflict:
                    continue
            with store.session(app) as session:
                if before_write is not None:
                    before_write(session, snapshot)
                api_result = (
                    f"ok: {len(result.updates)} update(s), now {result.updated_stamp}"
                    if result is not None
                    else "nothing to change"
                )
                for record in audit_records(snapshot, [decision], mappings):
                    store.record_audit(
                        session,
                        ticket_id=ticket_id,
                        rule=record.rule,
                        action=record.action,
                        reason=record.reason,
                        invocation_id=invocation,
                        before=record.before,
                        after=record.after,
                        api_result=api_result,
                    )
            return decision
    raise TicketConflict(ticket_id)


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
