"""Duplicate detection wired to the service: the persisted ticket index, webhook events,
agent feedback, soft merges and their undo, the backfill scan and the incremental sync.

The pure scoring lives in triggers/duplicates/. This module keeps the index of recent tickets
in the `dup_ticket` table, loads it into one in-memory `TicketIndex` per process (refreshed
from rows other processes wrote), and talks to Zendesk only through sync/.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

import store
from duplicates.models import (
    SOURCE_ADMIN,
    SOURCE_AGENT,
    SOURCE_SCAN,
    SOURCE_UNDO,
    SOURCE_WEBHOOK,
    DupFlag,
    DupSoftMerge,
    DupSuppressedPair,
    DupTicket,
)
from logs import get_logger
from mappings import Mappings, current_mappings
from store.models import AuditEntry
from sync import TicketConflict, ZendeskClient, ZendeskError, client_for
from sync.audited import Intent, write_audited
from sync.snapshot import Provisioned, snapshot_from_ticket
from triggers.duplicates import (
    RULE_NAME,
    DuplicateSettings,
    Match,
    TicketIndex,
    TicketRow,
    auto_reply_by_metadata,
    feedback_pair,
    find_duplicates,
    flag_decision,
    not_duplicate_decision,
    note_body,
    pair_key,
)
from triggers.duplicates.candidates import MAX_STORED_DESCRIPTION
from triggers.duplicates.feedback import (
    DEFAULT_TARGET_PRECISION,
    FEEDBACK_WINDOW,
    Judgement,
    PrecisionStatus,
    threshold_in_use,
)
from triggers.duplicates.scoring import matching_sentences, ticket_sentences
from triggers.duplicates.texts import TAG_FLAG_WATCH, TAG_POSSIBLE_DUPLICATE
from triggers.model import (
    FIELD_DUPLICATE_OF,
    FIELD_RESOLUTION_TYPE,
    TICKET_CREATED,
    Action,
    AddTags,
    Decision,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)

log = get_logger("cxlayer.duplicates")

# --- words shown to requesters and agents (tests assert against these) -------------------
TAG_SOFT_MERGED = "duplicate_soft_merged"
RESOLUTION_DUPLICATE = "mo_res_duplicate"  # mappings/resolution_types.toml, group "duplicate"
SOFT_MERGE_PUBLIC = (
    "Thank you for your message. It is about the same issue as your earlier request "
    "#{original_id}, so we are continuing the conversation there and have marked this request "
    "as solved. If this is a different issue, simply reply here and we will reopen it."
)
SOFT_MERGE_NOTE = (
    "Soft merge: solved as a duplicate of #{original_id} (score {score:.2f}, automatic "
    'threshold {threshold:.2f}). Resolution type is Duplicate, "Duplicate of" is #{original_id}, '
    "and the requester was pointed to #{original_id}. CCs of this ticket to add to "
    "#{original_id}: {ccs}. "
    "Nothing was deleted; to reverse it run `flask --app app duplicates undo {ticket_id}`."
)
SOFT_MERGE_ORIGINAL_NOTE = (
    "Ticket #{ticket_id} from the same requester was solved as a duplicate of this ticket "
    "(score {score:.2f}); the requester was pointed here. CCs added from #{ticket_id}: {ccs}."
)
NATIVE_MERGE_SOURCE_COMMENT = (
    "This request is about the same issue as your earlier request #{original_id} and was "
    "merged into it. We will continue the conversation there."
)
NATIVE_MERGE_TARGET_NOTE = (
    "Ticket #{ticket_id} from the same requester was merged into this ticket by cxlayer "
    "(score {score:.2f}, automatic threshold {threshold:.2f}; native merge is switched on)."
)
UNDO_NOTE = (
    "Soft merge undone by an operator: status back to {status}, Resolution type and "
    '"Duplicate of" cleared. cxlayer will not flag this ticket and #{original_id} as '
    "duplicates again."
)
UNDO_ORIGINAL_NOTE = (
    "The soft merge of #{ticket_id} into this ticket was undone; CCs it had added were "
    "removed: {ccs}."
)
NO_CCS = "none"

DEFAULT_RETENTION_DAYS = 90.0  # the index keeps this much history (idf, candidates)
INDEX_EXTENSION = "cxlayer.duplicates_index"
CURSOR_STATE = "duplicates.incremental_cursor"
# Rows written by other processes are picked up by their indexed_at; the overlap covers
# transactions that committed a little after the time they stamped.
REFRESH_OVERLAP = timedelta(seconds=30)
MEMORY_PRUNE_EVERY = 3600.0  # seconds between drops of tickets older than the retention


class DuplicatesError(Exception):
    """An operator asked for something that cannot be done (no such soft merge, bad input)."""


# --- settings ------------------------------------------------------------------------------
def _section(app: Flask) -> dict[str, Any]:
    return dict(app.config["CXLAYER"].get("duplicates", {}))


def duplicate_settings(app: Flask) -> DuplicateSettings:
    """[duplicates] as the pure core reads it (a clear ValueError on bad values)."""
    return DuplicateSettings.from_mapping(_section(app))


def target_precision(app: Flask) -> float:
    """[duplicates] target_precision: the precision agents' feedback must keep (0 < x < 1)."""
    value = _section(app).get("target_precision", DEFAULT_TARGET_PRECISION)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"duplicates.target_precision must be in (0, 1), got {value!r}")
    return float(value)


def precision_status(app: Flask, session: Session | None = None) -> PrecisionStatus:
    """Observed precision of the flags agents judged on this account (the latest
    FEEDBACK_WINDOW), its Wilson lower bound and the flag threshold in use. For the CLI
    (`duplicates feedback`) and the console."""
    if session is None:
        with store.session(app, readonly=True) as own:
            return precision_status(app, own)
    judged_at = func.coalesce(DupFlag.confirmed_at, DupFlag.feedback_at)
    rows = session.execute(
        select(DupFlag.score, DupFlag.confirmed_at, DupFlag.feedback_at)
        .where(or_(DupFlag.confirmed_at.is_not(None), DupFlag.feedback_at.is_not(None)))
        .order_by(judged_at.desc())
        .limit(FEEDBACK_WINDOW)
    )
    judged = [
        # A rejection after a confirmation (undo) is the agent's last word.
        Judgement(float(score), confirmed is not None and feedback is None)
        for score, confirmed, feedback in rows
    ]
    return threshold_in_use(duplicate_settings(app).flag_threshold, target_precision(app), judged)


EVIDENCE_EXTENSION = "cxlayer.duplicates_evidence"
EVIDENCE_CACHE_SIZE = 5000  # pairs; a console page shows 50


def flag_evidence(
    app: Flask, session: Session, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], list[tuple[str, str]] | None]:
    """The strongest matching sentences of each (ticket, candidate) pair, computed as the
    flag note computes them (`ticket_sentences` without the account's common lines, then
    `matching_sentences` on the index's idf model); None where a ticket has left the index.
    For the console, which shows flagged pairs with their evidence.

    The texts are read from the `dup_ticket` table (one query); the idf model is this
    process's index, loaded on first use but not refreshed here (a page render does not pay
    for other processes' new tickets; their effect on idf is negligible). A pair's result is
    kept per process until either ticket is indexed again (its `indexed_at` changes).
    """
    pairs = list(pairs)
    state = index_state(app)
    if not state.loaded:
        current_index(app, session)
    cache: OrderedDict[tuple[Any, ...], list[tuple[str, str]]] = app.extensions.setdefault(
        EVIDENCE_EXTENSION, OrderedDict()
    )
    ids = {i for pair in pairs for i in pair}
    rows = {
        ticket_id: (subject, description, indexed_at)
        for ticket_id, subject, description, indexed_at in session.execute(
            select(
                DupTicket.id, DupTicket.subject, DupTicket.description, DupTicket.indexed_at
            ).where(DupTicket.id.in_(ids))
        )
    }
    out: dict[tuple[int, int], list[tuple[str, str]] | None] = {}
    sentences: dict[int, list[str]] = {}
    with state.lock:
        model = state.index.model

        def of(ticket_id: int) -> list[str]:
            if ticket_id not in sentences:
                subject, description, _ = rows[ticket_id]
                sentences[ticket_id] = ticket_sentences(subject, description, model.is_common_line)
            return sentences[ticket_id]

        for new_id, candidate_id in pairs:
            if new_id not in rows or candidate_id not in rows:
                out[(new_id, candidate_id)] = None
                continue
            key = (new_id, candidate_id, rows[new_id][2], rows[candidate_id][2])
            found = cache.get(key)
            if found is None:
                found = matching_sentences(of(new_id), of(candidate_id), model)
                cache[key] = found
                if len(cache) > EVIDENCE_CACHE_SIZE:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(key)
            out[(new_id, candidate_id)] = found
    return out


def native_merge_enabled(app: Flask) -> bool:
    value = _section(app).get("native_merge", False)
    if not isinstance(value, bool):
        raise ValueError(f"duplicates.native_merge must be true or false, got {value!r}")
    return value


def retention_days(app: Flask) -> float:
    settings = duplicate_settings(app)
    value = _section(app).get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"duplicates.retention_days must be a positive number, got {value!r}")
    return max(float(value), settings.window_days)


# --- the index: database rows and the per-process memory copy -----------------------------
@dataclass
class IndexState:
    """The process's in-memory index and what it has seen of the `dup_ticket` table."""

    # Descriptions stay in `dup_ticket` (~1 KB a ticket less in memory): a flagged candidate's
    # is read from there for the note (`descriptions`).
    index: TicketIndex = field(default_factory=lambda: TicketIndex(keep_descriptions=False))
    lock: threading.RLock = field(default_factory=threading.RLock)
    loaded: bool = False
    watermark: datetime | None = None
    pruned_at: float = 0.0
    # indexed_at of rows already in memory that are still inside the refresh overlap, so a
    # burst of tickets is not re-upserted on every event.
    applied: dict[int, datetime] = field(default_factory=dict)


def index_state(app: Flask) -> IndexState:
    state: IndexState | None = app.extensions.get(INDEX_EXTENSION)
    if state is None:
        state = app.extensions.setdefault(INDEX_EXTENSION, IndexState())
    return state


# Plain columns, not ORM objects: a first load reads the whole table, and entities would all
# sit in the session's identity map at once.
_INDEX_COLUMNS = (
    DupTicket.id,
    DupTicket.requester_id,
    DupTicket.organization_id,
    DupTicket.group_name,
    DupTicket.product,
    DupTicket.status,
    DupTicket.created_at,
    DupTicket.subject,
    DupTicket.description,
    DupTicket.auto_reply,
    DupTicket.indexed_at,
)
LOAD_BATCH = 2000


def descriptions(session: Session) -> Callable[[Sequence[int]], dict[int, str]]:
    """A `DescriptionReader` over `dup_ticket` in the caller's transaction: the stored
    descriptions of a few tickets (the flagged candidates a note shows), one query."""

    def read(ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = session.execute(
            select(DupTicket.id, DupTicket.description).where(DupTicket.id.in_(list(ids)))
        )
        return {int(ticket_id): str(description) for ticket_id, description in rows}

    return read


def current_index(app: Flask, session: Session) -> TicketIndex:
    """The in-memory index, loaded on first use and brought up to date with the table.

    Lock order: the database transaction first, then the memory lock. The session's
    connection (on SQLite: BEGIN IMMEDIATE, the write lock) is taken before `state.lock`, so a
    worker never holds the memory lock while it waits for a database lock that another worker,
    itself waiting for the memory lock, holds.
    """
    state = index_state(app)
    session.connection()
    with state.lock:
        query = select(*_INDEX_COLUMNS)
        if state.loaded and state.watermark is not None:
            query = query.where(DupTicket.indexed_at >= state.watermark - REFRESH_OVERLAP)
        newest = state.watermark
        result = session.execute(
            query.order_by(DupTicket.indexed_at).execution_options(yield_per=LOAD_BATCH)
        )
        for values in result:
            *fields, auto_reply, indexed_at = values
            ticket_id = fields[0]
            if state.applied.get(ticket_id) != indexed_at:
                state.index.upsert(TicketRow(*fields), auto_reply=bool(auto_reply))
                state.applied[ticket_id] = indexed_at
            if newest is None or indexed_at > newest:
                newest = indexed_at
        state.watermark = newest
        if not state.loaded:  # the first load: norms cached while the corpus was small
            state.index.refresh_norms()
        state.loaded = True
        if newest is not None:
            horizon = newest - REFRESH_OVERLAP
            state.applied = {k: v for k, v in state.applied.items() if v >= horizon}
        if time.monotonic() - state.pruned_at > MEMORY_PRUNE_EVERY:
            cutoff = store.utcnow() - timedelta(days=retention_days(app))
            old = [t.row.id for t in state.index if t.row.created_at < cutoff]
            for ticket_id in old:
                state.index.remove(ticket_id)
            state.pruned_at = time.monotonic()
        return state.index


def index_ticket(app: Flask, session: Session, snapshot: TicketSnapshot) -> TicketRow | None:
    """Upsert a ticket in the table and in memory; None when it cannot be indexed.

    Callers refresh the memory from the table first (`current_index`), so a ticket whose
    indexed columns did not change (most events: a comment, a status change, cxlayer's own
    update) costs no write on the handler's transaction.
    """
    if snapshot.created_at is None:
        return None
    row = TicketRow.from_snapshot(snapshot)
    description = row.description[:MAX_STORED_DESCRIPTION]
    # Zendesk's metadata, where the snapshot carries comments; once stored, kept.
    auto_reply = auto_reply_by_metadata(snapshot)
    state = index_state(app)
    with state.lock:
        known = state.index.get(row.id)
    if known is not None:
        auto_reply = auto_reply or known.reported_auto_reply
        if (
            known.row == replace(row, description=known.row.description)
            and known.same_text(row.subject, row.description)
            and auto_reply == known.reported_auto_reply
        ):
            return row
    now = store.utcnow()
    session.merge(
        DupTicket(
            id=row.id,
            requester_id=row.requester_id,
            organization_id=row.organization_id,
            group_name=row.group,
            product=row.product,
            status=row.status,
            created_at=row.created_at.astimezone(UTC),
            subject=row.subject,
            description=description,
            auto_reply=auto_reply,
            indexed_at=now,
        )
    )
    with state.lock:
        state.index.upsert(row, auto_reply=auto_reply)
        state.applied[row.id] = now
    return row


def forget_ticket(app: Flask, session: Session, ticket_id: int) -> None:
    session.execute(delete(DupTicket).where(DupTicket.id == ticket_id))
    state = index_state(app)
    with state.lock:
        state.index.remove(ticket_id)


# --- "not a duplicate" pairs and agent feedback --------------------------------------------
def suppressed_pairs(session: Session, ticket_id: int | None = None) -> set[frozenset[int]]:
    """Pairs never to flag (all of them, or those involving one ticket)."""
    query = select(DupSuppressedPair.low_id, DupSuppressedPair.high_id)
    if ticket_id is not None:
        query = query.where(
            or_(DupSuppressedPair.low_id == ticket_id, DupSuppressedPair.high_id == ticket_id)
        )
    return {pair_key(low, high) for low, high in session.execute(query)}


def record_not_duplicate(
    session: Session,
    a: int,
    b: int,
    *,
    source: str,
    ticket_id: int,
    actor_id: int | None = None,
) -> bool:
    """Remember that `a` and `b` are not duplicates; False if it was already known."""
    low, high = sorted((a, b))
    if session.get(DupSuppressedPair, (low, high)) is not None:
        return False
    session.add(
        DupSuppressedPair(
            low_id=low,
            high_id=high,
            source=source,
            ticket_id=ticket_id,
            actor_id=actor_id,
            recorded_at=store.utcnow(),
        )
    )
    session.flush()
    return True


def record_verdict(session: Session, ticket_id: int, *, duplicate: bool) -> DupFlag:
    """An admin's verdict on a flag, kept as agents' feedback is (one notion of precision):
    "duplicate" sets `confirmed_at`; "not a duplicate" sets `feedback_at` and suppresses the
    pair (source admin), so it is never flagged again and the flag's tag and link are cleared
    on the ticket's next event, as after an agent's rejection. Raises DuplicatesError when the
    ticket has no flag or the flag was already judged."""
    flag = session.get(DupFlag, ticket_id)
    if flag is None:
        raise DuplicatesError(f"ticket {ticket_id} has no duplicate flag")
    if flag.confirmed_at is not None or flag.feedback_at is not None:
        raise DuplicatesError(f"the flag on ticket {ticket_id} was already judged")
    if duplicate:
        flag.confirmed_at = store.utcnow()
    else:
        flag.feedback_at = store.utcnow()
        record_not_duplicate(
            session, ticket_id, flag.candidate_id, source=SOURCE_ADMIN, ticket_id=ticket_id
        )
    session.flush()
    return flag


def _flag_written(session: Session, flag: DupFlag, snapshot: TicketSnapshot) -> bool:
    """Whether the flag reached Zendesk: we wrote it, the handler audited it as applied, or it
    shows. An audit row still intended (the write's outcome unknown) or not applied (Zendesk
    refused it: 409, 5xx) does not count: the flag's absence then is not an agent's word."""
    if flag.applied:
        return True
    shows = (
        TAG_POSSIBLE_DUPLICATE in snapshot.tags
        and snapshot.field(FIELD_DUPLICATE_OF) == flag.candidate_id
    )
    audited = (
        session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.ticket_id == flag.ticket_id,
                AuditEntry.rule.in_((RULE_NAME, SOFT_MERGE_RULE)),
                AuditEntry.state == store.APPLIED,
            )
            .limit(1)
        )
        is not None
    )
    if shows or audited:
        flag.applied = True
    return flag.applied


def check_feedback(
    session: Session, snapshot: TicketSnapshot, actor_id: int | None = None
) -> frozenset[int] | None:
    """If an agent removed cxlayer's tag or cleared/changed "Duplicate of" on a flagged
    ticket, record the pair as "not a duplicate" and return it."""
    flag = session.get(DupFlag, snapshot.id)
    if flag is None or flag.feedback_at is not None:
        return None
    # A flag the handler has not written yet (or failed to) is not contradicted by its absence.
    if not _flag_written(session, flag, snapshot):
        return None
    if flag.confirmed_at is None and _confirmed(session, snapshot, flag):
        flag.confirmed_at = store.utcnow()
        log.info("duplicate confirmed", ticket_id=snapshot.id, candidate_id=flag.candidate_id)
        return None
    if flag.confirmed_at is not None:
        return None  # merged or solved as a duplicate: later changes are not a rejection
    pair = feedback_pair(snapshot, flag.candidate_id)
    if pair is None:
        return None
    flag.feedback_at = store.utcnow()
    merge = session.get(DupSoftMerge, snapshot.id)
    if merge is not None and merge.original_done_at is None and merge.undone_at is None:
        # A merge still to be finished (native, or CCs) must not go ahead against the agent.
        merge.undone_at = store.utcnow()
        merge.undo_result = "cancelled: an agent said it is not a duplicate"
    record_not_duplicate(
        session,
        snapshot.id,
        flag.candidate_id,
        source=SOURCE_AGENT,
        ticket_id=snapshot.id,
        actor_id=actor_id,
    )
    log.info("not a duplicate recorded", ticket_id=snapshot.id, candidate_id=flag.candidate_id)
    return pair


TAG_CLOSED_BY_MERGE = "closed_by_merge"  # Zendesk tags a ticket merged into another


def _confirmed(session: Session, snapshot: TicketSnapshot, flag: DupFlag) -> bool:
    """An agent merged the flagged ticket, or solved it as a Duplicate of the candidate
    (cxlayer's own soft merge sets the same fields and is not an agent's word)."""
    if TAG_CLOSED_BY_MERGE in snapshot.tags:
        return True
    linked = snapshot.field(FIELD_DUPLICATE_OF) == flag.candidate_id
    if linked and snapshot.field(FIELD_RESOLUTION_TYPE) == RESOLUTION_DUPLICATE:
        return session.get(DupSoftMerge, snapshot.id) is None
    return False


def _record_flag(
    session: Session, ticket_id: int, match: Match, source: str, *, applied: bool
) -> None:
    """Record the flag with the evidence its note shows: `match` is the note's first candidate,
    so its matching sentences are the ones the agent reads (the console shows them as stored)."""
    session.merge(
        DupFlag(
            ticket_id=ticket_id,
            candidate_id=match.candidate_id,
            score=match.score,
            source=source,
            flagged_at=store.utcnow(),
            applied=applied,
            feedback_at=None,
            confirmed_at=None,
            evidence=[[new, old] for new, old in match.matching_sentences],
        )
    )


def _best(
    matches: Iterable[Match], suppressed: set[frozenset[int]], ticket_id: int
) -> Match | None:
    allowed = [m for m in matches if pair_key(ticket_id, m.candidate_id) not in suppressed]
    return max(allowed, key=lambda m: m.score, default=None)


# --- webhook events --------------------------------------------------------------------------
def on_ticket_event(
    app: Flask,
    snapshot: TicketSnapshot,
    event: TicketEvent,
    *,
    session: Session | None = None,
) -> Decision | None:
    """Keep the index current from any event and record agent feedback on a flagged ticket;
    on `ticket_created`, return the flag Decision, or at `auto_threshold` the soft-merge
    Decision for the new ticket (the caller applies and audits either). No Zendesk I/O here:
    the original's side of a soft merge is done afterwards by `finish_soft_merges`.

    `session`: the caller's open transaction (the handler's deciders get one); without it one
    is opened here. Events caused by cxlayer's own API user only update the index.
    """
    if session is None:
        with store.session(app) as own:
            return on_ticket_event(app, snapshot, event, session=own)
    settings = duplicate_settings(app)
    current_index(app, session)
    row = index_ticket(app, session, snapshot)
    if event.by_service or row is None:
        return None
    rejected = check_feedback(session, snapshot, event.actor_id)
    flag = session.get(DupFlag, snapshot.id)
    if (
        flag is not None
        and flag.feedback_at is not None
        and (rejected is not None or TAG_FLAG_WATCH in snapshot.tags)
    ):
        # "Not a duplicate": confirm it to the agent and clear what is left of the flag.
        return not_duplicate_decision(snapshot, flag.candidate_id)
    if event.kind != TICKET_CREATED:
        return None
    status = precision_status(app, session)
    if status.raised:
        settings = replace(settings, flag_threshold=status.threshold_in_use)
    # A redelivery or a re-decision after a conflict decides again from the current snapshot;
    # flag_decision returns None once "Duplicate of" is written.
    suppressed = suppressed_pairs(session, snapshot.id)
    state = index_state(app)
    with state.lock:
        # The snapshot, not the row: Zendesk's comment metadata, where read, marks auto-replies.
        matches = find_duplicates(
            snapshot,
            state.index,
            state.index.model,
            settings,
            suppressed_pairs=suppressed,
            descriptions=descriptions(session),
        )
    best = _best(matches, suppressed, snapshot.id)
    if best is None:
        return None
    unlinked = snapshot.field(FIELD_DUPLICATE_OF) in (None, "", 0)
    native = native_merge_enabled(app)
    if settings.auto_threshold > 0 and best.score >= settings.auto_threshold and unlinked:
        merge = _plan_soft_merge(session, snapshot, best, native=native)
        if merge.undone_at is None and not native:
            with app.app_context():
                mappings = current_mappings()
            _record_flag(session, snapshot.id, best, SOURCE_WEBHOOK, applied=False)
            return soft_merge_decision(snapshot, matches, settings, mappings, merge)
    decision = flag_decision(
        snapshot.id, matches, settings, suppressed_pairs=suppressed, current=snapshot
    )
    if decision is not None:
        _record_flag(session, snapshot.id, best, SOURCE_WEBHOOK, applied=False)
        log.info(
            "possible duplicate",
            ticket_id=snapshot.id,
            candidate_id=best.candidate_id,
            score=best.score,
        )
    return decision


def duplicates_decider(
    app: Flask, session: Any, snapshot: TicketSnapshot, event: TicketEvent
) -> Decision | None:
    """`webhooks.handler.register_decider(app, duplicates_decider)`: on_ticket_event in the
    handler's transaction."""
    return on_ticket_event(app, snapshot, event, session=session)


# --- soft merge and undo ----------------------------------------------------------------------
SOFT_MERGE_RULE = "duplicates.soft_merge"


def _cc_text(ids: Iterable[int]) -> str:
    listed = sorted(ids)
    return ", ".join(f"user {i}" for i in listed) if listed else NO_CCS


def _plan_soft_merge(
    session: Session, snapshot: TicketSnapshot, best: Match, *, native: bool
) -> DupSoftMerge:
    """The stored plan of a soft (or native) merge: what to restore and which CCs to move."""
    merge = session.get(DupSoftMerge, snapshot.id)
    if merge is not None:
        return merge
    merge = DupSoftMerge(
        ticket_id=snapshot.id,
        original_id=best.candidate_id,
        score=best.score,
        native=native,
        previous_status=snapshot.custom_status,
        previous_category=snapshot.status,
        planned_cc_ids=sorted(
            {int(i) for i in snapshot.collaborator_ids} - {snapshot.requester_id}
        ),
        added_cc_ids=[],
        merged_at=store.utcnow(),
    )
    session.add(merge)
    session.flush()
    return merge


def soft_merge_decision(
    snapshot: TicketSnapshot,
    matches: list[Match],
    settings: DuplicateSettings,
    mappings: Mappings,
    merge: DupSoftMerge,
) -> Decision:
    """Solve the new ticket with resolution type Duplicate and "Duplicate of" set, a note for
    agents and a public comment pointing the requester to the original."""
    if mappings.resolution_type(RESOLUTION_DUPLICATE) is None:
        raise DuplicatesError(f"resolution type {RESOLUTION_DUPLICATE!r} is not in mappings")
    solved = mappings.category_default("solved")
    if solved is None:
        raise DuplicatesError("mappings have no default status in the solved category")
    original_id = merge.original_id
    note = SOFT_MERGE_NOTE.format(
        original_id=original_id,
        score=merge.score,
        threshold=settings.auto_threshold,
        ccs=_cc_text(merge.planned_cc_ids or ()),
        ticket_id=snapshot.id,
    )
    return Decision(
        rule=SOFT_MERGE_RULE,
        reason=f"duplicate of #{original_id} (score {merge.score:.2f} >= automatic threshold "
        f"{settings.auto_threshold:.2f})",
        actions=(
            SetCustomStatus(solved.value),
            SetField(FIELD_RESOLUTION_TYPE, RESOLUTION_DUPLICATE),
            SetField(FIELD_DUPLICATE_OF, original_id),
            AddTags((TAG_POSSIBLE_DUPLICATE, TAG_SOFT_MERGED)),
            InternalNote(note + "\n\n" + note_body(matches, settings)),
            PublicComment(SOFT_MERGE_PUBLIC.format(original_id=original_id)),
        ),
    )


@dataclass(frozen=True)
class FinishResult:
    ticket_id: int
    original_id: int
    done: bool
    reason: str


# A planned merge whose new ticket never showed the change (the write failed, an agent
# disagreed first) is given up after this long.
ABANDON_AFTER = timedelta(hours=1)


def finish_soft_merges(app: Flask, *, client: ZendeskClient | None = None) -> list[FinishResult]:
    """The original's side of planned merges, once the new ticket shows the merge: CCs added
    and a note (soft), or Zendesk's merge call (native, only while the flag still stands).
    Runs every minute in the worker's scheduler and after `duplicates sync`."""
    with store.session(app, readonly=True) as session:
        pending = list(
            session.scalars(
                select(DupSoftMerge).where(
                    DupSoftMerge.original_done_at.is_(None), DupSoftMerge.undone_at.is_(None)
                )
            )
        )
    if not pending:
        return []
    client = client or client_for(app)
    settings = duplicate_settings(app)
    results: list[FinishResult] = []
    with client.operation("duplicates finish merges"):
        for merge in pending:
            results.append(_finish_one(app, client, merge, settings))
    return results


def _finish_one(
    app: Flask, client: ZendeskClient, merge: DupSoftMerge, settings: DuplicateSettings
) -> FinishResult:
    current = client.read_snapshot(merge.ticket_id)
    linked = current.field(FIELD_DUPLICATE_OF) == merge.original_id
    if merge.native:
        ready = linked and TAG_POSSIBLE_DUPLICATE in current.tags and current.status != "closed"
    else:
        ready = linked and current.status in ("solved", "closed")
    if not ready:
        if store.utcnow() - merge.merged_at < ABANDON_AFTER:
            return FinishResult(merge.ticket_id, merge.original_id, False, "not applied yet")
        reason = "abandoned: the new ticket never showed the merge (or an agent undid it)"
        with store.session(app) as session:
            stored = session.get(DupSoftMerge, merge.ticket_id)
            if stored is not None:
                stored.undone_at = store.utcnow()
                stored.undo_result = reason
        return FinishResult(merge.ticket_id, merge.original_id, False, reason)
    added: list[int] = []
    if merge.native:
        reason = f"merged into #{merge.original_id} with Zendesk's native merge"
        write_audited(
            app,
            [_finish_intent(merge, reason, added)],
            partial(
                client.call,
                "POST",
                f"/api/v2/tickets/{merge.original_id}/merge.json",
                body={
                    "ids": [merge.ticket_id],
                    "source_comment": NATIVE_MERGE_SOURCE_COMMENT.format(
                        original_id=merge.original_id
                    ),
                    "source_comment_is_public": True,
                    "target_comment": NATIVE_MERGE_TARGET_NOTE.format(
                        ticket_id=merge.ticket_id,
                        score=merge.score,
                        threshold=settings.auto_threshold,
                    ),
                    "target_comment_is_public": False,
                },
            ),
            invocation_id=f"duplicates:{SOFT_MERGE_RULE}:{merge.original_id}",
        )
    else:
        original = client.ticket(merge.original_id)
        present = {int(x) for x in original.get("email_cc_ids") or ()}
        requester = int(original.get("requester_id") or 0)
        added = sorted({int(i) for i in merge.planned_cc_ids or ()} - present - {requester})
        reason = f"CCs added to #{merge.original_id}: {_cc_text(added)}"
        _update_original(
            app,
            client,
            original,
            [{"user_id": i, "action": "put"} for i in added],
            SOFT_MERGE_ORIGINAL_NOTE.format(
                ticket_id=merge.ticket_id, score=merge.score, ccs=_cc_text(added)
            ),
            intent=_finish_intent(merge, reason, added),
        )
    with store.session(app) as session:
        stored = session.get(DupSoftMerge, merge.ticket_id)
        if stored is not None:
            stored.added_cc_ids = added
            stored.original_done_at = store.utcnow()
        flag = session.get(DupFlag, merge.ticket_id)
        if flag is not None:
            flag.applied = True
    log.info("merge finished", ticket_id=merge.ticket_id, original_id=merge.original_id)
    return FinishResult(merge.ticket_id, merge.original_id, True, reason)


def _finish_intent(merge: DupSoftMerge, reason: str, added: list[int]) -> Intent:
    """The original's audit row for finishing a soft merge (announced before the write)."""
    return Intent(
        ticket_id=merge.original_id,
        rule=SOFT_MERGE_RULE,
        action="native_merge" if merge.native else "add_ccs",
        reason=f"#{merge.ticket_id} is a duplicate of this ticket; {reason}",
        after={"merged_ticket_id": merge.ticket_id, "added_cc_ids": added},
    )


def _update_original(
    app: Flask,
    client: ZendeskClient,
    original: dict[str, Any],
    cc_changes: list[dict[str, Any]],
    note: str,
    *,
    intent: Intent,
) -> None:
    """CC changes plus an internal note on the original, as one safe update (re-read once on
    a conflict: the change does not depend on what else changed), announced in the audit as
    `intent` before it is sent (sync/audited.py)."""
    changes: dict[str, Any] = {"comment": {"body": note, "public": False}}
    if cc_changes:
        changes["email_ccs"] = cc_changes
    original_id = intent.ticket_id
    for attempt in range(2):
        try:
            write_audited(
                app,
                [intent],
                partial(client.update_ticket, str(original["updated_at"]), original_id, changes),
                invocation_id=f"duplicates:{intent.rule}:{original_id}",
                ticket_stamp=str(original["updated_at"]),
            )
            return
        except TicketConflict:
            if attempt:
                raise
            original = client.ticket(original_id)


@dataclass(frozen=True)
class UndoResult:
    ticket_id: int
    original_id: int
    reopened: bool
    removed_cc_ids: tuple[int, ...]
    reason: str


def undo_soft_merge(
    app: Flask, ticket_id: int, *, client: ZendeskClient | None = None
) -> UndoResult:
    """Reverse a soft merge: the ticket's previous status back (open if it was new), Resolution
    type and "Duplicate of" cleared, the CCs added to the original removed, a note on each,
    and the pair remembered as "not a duplicate". A native merge not yet made is cancelled."""
    with store.session(app, readonly=True) as session:
        record = session.get(DupSoftMerge, ticket_id)
    if record is None:
        raise DuplicatesError(f"ticket {ticket_id} was not soft-merged by cxlayer")
    if record.undone_at is not None:
        return UndoResult(
            ticket_id, record.original_id, False, (), f"already undone: {record.undo_result}"
        )
    if record.native and record.original_done_at is not None:
        raise DuplicatesError(
            f"ticket {ticket_id} was merged with Zendesk's native merge, which cannot be undone"
        )
    client = client or client_for(app)
    with app.app_context():
        mappings = current_mappings()
    previous = record.previous_status
    if previous is None or mappings.status(previous).category in ("new", "solved"):
        # Zendesk never lets a ticket go back to New: reopen it as Open instead.
        fallback = mappings.category_default("open")
        if fallback is None:
            raise DuplicatesError("mappings have no default status in the open category")
        previous = fallback.value
    label = mappings.status(previous).agent_label
    reopened = False
    for attempt in range(2):
        current = client.read_snapshot(ticket_id)
        if current.status == "closed":
            raise DuplicatesError(f"ticket {ticket_id} is closed; Zendesk cannot reopen it")
        actions: list[Action] = []
        if current.status == "solved" and not record.native:
            actions.append(SetCustomStatus(previous))
        if current.field(FIELD_RESOLUTION_TYPE) == RESOLUTION_DUPLICATE:
            actions.append(SetField(FIELD_RESOLUTION_TYPE, None))
        if current.field(FIELD_DUPLICATE_OF) == record.original_id:
            actions.append(SetField(FIELD_DUPLICATE_OF, None))
        actions.append(RemoveTags((TAG_POSSIBLE_DUPLICATE, TAG_SOFT_MERGED, TAG_FLAG_WATCH)))
        actions.append(InternalNote(UNDO_NOTE.format(status=label, original_id=record.original_id)))
        reopening = current.status == "solved" and not record.native
        intent = Intent(
            ticket_id=ticket_id,
            rule="duplicates.undo",
            action="reopen" if reopening else "clear",
            reason=f"soft merge into #{record.original_id} undone: "
            + (f"reopened as {label}" if reopening else "link cleared, status left as is"),
            after={"status": previous if reopening else current.status},
        )
        try:
            write_audited(
                app,
                [intent],
                partial(client.apply_actions, current, actions),
                invocation_id=f"duplicates:undo:{ticket_id}",
                ticket_stamp=current.updated_stamp,
            )
        except TicketConflict:
            if attempt:
                raise
            continue
        reopened = reopening
        break
    removable: tuple[int, ...] = ()
    if record.original_done_at is not None and not record.native:
        original = client.ticket(record.original_id)
        present = {int(x) for x in original.get("email_cc_ids") or ()}
        removable = tuple(int(i) for i in record.added_cc_ids or () if int(i) in present)
        _update_original(
            app,
            client,
            original,
            [{"user_id": i, "action": "delete"} for i in removable],
            UNDO_ORIGINAL_NOTE.format(ticket_id=ticket_id, ccs=_cc_text(removable)),
            intent=Intent(
                ticket_id=record.original_id,
                rule="duplicates.undo",
                action="remove_ccs",
                reason=f"soft merge of #{ticket_id} undone: CCs removed: {_cc_text(removable)}",
                after={"removed_cc_ids": list(removable)},
            ),
        )
    reason = (
        f"reopened as {label}; CCs removed from #{record.original_id}: {_cc_text(removable)}"
        if reopened
        else f"not solved by cxlayer any more (status left as is); link cleared; CCs removed "
        f"from #{record.original_id}: {_cc_text(removable)}"
    )
    with store.session(app) as session:
        stored = session.get(DupSoftMerge, ticket_id)
        if stored is not None:
            stored.undone_at = store.utcnow()
            stored.undo_result = reason
        flag = session.get(DupFlag, ticket_id)
        if flag is not None and flag.feedback_at is None:
            flag.feedback_at = store.utcnow()
        record_not_duplicate(
            session, ticket_id, record.original_id, source=SOURCE_UNDO, ticket_id=ticket_id
        )
    return UndoResult(ticket_id, record.original_id, reopened, removable, reason)


# --- backfill scan --------------------------------------------------------------------------
class Progress(Protocol):
    def update(self, n_steps: int) -> None: ...


ProgressFactory = Callable[[int], AbstractContextManager[Progress]]


class _NoProgress:
    def update(self, n_steps: int) -> None:
        return None


@contextmanager
def _no_progress(_length: int) -> Iterator[Progress]:
    yield _NoProgress()


@dataclass
class ScanReport:
    since: datetime
    dry_run: bool
    fetched: int = 0
    examined: int = 0
    flagged: list[tuple[int, int, float]] = field(default_factory=list)  # (ticket, original, score)
    already_linked: int = 0
    conflicts: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    api_calls: int = 0


def scan(
    app: Flask,
    since: datetime,
    *,
    dry_run: bool = False,
    client: ZendeskClient | None = None,
    progress: ProgressFactory = _no_progress,
) -> ScanReport:
    """Flag possible duplicates among tickets created since `since` (search export; earlier
    tickets inside the window are read as candidates). Idempotent: tickets that already have
    "Duplicate of" and suppressed pairs are left alone, so a second run writes nothing.
    Flags only: a backfill never solves or merges. A dry run writes nothing to Zendesk."""
    if since.tzinfo is None:
        raise DuplicatesError("--since needs a time zone (or a plain date, read as UTC)")
    settings = duplicate_settings(app)
    # A backfill flags no more boldly than the webhooks: agents' feedback holds here too.
    settings = replace(settings, flag_threshold=precision_status(app).threshold_in_use)
    client = client or client_for(app)
    report = ScanReport(since=since, dry_run=dry_run)
    with client.operation("duplicates scan") as metrics:
        provisioned = Provisioned.load(client)
        groups = {int(g["id"]): str(g["name"]) for g in client.groups()}
        start = (since - timedelta(days=settings.window_days + 1)).date().isoformat()
        snapshots = [
            snapshot_from_ticket(raw, provisioned, groups)
            for raw in client.search_export(f"type:ticket created>{start}")
        ]
        snapshots = [s for s in snapshots if s.created_at is not None]
        snapshots.sort(key=lambda s: (s.created_at, s.id))
        report.fetched = len(snapshots)
        with store.session(app) as session:
            current_index(app, session)
            for snap in snapshots:
                if snap.status == "deleted":
                    forget_ticket(app, session, snap.id)
                else:
                    index_ticket(app, session, snap)
            suppressed = suppressed_pairs(session)
        targets = [s for s in snapshots if s.created_at and s.created_at >= since]
        ctx = _Scan(app, client, settings, suppressed, index_state(app), report)
        with progress(len(targets)) as bar:
            for snap in targets:
                report.examined += 1
                _scan_one(ctx, snap)
                bar.update(1)
        report.api_calls = metrics.calls
    return report


@dataclass
class _Scan:
    """What every ticket of one scan shares."""

    app: Flask
    client: ZendeskClient
    settings: DuplicateSettings
    suppressed: set[frozenset[int]]
    state: IndexState
    report: ScanReport


def _scan_one(ctx: _Scan, snap: TicketSnapshot) -> None:
    app, client, settings, suppressed = ctx.app, ctx.client, ctx.settings, ctx.suppressed
    state, report, dry_run = ctx.state, ctx.report, ctx.report.dry_run
    if snap.status in ("closed", "deleted"):
        return
    if snap.field(FIELD_DUPLICATE_OF) not in (None, "", 0):
        report.already_linked += 1
        return
    for attempt in range(2):
        # The database first, then the memory lock (see current_index): the flagged
        # candidates' descriptions are read from dup_ticket.
        with store.session(app, readonly=True) as reading, state.lock:
            matches = find_duplicates(
                snap,
                state.index,
                state.index.model,
                settings,
                suppressed_pairs=suppressed,
                descriptions=descriptions(reading),
            )
        decision = flag_decision(
            snap.id, matches, settings, suppressed_pairs=suppressed, current=snap
        )
        best = _best(matches, suppressed, snap.id)
        if decision is None or best is None:
            return
        if dry_run:
            report.flagged.append((snap.id, best.candidate_id, best.score))
            return
        # Announced in the audit before the write, settled after (sync/audited.py).
        intents = [
            Intent(ticket_id=snap.id, rule=decision.rule, action=a.kind, reason=decision.reason)
            for a in decision.actions
        ]
        try:
            write_audited(
                app,
                intents,
                partial(client.apply_actions, snap, decision.actions),
                invocation_id="duplicates-scan",
                outcome=_updates_written,
                ticket_stamp=snap.updated_stamp,
            )
        except TicketConflict:
            if attempt:
                report.conflicts.append(snap.id)
                return
            snap = client.read_snapshot(snap.id)  # changed since the export: decide again
            continue
        except ZendeskError as exc:
            report.errors.append((snap.id, str(exc)))
            return
        report.flagged.append((snap.id, best.candidate_id, best.score))
        with store.session(app) as session:
            _record_flag(session, snap.id, best, SOURCE_SCAN, applied=True)
        return


def _updates_written(result: Any) -> str:
    return f"ok: {len(result.updates)} update(s)"


# --- incremental sync --------------------------------------------------------------------------
@dataclass
class SyncReport:
    seen: int = 0
    indexed: int = 0
    removed: int = 0
    feedback: int = 0
    pruned: int = 0
    merges_finished: int = 0
    api_calls: int = 0


def sync_index(
    app: Flask, *, client: ZendeskClient | None = None, start_time: int | None = None
) -> SyncReport:
    """Bring the index up to date from the incremental ticket export (own cursor in state
    `duplicates.incremental_cursor`, saved after each page), record agent feedback seen on
    flagged tickets (e.g. a removed tag, which no trigger reports), and drop tickets older
    than the retention. The first run starts `retention_days` ago unless `start_time`."""
    client = client or client_for(app)
    report = SyncReport()
    retention = retention_days(app)
    with client.operation("duplicates sync") as metrics:
        provisioned = Provisioned.load(client)
        groups = {int(g["id"]): str(g["name"]) for g in client.groups()}
        with store.session(app, readonly=True) as session:
            cursor = store.get_state(session, CURSOR_STATE)
        if start_time is None:
            start_time = int((store.utcnow() - timedelta(days=retention)).timestamp())
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start_time}
        while True:
            page = client.call("GET", "/api/v2/incremental/tickets/cursor.json", params=params)
            with store.session(app) as session:
                current_index(app, session)
                for raw in page.get("tickets") or []:
                    report.seen += 1
                    snap = snapshot_from_ticket(raw, provisioned, groups)
                    if snap.status == "deleted":
                        forget_ticket(app, session, snap.id)
                        report.removed += 1
                        continue
                    if index_ticket(app, session, snap) is not None:
                        report.indexed += 1
                    if check_feedback(session, snap) is not None:
                        report.feedback += 1
                after = page.get("after_cursor")
                if after:
                    store.set_state(session, CURSOR_STATE, after)
            if page.get("end_of_stream") or not after:
                break
            params = {"cursor": after}
        report.api_calls = metrics.calls
    cutoff = store.utcnow() - timedelta(days=retention)
    with store.session(app) as session:
        old = list(session.scalars(select(DupTicket.id).where(DupTicket.created_at < cutoff)))
        for ticket_id in old:
            forget_ticket(app, session, ticket_id)
        report.pruned = len(old)
    report.merges_finished = sum(1 for r in finish_soft_merges(app, client=client) if r.done)
    return report


# --- feedback report --------------------------------------------------------------------------
def feedback_counts(app: Flask) -> dict[str, int]:
    """What agents and operators said about cxlayer's flags, for `duplicates feedback`."""
    with store.session(app, readonly=True) as session:

        def count(query: Any) -> int:
            return int(session.scalar(query) or 0)

        flags = select(func.count()).select_from(DupFlag)
        pairs = select(func.count()).select_from(DupSuppressedPair)
        merges = select(func.count()).select_from(DupSoftMerge)
        return {
            "flags": count(flags),
            "flags_from_webhooks": count(flags.where(DupFlag.source == SOURCE_WEBHOOK)),
            "flags_from_scans": count(flags.where(DupFlag.source == SOURCE_SCAN)),
            "flags_standing": count(flags.where(DupFlag.feedback_at.is_(None))),
            "not_duplicate_by_agents": count(pairs.where(DupSuppressedPair.source == SOURCE_AGENT)),
            "confirmed_by_agents": count(flags.where(DupFlag.confirmed_at.is_not(None))),
            "soft_merges": count(merges.where(DupSoftMerge.native.is_(False))),
            "native_merges": count(merges.where(DupSoftMerge.native.is_(True))),
            "soft_merges_undone": count(merges.where(DupSoftMerge.undone_at.is_not(None))),
            "indexed_tickets": count(select(func.count()).select_from(DupTicket)),
        }
