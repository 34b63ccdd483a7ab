"""The nightly auto-solve sweep: list, learn the comments, decide, write in bulk, report, undo.

One run:

1. takes the sweep lock (PostgreSQL advisory lock; on SQLite a lease row in `state`), real
   runs only — a dry run writes nothing, so forecasts may run beside the nightly sweep;
2. lists the tickets awaiting the requester with search export (exemptions that search can
   express are left out by the query; listed tickets exempt otherwise are decided — and
   reported — as "exempt"). Nightly, only those whose "Auto-solve due" date is near enough for
   a reminder or a solve, plus those with no date (two searches;
   `triggers.autosolve.listing_cutoff`); the first run, one night a week
   (`[sweep] full_listing_day`), `--all` and `[sweep] listing = "all"` list every awaiting
   ticket. Awaiting tickets with an exempt tag (paused by an agent) are listed by one more
   search after the writes, for the report only: each is reported as "exempt", nothing is read
   or written for it (1 call per 1,000 paused tickets). The date is written by cxlayer alone
   (webhook handler at clock start, sweep otherwise), and decisions never trust it: they are
   made from the comments, so a stale date is corrected, never obeyed;
3. catches up the clock's facts, every comment as cxlayer first saw it (`sweep_comment`, also
   kept by webhook events through `record_comment`), from the incremental ticket-events export
   with comment events, many tickets per page, from its own cursor in `state` (a dry run keeps
   what it read in memory only). The export is read *after* listing: every comment made
   before a listed snapshot is then known, and any later one changes the ticket's
   `updated_at`, so the safe update below refuses the write. A listed ticket whose first
   comment cxlayer never saw (an import, or older than the cursor) has its comments read once
   (one call per ticket, authors' roles in bulk; `history_learned` in the report);
4. decides each ticket with `triggers.autosolve.decide` at `as_of`, from its comments folded
   into clock facts (`triggers.clock`);
5. writes decisions as safe updates (each ticket's own `updated_stamp`) through `update_many`
   (100 tickets per job, job statuses polled together). A ticket that fails (409: it changed)
   is re-read with `show_many` and re-decided once; if it still fails, or the re-decision no
   longer writes, it is reported as a conflict and left untouched;
6. keeps every decision per run in `sweep_run_ticket` (intent before the write, outcome after),
   `next_state` in `sweep_episode` after a successful write, and the report in `sweep_run`,
   and writes the JSON + HTML report files.

Resuming after a crash or a budget stop never repeats an action: a solved ticket has left the
listed statuses; a reminder is recognised by its tag plus the "Auto-solve due" field (both
written in the reminder's own update) even when the store never heard of it.

Internal notes. Zendesk takes one comment per update, and a remind/solve update's one comment
is the public one (the requester must see it). Agents are told in an internal note all the
same: cxlayer writes the "Auto-solve due" date only together with the plan note (reminder date,
solve date, how to stop it), so a reminder or solve on a ticket showing that date was announced
in a note before it happened (`AutoSolveDecision.announced`). For a ticket that was not (first
run, a date cxlayer never wrote) the decision's note is posted after the write as a second,
stamp-free bulk update; `[sweep] internal_notes = "always"` posts it after every reminder and
solve (about 10 more API calls per 1,000 tickets changed). Every note also goes to the run's
records and the audit table.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

import store
from autosolve.models import (
    RUN_DONE,
    RUN_FAILED,
    RUN_RUNNING,
    RUN_STOPPED,
    WRITE_CONFLICT,
    WRITE_ERROR,
    WRITE_NONE,
    WRITE_OK,
    WRITE_PENDING,
    SweepComment,
    SweepEpisode,
    SweepRun,
    SweepRunTicket,
    SweepUserRole,
)
from autosolve.report import build_report, write_report
from logs import get_logger
from mappings import Mappings
from sync import TicketChange, TicketResult, ZendeskClient, client_for
from sync.http import RateLimitBudgetExhausted, TicketConflict, ZendeskError
from sync.snapshot import Provisioned, build_updates, comment_via, snapshot_from_ticket
from triggers.autoreply import is_auto_reply
from triggers.autosolve import (
    AutoSolveConfig,
    AutoSolveDecision,
    EpisodeState,
    Outcome,
    conflict,
    decide,
    listing_cutoff,
    next_state,
    undo_decision,
)
from triggers.clock import ClockFacts, Speaker, classify, is_merge_comment
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    Action,
    Comment,
    InternalNote,
    PublicComment,
    TicketSnapshot,
)

__all__ = [
    "STATE_EVENTS_START",
    "STATE_LOCK",
    "STATE_RESUME_AFTER",
    "SweepBusy",
    "SweepError",
    "SweepOptions",
    "SweepResult",
    "UndoResult",
    "candidate_queries",
    "candidate_query",
    "catch_up_comments",
    "record_comment",
    "run_sweep",
    "sweep_lock",
    "undo_run",
    "weekly_full",
]

log = get_logger("cxlayer.sweep")

STATE_EVENTS_START = "sweep.ticket_events_start_time"
STATE_RESUME_AFTER = "sweep.resume_after_ticket_id"
STATE_LOCK = "sweep.lock"
SERVICE_USER_ID = store.SERVICE_USER_ID  # set by provisioning (sync/provisioning.py)
ADVISORY_LOCK_KEY = 7_230_845_201  # any fixed 64-bit number; names this lock across hosts
EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
AGENT_ROLES = ("agent", "admin")
MAX_BATCH = 100
NOTES_UNANNOUNCED, NOTES_ALWAYS = "unannounced", "always"
NOTES_CHOICES = (NOTES_UNANNOUNCED, NOTES_ALWAYS)
LISTING_DUE, LISTING_ALL = "due", "all"
LISTING_CHOICES = (LISTING_DUE, LISTING_ALL)
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNCONFIRMED_WINDOW = timedelta(hours=1)
KIND_UNKNOWN = "unknown"  # a stored comment whose author's role is not known yet
# Report reason (admins) for the one decision the sweep itself adds to triggers.autosolve's.
REASON_WRITE_UNCONFIRMED = (
    "an earlier run ({run_id}) sent an update that is not confirmed yet (its job may still be "
    "queued); left for the next run so nothing is sent twice"
)
# A ticket the listing left out because it carries an exempt tag (an agent paused auto-solve,
# in the sidebar or by adding the tag): reported, never decided nor written.
REASON_PAUSED = "exempt by tag {tag}: paused by an agent; never auto-solved (nothing written)"


class SweepError(Exception):
    """A sweep cannot run or an undo cannot proceed; the message says why."""


class SweepBusy(SweepError):
    """Another sweep holds the lock."""


@dataclass(frozen=True)
class SweepOptions:
    """The [sweep] settings the loop needs beyond `AutoSolveConfig` (defaults when missing)."""

    max_api_calls: int = 2000
    max_tickets: int = 10000
    write_round: int = 2500  # tickets per update_many call (25 jobs of 100 in flight)
    lease_seconds: float = 1800.0  # SQLite lock lease; renewed after every write round
    events_start_time: int = 0  # where the ticket-events export starts on the first run
    # When a reminder or solve also gets a separate internal note (a second, stamp-free write):
    # "unannounced" — only where the plan note (written with the due date) never was;
    # "always" — after every reminder and solve as well (~10 more calls per 1,000 changed).
    internal_notes: str = NOTES_UNANNOUNCED
    # "due": list only tickets whose "Auto-solve due" date is near or unset (two searches);
    # "all": every ticket awaiting the requester (also the first run, and `--all`).
    listing: str = LISTING_DUE
    # One night a week lists every awaiting ticket anyway (in [sweep] timezone; "" never): a
    # safety net for due dates that became too late (a holiday removed from a calendar, a
    # shorter solve_after) and for a search that would miss dated tickets.
    full_listing_day: str = "sunday"
    timezone: str = "America/New_York"
    # Job polls: a nightly batch does not need answers within the second, and each poll is an
    # API call. The first poll of a round comes after `poll_seconds`; later ones when the jobs
    # left should be done at the rate seen (sync's `next_poll_delay`), at most `poll_max_seconds`.
    poll_seconds: float = 5.0
    poll_max_seconds: float = 60.0
    report_dir: str = ""

    @classmethod
    def from_settings(cls, sweep: Mapping[str, Any]) -> SweepOptions:
        def positive(name: str, default: int) -> int:
            value = sweep.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SweepError(f"[sweep] {name} must be a positive integer, got {value!r}")
            return value

        def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
            value = sweep.get(name, default)
            if value not in allowed:
                raise SweepError(
                    f"[sweep] {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
                )
            return str(value)

        def zone(name: str, default: str) -> str:
            value = str(sweep.get(name, default))
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise SweepError(f"[sweep] {name} {value!r} is not a known time zone") from None
            return value

        return cls(
            max_api_calls=positive("max_api_calls", cls.max_api_calls),
            max_tickets=positive("max_tickets", cls.max_tickets),
            write_round=positive("write_round", cls.write_round),
            lease_seconds=float(sweep.get("lease_seconds", cls.lease_seconds)),
            events_start_time=int(sweep.get("events_start_time", cls.events_start_time)),
            internal_notes=choice("internal_notes", cls.internal_notes, NOTES_CHOICES),
            listing=choice("listing", cls.listing, LISTING_CHOICES),
            full_listing_day=choice("full_listing_day", cls.full_listing_day, ("", *DAY_NAMES)),
            timezone=zone("timezone", cls.timezone),
            poll_seconds=float(sweep.get("poll_seconds", cls.poll_seconds)),
            poll_max_seconds=float(sweep.get("poll_max_seconds", cls.poll_max_seconds)),
            report_dir=str(sweep.get("report_dir", "")),
        )


@dataclass
class SweepResult:
    run_id: str
    status: str  # done, stopped (budget), failed
    report: dict[str, Any]
    decisions: list[AutoSolveDecision]
    stop_reason: str | None = None
    json_path: Path | None = None
    html_path: Path | None = None
    listing: str = LISTING_DUE  # which tickets were listed: "due" (due soon or unset) or "all"


@dataclass
class UndoResult:
    ticket_id: int
    reopened: bool
    reason: str


# --------------------------------------------------------------------------- helpers


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise SweepError(f"{moment!r} has no time zone")
    return moment.astimezone(UTC)


def _parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _compact(moment: datetime) -> str:
    return _utc(moment).strftime("%Y%m%dT%H%M%SZ")


class _Budget:
    """The run's API-call and ticket budget; the client's operation metrics count the calls."""

    def __init__(self, metrics: Any, max_calls: int) -> None:
        self.metrics = metrics
        self.max_calls = max_calls

    @property
    def calls(self) -> int:
        return int(self.metrics.calls)

    def exhausted(self) -> bool:
        return self.calls >= self.max_calls


# ------------------------------------------------------------------------------- lock


@contextmanager
def sweep_lock(
    app: Flask, owner: str, lease_seconds: float = 1800.0
) -> Iterator[Callable[[], None]]:
    """Hold the one-sweep-at-a-time lock; yields `renew()` (extends the SQLite lease).

    PostgreSQL: a session-level advisory lock on a dedicated connection (freed by the server
    if the process dies). SQLite: a lease row in `state`, checked and set in one `BEGIN
    IMMEDIATE` transaction; a crashed holder's lease expires after `lease_seconds`.
    Raises `SweepBusy` when another sweep holds it.
    """
    engine = store.engine(app)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar()
            conn.commit()
            if not got:
                raise SweepBusy("another auto-solve sweep is running (advisory lock held)")
            try:
                yield lambda: None
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
        return

    def take() -> None:
        now = store.utcnow()
        with store.session(app) as sess:
            held = store.get_state(sess, STATE_LOCK)
            if (
                isinstance(held, dict)
                and held.get("owner") != owner
                and _parse_time(held["expires_at"]) > now
            ):
                raise SweepBusy(
                    f"another auto-solve sweep is running ({held.get('owner')}, lease until "
                    f"{held['expires_at']})"
                )
            expires = now + timedelta(seconds=lease_seconds)
            store.set_state(sess, STATE_LOCK, {"owner": owner, "expires_at": expires.isoformat()})

    take()
    try:
        yield take
    finally:
        with store.session(app) as sess:
            held = store.get_state(sess, STATE_LOCK)
            if isinstance(held, dict) and held.get("owner") == owner:
                store.delete_state(sess, STATE_LOCK)


# ------------------------------------------------------------------- who spoke last


def _kind(
    comment: Comment, service_ids: frozenset[int], role_known: bool
) -> tuple[str, bool, bool]:
    """(kind, auto_reply, merge) of a comment as first seen; "unknown" while the role is not."""
    as_end_user = replace(comment, author_is_agent=False)
    auto_reply = is_auto_reply(as_end_user)
    merge = is_merge_comment(comment)
    if comment.author_id in service_ids or merge or role_known:
        return classify(comment, service_ids).value, auto_reply, merge
    return KIND_UNKNOWN, auto_reply, merge


def record_comment(  # noqa: PLR0917  the webhook handler's call, positional by design
    app: Flask,
    session: Session,
    ticket_id: int,
    author_id: int,
    public: bool,
    created_at: datetime,
    author_is_agent: bool | None,
    body: str = "",
    via: str | None = None,
    via_rel: str | None = None,
) -> bool:
    """Remember one comment as a fact of the auto-solve clock (webhook handler, export, sweep).

    The first sighting wins: a comment seen again (a duplicate event, the export after a
    webhook) keeps its kind, so roles are those the authors had when they wrote; a comment
    stored with an unknown role gets it once known. Returns True when something was stored.
    `app` is unused and kept for the handler's stable signature.
    """
    del app
    service_id = store.get_state(session, SERVICE_USER_ID)
    services = frozenset({int(service_id)}) if service_id is not None else frozenset()
    created_at = _utc(created_at)
    if author_is_agent is not None:
        _remember_role(session, author_id, author_is_agent)
    comment = Comment(
        author_id=int(author_id),
        public=bool(public),
        created_at=created_at,
        body=body,
        author_is_agent=bool(author_is_agent),
        via=via,
        via_rel=via_rel,
    )
    kind, auto_reply, merge = _kind(comment, services, author_is_agent is not None)
    key = (int(ticket_id), created_at, int(author_id))
    row = session.get(SweepComment, key)
    if row is None:
        session.add(
            SweepComment(
                ticket_id=key[0],
                created_at=created_at,
                author_id=key[2],
                public=bool(public),
                kind=kind,
                auto_reply=auto_reply,
                merge=merge,
            )
        )
        session.flush()
        return True
    if row.kind == KIND_UNKNOWN and kind != KIND_UNKNOWN:
        row.kind = kind
        return True
    return False


def _remember_role(session: Session, user_id: int, is_agent: bool) -> None:
    row = session.get(SweepUserRole, int(user_id))
    if row is None:
        session.add(SweepUserRole(user_id=int(user_id), is_agent=bool(is_agent)))
        session.flush()
    else:
        row.is_agent = bool(is_agent)


@dataclass(frozen=True)
class _Fact:
    """A stored comment fact (a `SweepComment` row, or one a dry run read and did not keep)."""

    created_at: datetime
    author_id: int
    public: bool
    kind: str
    auto_reply: bool = False


def _resolved(fact: _Fact, snap: TicketSnapshot, roles: Mapping[int, bool]) -> Speaker:
    """The speaker of a fact whose role was unknown when stored: the requester and CCs are end
    users; others by their role now (an author whose role cannot be read is an end user:
    never solve on doubt)."""
    if fact.kind != KIND_UNKNOWN:
        return Speaker(fact.kind)
    end_user = fact.author_id == snap.requester_id or fact.author_id in snap.collaborator_ids
    if not end_user and roles.get(fact.author_id, False):
        return Speaker.AGENT
    return Speaker.AUTO_REPLY if fact.auto_reply else Speaker.END_USER


def clock_facts(
    snap: TicketSnapshot, facts: Iterable[_Fact], roles: Mapping[int, bool]
) -> ClockFacts:
    """Fold a ticket's stored facts into its `ClockFacts` (any order, duplicates harmless)."""
    out = ClockFacts()
    for fact in facts:
        out = out.add(_resolved(fact, snap, roles), fact.public, fact.created_at, fact.author_id)
    return out


def stored_facts(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[_Fact]]:
    """The stored comment facts of these tickets (500 per query)."""
    out: dict[int, list[_Fact]] = {}
    for start in range(0, len(ticket_ids), 500):
        chunk = list(ticket_ids[start : start + 500])
        for row in session.scalars(select(SweepComment).where(SweepComment.ticket_id.in_(chunk))):
            out.setdefault(row.ticket_id, []).append(
                _Fact(row.created_at, row.author_id, row.public, row.kind, row.auto_reply)
            )
    return out


def _comment_events(event: Mapping[str, Any]) -> Iterator[tuple[int, Comment]]:
    """(ticket id, comment) of each comment, public or private, in one export event; the
    author's role is not in the event (`author_is_agent` is False and means unknown)."""
    ticket_id = int(event["ticket_id"])
    for child in event.get("child_events") or ():
        if child.get("event_type") != "Comment":
            continue
        created = child.get("created_at") or event.get("created_at")
        author = child.get("author_id", event.get("updater_id"))
        if created is None or author is None:
            continue
        via, via_rel = comment_via(child)
        yield (
            ticket_id,
            Comment(
                author_id=int(author),
                public=bool(child.get("public")),
                created_at=_parse_time(created),
                body=str(child.get("plain_body") or child.get("body") or ""),
                via=via,
                via_rel=via_rel,
            ),
        )


def catch_up_comments(
    app: Flask,
    client: ZendeskClient,
    *,
    persist: bool,
    service_ids: frozenset[int],
    budget: _Budget | None = None,
    overlay: dict[int, list[_Fact]] | None = None,
    start_default: int = 0,
) -> tuple[dict[int, list[_Fact]], bool]:
    """Read the ticket-events export (with comment events) from the sweep's cursor to the end.

    With `persist`, each page's comments and the advanced cursor are saved in one transaction
    (a crash repeats at most a page; records are idempotent). Without (dry runs), what was
    read is returned as an in-memory overlay and nothing is stored, so two dry runs read the
    same pages. Returns (overlay, complete); complete is False when the budget stopped it.
    """
    overlay = {} if overlay is None else overlay
    with store.session(app) as sess:
        start = int(store.get_state(sess, STATE_EVENTS_START, start_default))
    while True:
        if budget is not None and budget.exhausted():
            return overlay, False
        page = client.call(
            "GET", EVENTS_PATH, params={"start_time": start, "include": "comment_events"}
        )
        comments = [c for event in page.get("ticket_events") or () for c in _comment_events(event)]
        end = int(page.get("end_time") or start)
        if persist:
            with store.session(app) as sess:
                roles = _known_roles(sess, {c.author_id for _, c in comments})
                for ticket_id, c in comments:
                    record_comment(
                        app,
                        sess,
                        ticket_id,
                        c.author_id,
                        c.public,
                        c.created_at,
                        roles.get(c.author_id),
                        c.body,
                        c.via,
                        c.via_rel,
                    )
                store.set_state(sess, STATE_EVENTS_START, end)
        else:
            with store.session(app) as sess:
                roles = _known_roles(sess, {c.author_id for _, c in comments})
            for ticket_id, c in comments:
                overlay.setdefault(ticket_id, []).append(_overlay_fact(c, service_ids, roles))
        # Pages overlap by the last second (start_time is inclusive); records are idempotent.
        if end <= start and not page.get("end_of_stream"):
            # A full page within one second cannot advance a time-based cursor.
            log.warning("ticket events export did not advance", start_time=start)
        if page.get("end_of_stream") or end <= start:
            return overlay, True
        start = end


def _overlay_fact(
    comment: Comment, service_ids: frozenset[int], roles: Mapping[int, bool]
) -> _Fact:
    known = roles.get(comment.author_id)
    if known is not None:
        comment = replace(comment, author_is_agent=known)
    kind, auto_reply, _merge = _kind(comment, service_ids, known is not None)
    return _Fact(comment.created_at, comment.author_id, comment.public, kind, auto_reply)


HISTORY_SLACK = timedelta(minutes=1)


def _history_seen(snap: TicketSnapshot, facts: Sequence[_Fact]) -> bool:
    """Does cxlayer know the ticket's comments from its first one on? A ticket's first comment
    is made when it is created; without it (an import, or comments older than the export
    cursor when cxlayer started), who spoke last is not known and must be learned."""
    if not facts:
        return False
    if snap.created_at is None:
        return True
    return min(f.created_at for f in facts) <= snap.created_at + HISTORY_SLACK


def _known_roles(sess: Session, user_ids: Iterable[int]) -> dict[int, bool]:
    ids = sorted(set(user_ids))
    out: dict[int, bool] = {}
    for start in range(0, len(ids), 500):
        for row in sess.scalars(
            select(SweepUserRole).where(SweepUserRole.user_id.in_(ids[start : start + 500]))
        ):
            out[row.user_id] = row.is_agent
    return out


# ------------------------------------------------------------------------- listing


def candidate_query(config: AutoSolveConfig, provisioned: Provisioned) -> str:
    """The search query for tickets awaiting the requester, minus exempt tags.

    Same-keyword terms are OR-ed by Zendesk (the awaiting statuses), negations AND-ed. Only
    tag exemptions go into the query (agents add the exempt tag by the hundred; listing them
    every night would cost calls). Tickets exempt by priority, organization, group or form
    (forms cannot be searched) are listed and reported as "exempt", so admins see them;
    `decide` checks every exemption on every listed ticket, and again on the fresh one after
    a conflict. `paused_query` lists the tag-exempt ones, for the report.
    """
    terms = awaiting_terms(config, provisioned)
    terms += [f"-tags:{tag}" for tag in sorted(config.exempt_tags)]
    return " ".join(terms)


def paused_query(config: AutoSolveConfig, provisioned: Provisioned) -> str | None:
    """The search for tickets awaiting the requester that carry an exempt tag (an agent paused
    auto-solve); None when no exempt tag is set. Same-keyword terms are OR-ed by Zendesk, so
    `tags:a tags:b` is "either tag"."""
    if not config.exempt_tags:
        return None
    terms = awaiting_terms(config, provisioned)
    terms += [f"tags:{tag}" for tag in sorted(config.exempt_tags)]
    return " ".join(terms)


def awaiting_terms(config: AutoSolveConfig, provisioned: Provisioned) -> list[str]:
    """Search terms for "awaiting the requester": pending, on one of the awaiting statuses."""
    terms = ["type:ticket", "status:pending"]
    terms += [
        f"custom_status_id:{provisioned.status_id(value)}"
        for value in sorted(config.awaiting_statuses)
    ]
    generic = provisioned.system_statuses.get("pending")
    if generic is not None:
        # Zendesk's own generic Pending (tickets from before cxlayer, or set before apply made
        # the guide's status the default) means the same wait: listed as awaiting.
        terms.append(f"custom_status_id:{generic}")
    return terms


def weekly_full(options: SweepOptions, as_of: datetime) -> bool:
    """Is `as_of` on the weekday ([sweep] timezone) whose run lists every awaiting ticket?"""
    if not options.full_listing_day:
        return False
    local = as_of.astimezone(ZoneInfo(options.timezone))
    return DAY_NAMES[local.weekday()] == options.full_listing_day


def candidate_queries(
    config: AutoSolveConfig,
    provisioned: Provisioned,
    cutoff: date | None,
) -> list[str]:
    """The searches that list a run's tickets: all awaiting ones (`cutoff` None), or those
    whose due date is at most `cutoff` plus those with no due date (clock not started, waiting
    on us, or never seen by cxlayer). Zendesk search has no OR across keywords, hence two."""
    base = candidate_query(config, provisioned)
    if cutoff is None:
        return [base]
    due = f"custom_field_{provisioned.field_id(FIELD_AUTO_SOLVE_DUE)}"
    return [f"{base} {due}<={cutoff.isoformat()}", f"{base} {due}:none"]


# ----------------------------------------------------------------------------- run


class _Run:
    """State of one sweep run (kept small: the loop is in `run_sweep`)."""

    def __init__(
        self,
        *,
        app: Flask,
        client: ZendeskClient,
        mappings: Mappings,
        config: AutoSolveConfig,
        options: SweepOptions,
        run_id: str,
        as_of: datetime,
        dry_run: bool,
        budget: _Budget,
        before_write: Callable[[list[int]], None] | None,
        after_write: Callable[[list[int]], None] | None,
    ) -> None:
        self.app, self.client, self.mappings = app, client, mappings
        self.config, self.options = config, options
        self.run_id, self.as_of, self.dry_run = run_id, as_of, dry_run
        self.budget = budget
        self.before_write, self.after_write = before_write, after_write
        self.provisioned = Provisioned.load(client)
        self.group_names = {int(g["id"]): str(g["name"]) for g in client.groups()}
        self.group_ids = {name: gid for gid, name in self.group_names.items()}
        self.overlay: dict[int, list[_Fact]] = {}
        self.learned = 0  # tickets whose comments this run had to read (history not seen)
        self.roles: dict[int, bool] = {}
        self.service_ids: frozenset[int] = frozenset()
        self.decisions: dict[int, AutoSolveDecision] = {}
        self.changed = 0

    # ---- inputs
    def load_service_ids(self) -> None:
        with store.session(self.app) as sess:
            known = store.get_state(sess, SERVICE_USER_ID)
        if known is None:
            known = self.client.me()["id"]
            if not self.dry_run:
                with store.session(self.app) as sess:
                    store.set_state(sess, SERVICE_USER_ID, int(known))
        self.service_ids = frozenset({int(known)})

    def list_candidates(self, full: bool) -> list[TicketSnapshot]:
        """The tickets this run examines (`full`: every awaiting one; else the due-soon ones)."""
        cutoff = None if full else listing_cutoff(self.mappings, self.config, self.as_of)
        found: dict[int, TicketSnapshot] = {}
        for query in candidate_queries(self.config, self.provisioned, cutoff):
            for raw in self.client.search_export(query):
                snap = snapshot_from_ticket(raw, self.provisioned, self.group_names)
                snap = self.as_awaiting(snap)
                # Exempt ones stay: `decide` reports them as exempt (no API cost).
                if snap.custom_status in self.config.awaiting_statuses:
                    found.setdefault(snap.id, snap)
        return [found[i] for i in sorted(found)]

    def list_paused(self) -> list[AutoSolveDecision]:
        """Awaiting tickets paused by an exempt tag, as "exempt" rows for the report: one search
        (1 call per 1,000 tickets); nothing read or written per ticket. Tickets this run
        already decided (an agent paused one during the run) keep their decision."""
        query = paused_query(self.config, self.provisioned)
        if query is None:
            return []
        out = []
        for raw in self.client.search_export(query):
            snap = self.as_awaiting(snapshot_from_ticket(raw, self.provisioned, self.group_names))
            tags = sorted(t for t in snap.tags if t.lower() in self.config.exempt_tags)
            if (
                snap.custom_status not in self.config.awaiting_statuses
                or not tags
                or snap.id in self.decisions
            ):
                continue
            out.append(
                AutoSolveDecision(
                    ticket_id=snap.id,
                    decision=Outcome.EXEMPT,
                    reason=REASON_PAUSED.format(tag=tags[0]),
                    team=self.mappings.team_for_group(snap.group).key,
                    snapshot_stamp=snap.updated_stamp,
                    previous_status=snap.custom_status,
                )
            )
        return sorted(out, key=lambda d: d.ticket_id)

    def as_awaiting(self, snap: TicketSnapshot) -> TicketSnapshot:
        """A ticket on Zendesk's generic Pending is decided as on the guide's pending default
        (what the status rule and `zendesk adopt` map it to)."""
        generic = self.provisioned.system_statuses.get("pending")
        default = self.mappings.category_default("pending")
        if (
            snap.custom_status is None
            and generic is not None
            and snap.custom_status_id == generic
            and default is not None
        ):
            return replace(snap, custom_status=default.value)
        return snap

    def list_drift(self) -> list[dict[str, Any]]:
        """Pending tickets on a status an admin added in Zendesk outside the mappings: never
        reminded nor solved, listed in the report so that someone decides what they mean."""
        known = set(self.provisioned.custom_statuses.values())
        known |= set(self.provisioned.system_statuses.values())
        if not self.provisioned.system_statuses:
            return []
        query = "type:ticket status:pending " + " ".join(
            f"-custom_status_id:{i}" for i in sorted(known)
        )
        labels = {int(s["id"]): s.get("agent_label") for s in self.client.custom_statuses()}
        return [
            {"id": int(raw["id"]), "status": labels.get(int(raw.get("custom_status_id") or 0))}
            for raw in self.client.search_export(query)
            if raw.get("custom_status_id") is not None and int(raw["custom_status_id"]) not in known
        ]

    def facts(self, snapshots: Sequence[TicketSnapshot]) -> dict[int, ClockFacts]:
        """Each ticket's clock facts: the stored comments (plus a dry run's overlay), roles
        learned in bulk for authors stored as unknown, and, for tickets with no comment known
        at all (imported, or older than the export cursor), their comments read now."""
        ids = [s.id for s in snapshots]
        with store.session(self.app) as sess:
            stored = stored_facts(sess, ids)
        for ticket_id in ids:
            stored.setdefault(ticket_id, []).extend(self.overlay.get(ticket_id, ()))
        unseen = [s for s in snapshots if not _history_seen(s, stored[s.id])]
        if unseen:
            learned = self.learn(unseen)
            for ticket_id, facts in learned.items():
                stored[ticket_id].extend(facts)
        self.resolve_roles(snapshots, stored)
        by_id = {s.id: s for s in snapshots}
        return {i: clock_facts(by_id[i], stored[i], self.roles) for i in ids}

    def learn(self, snapshots: Sequence[TicketSnapshot]) -> dict[int, list[_Fact]]:
        """Read the comments of tickets whose history cxlayer has not seen (one call per ticket:
        Zendesk has no bulk comments endpoint; authors' roles in bulk, 100 per call) and keep
        them as first seen. Counted in the report ("learned")."""
        out: dict[int, list[_Fact]] = {}
        items: dict[int, list[dict[str, Any]]] = {}
        for snap in snapshots:
            if self.budget.exhausted():
                break
            items[snap.id] = list(self.client.comments(snap.id))
        authors = {int(c["author_id"]) for cs in items.values() for c in cs}
        with store.session(self.app) as sess:
            known = _known_roles(sess, authors)
        missing = authors - set(known) - set(self.service_ids)
        if missing:
            known.update(
                {int(u["id"]): u.get("role") in AGENT_ROLES for u in self.client.users(missing)}
            )
        for ticket_id, comments in items.items():
            parsed = [
                Comment(
                    author_id=int(c["author_id"]),
                    public=bool(c.get("public")),
                    created_at=_parse_time(c["created_at"]),
                    body=str(c.get("plain_body") or c.get("body") or ""),
                    author_is_agent=known.get(int(c["author_id"]), False),
                    via=comment_via(c)[0],
                    via_rel=comment_via(c)[1],
                )
                for c in comments
            ]
            out[ticket_id] = [_overlay_fact(c, self.service_ids, known) for c in parsed]
            if not self.dry_run:
                with store.session(self.app) as sess:
                    for c in parsed:
                        record_comment(
                            self.app,
                            sess,
                            ticket_id,
                            c.author_id,
                            c.public,
                            c.created_at,
                            known.get(c.author_id),
                            c.body,
                            c.via,
                            c.via_rel,
                        )
        self.learned += len(out)
        return out

    def resolve_roles(
        self, snapshots: Sequence[TicketSnapshot], stored: Mapping[int, Sequence[_Fact]]
    ) -> None:
        """Learn the roles of authors stored as unknown who are not the requester or a CC."""
        unknown: set[int] = set()
        for snap in snapshots:
            for fact in stored.get(snap.id, ()):
                if fact.kind != KIND_UNKNOWN:
                    continue
                if fact.author_id == snap.requester_id or fact.author_id in snap.collaborator_ids:
                    continue
                unknown.add(fact.author_id)
        unknown -= set(self.roles)
        if unknown:
            with store.session(self.app) as sess:
                self.roles.update(_known_roles(sess, unknown))
            unknown -= set(self.roles)
        if unknown:
            users = self.client.users(unknown)
            learned = {int(u["id"]): u.get("role") in AGENT_ROLES for u in users}
            self.roles.update(learned)
            if not self.dry_run:
                with store.session(self.app) as sess:
                    for user_id, is_agent in learned.items():
                        _remember_role(sess, user_id, is_agent)

    def episodes(self, ticket_ids: Sequence[int]) -> dict[int, EpisodeState]:
        out: dict[int, EpisodeState] = {}
        with store.session(self.app) as sess:
            for start in range(0, len(ticket_ids), 500):
                chunk = ticket_ids[start : start + 500]
                for row in sess.scalars(
                    select(SweepEpisode).where(SweepEpisode.ticket_id.in_(chunk))
                ):
                    out[row.ticket_id] = EpisodeState(
                        row.clock_start, row.reminded_at, row.due, bool(row.undone)
                    )
        return out

    def decide_all(self, snapshots: Sequence[TicketSnapshot]) -> list[AutoSolveDecision]:
        ids = [s.id for s in snapshots]
        facts = self.facts(snapshots)
        states = self.episodes(ids)
        in_flight = self.unconfirmed_writes(snapshots)
        out = []
        for snap in snapshots:
            decision = decide(
                snap,
                facts[snap.id],
                self.mappings.team_for_group(snap.group),
                self.config,
                self.as_of,
                states.get(snap.id),
            )
            if decision.actions and snap.id in in_flight:
                decision = replace(
                    decision,
                    decision=Outcome.SKIP,
                    reason=REASON_WRITE_UNCONFIRMED.format(run_id=in_flight[snap.id]),
                    actions=(),
                )
            out.append(decision)
        return out

    def unconfirmed_writes(self, snapshots: Sequence[TicketSnapshot]) -> dict[int, str]:
        """Tickets an earlier run sent a write for that may still be queued in a Zendesk job.

        A run that crashed after submitting jobs never learnt their outcome; the ticket still
        shows the stamp the write was made against until the job runs. Writing again now could
        post a second comment, so such tickets wait (for `UNCONFIRMED_WINDOW` at most: a job
        that never ran leaves the stamp unchanged forever).
        """
        if self.dry_run or not snapshots:
            return {}
        stamps = {s.id: s.updated_stamp for s in snapshots}
        since = store.utcnow() - UNCONFIRMED_WINDOW
        found: dict[int, str] = {}
        with store.session(self.app) as sess:
            ids = sorted(stamps)
            for start in range(0, len(ids), 500):
                rows = sess.scalars(
                    select(SweepRunTicket).where(
                        SweepRunTicket.ticket_id.in_(ids[start : start + 500]),
                        SweepRunTicket.write == WRITE_PENDING,
                        SweepRunTicket.run_id != self.run_id,
                        SweepRunTicket.recorded_at >= since,
                    )
                )
                for row in rows:
                    if row.snapshot_stamp == stamps[row.ticket_id]:
                        found[row.ticket_id] = row.run_id
        return found

    # ---- writes
    def payload(self, snap: TicketSnapshot, actions: Sequence[Action]) -> dict[str, Any] | None:
        """One update per ticket: with a public comment, the internal note is left out."""
        if any(isinstance(a, PublicComment) for a in actions):
            actions = [a for a in actions if not isinstance(a, InternalNote)]
        updates = build_updates(snap, actions, self.provisioned, self.mappings, self.group_ids)
        return updates[0] if updates else None

    def record(self, decisions: Iterable[AutoSolveDecision], writes: Mapping[int, str]) -> None:
        with store.session(self.app) as sess:
            for d in decisions:
                sess.merge(
                    SweepRunTicket(
                        run_id=self.run_id,
                        ticket_id=d.ticket_id,
                        decision=Outcome(d.decision).value,
                        reason=d.reason,
                        team=d.team,
                        clock_start=d.clock_start,
                        business_days_elapsed=d.business_days_elapsed,
                        due=d.due,
                        previous_status=d.previous_status,
                        write=writes.get(d.ticket_id, WRITE_NONE),
                        snapshot_stamp=d.snapshot_stamp,
                        recorded_at=store.utcnow(),
                    )
                )

    def written(self, sess: Session, decision: AutoSolveDecision) -> None:
        """After Zendesk accepted the update: outcome, episode state and audit."""
        now = store.utcnow()
        row = sess.get(SweepRunTicket, (self.run_id, decision.ticket_id))
        if row is not None:
            row.write = WRITE_OK
        episode = sess.get(SweepEpisode, decision.ticket_id)
        previous = (
            EpisodeState(
                episode.clock_start, episode.reminded_at, episode.due, bool(episode.undone)
            )
            if episode is not None
            else None
        )
        # The run decides as of `as_of` (now, for real runs; earlier in tests and replays): the
        # reminder's time is counted on that clock, like every other date of the decision.
        state = next_state(decision, previous, min(now, self.as_of))
        if state is None:
            if episode is not None:
                sess.delete(episode)
        else:  # insert or update (the row, if any, is already in the session)
            sess.merge(
                SweepEpisode(
                    ticket_id=decision.ticket_id,
                    clock_start=state.clock_start,
                    reminded_at=state.reminded_at,
                    due=state.due,
                    undone=state.undone,
                )
            )
        note = next((a.body for a in decision.actions if isinstance(a, InternalNote)), "")
        store.record_audit(
            sess,
            ticket_id=decision.ticket_id,
            rule="auto_solve",
            action=Outcome(decision.decision).value,
            reason=decision.reason + (f"\n{note}" if note else ""),
            invocation_id=self.run_id,
            before={"custom_status": decision.previous_status},
            after={"due": decision.due.isoformat() if decision.due else None},
            api_result="ok",
        )
        self.changed += 1

    def failed(self, sess: Session, ticket_id: int, outcome: str, detail: str) -> None:
        row = sess.get(SweepRunTicket, (self.run_id, ticket_id))
        if row is not None:
            row.write = WRITE_CONFLICT if outcome == "conflict" else WRITE_ERROR
            row.write_detail = detail

    def write_round(
        self, snapshots: Mapping[int, TicketSnapshot], decisions: Sequence[AutoSolveDecision]
    ) -> list[tuple[AutoSolveDecision, str]]:
        """Write one round; returns the decisions that failed, with the failure in words."""
        changes: list[TicketChange] = []
        by_id: dict[int, AutoSolveDecision] = {}
        for d in decisions:
            payload = self.payload(snapshots[d.ticket_id], d.actions) if d.actions else None
            if payload is not None:
                changes.append(TicketChange(d.ticket_id, payload, d.snapshot_stamp))
                by_id[d.ticket_id] = d
        self.record(decisions, dict.fromkeys(by_id, WRITE_PENDING))
        if not changes:
            return []
        if self.before_write is not None:
            self.before_write([c.ticket_id for c in changes])  # tests: a change races the write
        try:
            report = self.client.update_many(changes)
        except RateLimitBudgetExhausted as exc:
            # Record what finished; the rest stays "pending" (the guard above covers it).
            finished = (exc.done or {}).get("results") or []
            self.settle(by_id, finished)
            raise
        if self.after_write is not None:
            self.after_write([c.ticket_id for c in changes])  # tests: crash right after a write
        failures, notes = self.settle(by_id, report.results)
        if notes:
            # Stamp-free on purpose: a note only explains; it is right whatever changed since.
            self.notes_not_posted(self.client.update_many(notes).results)
        return failures

    def notes_not_posted(self, results: Iterable[TicketResult]) -> None:
        """A follow-up note Zendesk refused is reported (log, run record, audit), not retried:
        the change it explains is written and audited, and posting twice would be worse."""
        failed = [r for r in results if r.outcome != "ok"]
        if not failed:
            return
        with store.session(self.app) as sess:
            for result in failed:
                detail = f"internal note not posted: {result.error}: {result.details}".strip(": ")
                log.warning("sweep note not posted", ticket_id=result.ticket_id, detail=detail)
                row = sess.get(SweepRunTicket, (self.run_id, result.ticket_id))
                if row is not None:
                    row.write_detail = detail
                store.record_audit(
                    sess,
                    ticket_id=result.ticket_id,
                    rule="auto_solve",
                    action="internal_note",
                    reason=detail,
                    invocation_id=self.run_id,
                    api_result="error",
                )

    def settle(
        self, by_id: Mapping[int, AutoSolveDecision], results: Iterable[TicketResult]
    ) -> tuple[list[tuple[AutoSolveDecision, str]], list[TicketChange]]:
        """Record each ticket's write outcome (one transaction per round); returns the failures
        and the notes to post."""
        failures: list[tuple[AutoSolveDecision, str]] = []
        notes: list[TicketChange] = []
        with store.session(self.app) as sess:
            for result in results:
                self._settle_one(sess, by_id[result.ticket_id], result, failures, notes)
        return failures, notes

    def _settle_one(
        self,
        sess: Session,
        decision: AutoSolveDecision,
        result: TicketResult,
        failures: list[tuple[AutoSolveDecision, str]],
        notes: list[TicketChange],
    ) -> None:
        if result.outcome == "ok":
            self.written(sess, decision)
            note = next((a for a in decision.actions if isinstance(a, InternalNote)), None)
            public = any(isinstance(a, PublicComment) for a in decision.actions)
            wanted = self.options.internal_notes == NOTES_ALWAYS or not decision.announced
            if wanted and public and note is not None:
                notes.append(
                    TicketChange(
                        result.ticket_id, {"comment": {"body": note.body, "public": False}}
                    )
                )
        else:
            detail = f"{result.error}: {result.details}".strip(": ")
            self.failed(sess, result.ticket_id, result.outcome, detail)
            failures.append((decision, detail))

    def retry(self, failures: Sequence[tuple[AutoSolveDecision, str]]) -> None:
        """Re-read failed tickets, learn new comments, re-decide once, write what still holds."""
        ids = [d.ticket_id for d, _ in failures]
        details = {d.ticket_id: detail for d, detail in failures}
        fresh = {
            int(raw["id"]): snapshot_from_ticket(raw, self.provisioned, self.group_names)
            for raw in self.client.show_many(ids)
        }
        self.overlay, _complete = catch_up_comments(
            self.app,
            self.client,
            persist=not self.dry_run,
            service_ids=self.service_ids,
            overlay=self.overlay,
            start_default=self.options.events_start_time,
        )
        present = [fresh[i] for i in ids if i in fresh]
        redecided = {d.ticket_id: d for d in self.decide_all(present)}
        to_write: list[AutoSolveDecision] = []
        for d, detail in failures:
            again = redecided.get(d.ticket_id)
            if (
                again is not None
                and again.actions
                and again.decision
                in (
                    Outcome.REMIND,
                    Outcome.SOLVE,
                    Outcome.SKIP,
                )
            ):
                to_write.append(again)
                self.decisions[d.ticket_id] = again
            else:
                basis = again or d
                words = detail if again is None else f"{detail}; re-read: {again.reason}"
                self.decisions[d.ticket_id] = conflict(basis, words)
        conflicted = [
            self.decisions[i] for i in ids if self.decisions[i].decision is Outcome.CONFLICT
        ]
        self.record(conflicted, {d.ticket_id: WRITE_CONFLICT for d in conflicted})
        if to_write:
            for d, detail in self.write_round(fresh, to_write):
                self.decisions[d.ticket_id] = conflict(
                    d, f"{details[d.ticket_id]}; again: {detail}"
                )
                self.record([self.decisions[d.ticket_id]], {d.ticket_id: WRITE_CONFLICT})


def _new_run_id(as_of: datetime, dry_run: bool) -> str:
    if dry_run:
        return f"dry-{_compact(as_of)}"  # same as-of, same id: identical reports
    return f"run-{_compact(store.utcnow())}-{secrets.token_hex(3)}"


def _report_path(app: Flask, options: SweepOptions, run_id: str) -> Path:
    folder = Path(options.report_dir) if options.report_dir else Path(app.instance_path) / "sweep"
    return folder / f"{run_id}.json"


def run_sweep(
    app: Flask,
    *,
    as_of: datetime | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    report_path: Path | str | None = None,
    client: ZendeskClient | None = None,
    before_write: Callable[[list[int]], None] | None = None,
    after_write: Callable[[list[int]], None] | None = None,
    full: bool = False,
) -> SweepResult:
    """One auto-solve sweep. `as_of` (aware) evaluates as if it were that time; in the future
    it forces a dry run. `limit` caps tickets examined below [sweep] max_tickets.
    `full` lists every ticket awaiting the requester instead of the due-soon ones (so does
    [sweep] listing = "all", and the first run, before cxlayer has written any due dates);
    a full run also corrects due dates after a change to the teams' calendars or the settings.
    `before_write`/`after_write` get the ticket ids of each bulk write (tests use them to race
    a change against the write, or to crash between Zendesk's answer and the store).
    Raises `SweepBusy` when another real sweep runs; errors after the start mark the run failed
    (and re-raise) with every finished write recorded.
    """
    from mappings import current_mappings  # noqa: PLC0415  needs the app context below

    now = store.utcnow()
    as_of = _utc(as_of) if as_of is not None else now
    if as_of > now:
        dry_run = True
    sweep = app.config["CXLAYER"].get("sweep", {})
    options = SweepOptions.from_settings(sweep)
    if limit is not None and limit < 1:
        raise SweepError(f"--limit must be at least 1, got {limit}")
    max_tickets = min(options.max_tickets, limit) if limit else options.max_tickets
    with app.app_context():
        mappings = current_mappings()
    config = AutoSolveConfig.from_settings(sweep, mappings)
    run_id = _new_run_id(as_of, dry_run)
    if client is None:
        client = client_for(app)
        client.poll_initial_seconds = options.poll_seconds
        client.poll_max_seconds = max(options.poll_max_seconds, options.poll_seconds)

    lock = sweep_lock(app, run_id, options.lease_seconds) if not dry_run else _no_lock()
    drift: list[dict[str, Any]] = []
    with lock as renew, client.operation("sweep") as metrics:
        with store.session(app) as sess:
            sess.execute(delete(SweepRunTicket).where(SweepRunTicket.run_id == run_id))
            sess.execute(delete(SweepRun).where(SweepRun.id == run_id))
            sess.add(SweepRun(id=run_id, as_of=as_of, dry_run=dry_run, status=RUN_RUNNING))
        budget = _Budget(metrics, options.max_api_calls)
        run = _Run(
            app=app,
            client=client,
            mappings=mappings,
            config=config,
            options=options,
            run_id=run_id,
            as_of=as_of,
            dry_run=dry_run,
            budget=budget,
            before_write=before_write,
            after_write=after_write,
        )
        status, stop_reason = RUN_DONE, None
        try:
            run.load_service_ids()
            with store.session(app) as sess:
                first_run = store.get_state(sess, STATE_EVENTS_START) is None
            full = (
                full or first_run or options.listing == LISTING_ALL or weekly_full(options, as_of)
            )
            candidates = run.list_candidates(full)
            drift = run.list_drift()
            run.overlay, complete = catch_up_comments(
                app,
                client,
                persist=not dry_run,
                service_ids=run.service_ids,
                budget=budget,
                start_default=options.events_start_time,
            )
            if not complete:
                status, stop_reason = RUN_STOPPED, "API call budget reached while reading events"
                candidates = []
            with store.session(app) as sess:
                resume = store.get_state(sess, STATE_RESUME_AFTER) if not dry_run else None
            if resume is not None:  # continue after the last ticket the previous run examined
                candidates = [s for s in candidates if s.id > int(resume)] + [
                    s for s in candidates if s.id <= int(resume)
                ]
            if len(candidates) > max_tickets:
                status, stop_reason = RUN_STOPPED, f"ticket budget reached ({max_tickets})"
            todo = candidates[:max_tickets]
            last_examined = todo[-1].id if todo else None
            decided = run.decide_all(todo)  # local work only: no API calls
            for d in decided:
                run.decisions[d.ticket_id] = d
            snapshots = {s.id: s for s in todo}
            writes = [d for d in decided if d.actions]
            if dry_run:
                run.record(decided, {})
                writes = []
            else:
                run.record([d for d in decided if not d.actions], {})
            # All writes of the run go out in rounds of `write_round` tickets: one round keeps
            # up to 25 jobs in flight, polled together, so polls are shared by many tickets.
            for start in range(0, len(writes), options.write_round):
                if budget.exhausted():
                    status = RUN_STOPPED
                    stop_reason = f"API call budget reached ({options.max_api_calls})"
                    # Not written this run: left out of the report, decided again next run.
                    for d in writes[start:]:
                        run.decisions.pop(d.ticket_id, None)
                    last_examined = writes[start - 1].ticket_id if start else None
                    break
                failures = run.write_round(snapshots, writes[start : start + options.write_round])
                if failures:
                    run.retry(failures)
                renew()
            # Paused tickets, for the report only; skipped when the budget is spent (the run's
            # decisions come first).
            if not budget.exhausted():
                paused = run.list_paused()
                run.record(paused, {})
                run.decisions.update({d.ticket_id: d for d in paused})
            if not dry_run:
                with store.session(app) as sess:
                    if status == RUN_STOPPED and last_examined is not None:
                        store.set_state(sess, STATE_RESUME_AFTER, last_examined)
                    elif status == RUN_DONE:
                        store.delete_state(sess, STATE_RESUME_AFTER)
        except BaseException as exc:
            with store.session(app) as sess:
                row = sess.get(SweepRun, run_id)
                if row is not None:
                    row.status, row.finished_at = RUN_FAILED, store.utcnow()
                    row.stop_reason = f"{type(exc).__name__}: {exc}"[:2000]
                    row.api_calls, row.changed = budget.calls, run.changed
            log.error("sweep failed", run_id=run_id, error=f"{type(exc).__name__}: {exc}")
            raise
        decisions = list(run.decisions.values())
        report = build_report(
            run_id,
            as_of,
            dry_run,
            decisions,
            api_calls=budget.calls,
            examined=len(decisions),
            changed=run.changed,
            learned=run.learned,
            teams=mappings.teams,
        )
        report["drift"] = drift
        with store.session(app) as sess:
            row = sess.get(SweepRun, run_id)
            if row is not None:
                row.status, row.stop_reason, row.finished_at = status, stop_reason, store.utcnow()
                row.api_calls, row.examined, row.changed = budget.calls, len(decisions), run.changed
                row.report = report
    path = Path(report_path) if report_path else _report_path(app, options, run_id)
    json_path, html_path = write_report(report, path)
    log.info(
        "sweep finished",
        run_id=run_id,
        dry_run=dry_run,
        listing=LISTING_ALL if full else LISTING_DUE,
        status=status,
        stop_reason=stop_reason,
        api_calls=report["api_calls"],
        report=str(json_path),
        **{f"total_{k}": v for k, v in report["totals"].items()},
    )
    return SweepResult(
        run_id=run_id,
        status=status,
        report=report,
        decisions=sorted(decisions, key=lambda d: d.ticket_id),
        stop_reason=stop_reason,
        json_path=json_path,
        html_path=html_path,
        listing=LISTING_ALL if full else LISTING_DUE,
    )


@contextmanager
def _no_lock() -> Iterator[Callable[[], None]]:
    yield lambda: None


# ---------------------------------------------------------------------------- undo


def undo_run(
    app: Flask,
    run_id: str,
    *,
    ticket_id: int | None = None,
    client: ZendeskClient | None = None,
) -> list[UndoResult]:
    """Reopen what run `run_id` auto-solved (or one ticket of it): previous status back,
    resolution type cleared, an internal note. Reminders are not undone. Tickets changed
    since (no longer solved, closed, another resolution type) are left alone, with the reason.
    """
    with store.session(app) as sess:
        run = sess.get(SweepRun, run_id)
        if run is None:
            raise SweepError(f"no sweep run {run_id!r}")
        if run.dry_run:
            raise SweepError(f"run {run_id} was a dry run: it solved nothing")
        query = select(SweepRunTicket).where(
            SweepRunTicket.run_id == run_id,
            SweepRunTicket.decision == Outcome.SOLVE.value,
            SweepRunTicket.write == WRITE_OK,
        )
        if ticket_id is not None:
            query = query.where(SweepRunTicket.ticket_id == ticket_id)
        rows = list(sess.scalars(query.order_by(SweepRunTicket.ticket_id)))
    if ticket_id is not None and not rows:
        raise SweepError(f"run {run_id} did not auto-solve ticket {ticket_id}")
    client = client or client_for(app)
    provisioned = Provisioned.load(client)
    groups = {int(g["id"]): str(g["name"]) for g in client.groups()}
    results: list[UndoResult] = []
    with client.operation("sweep undo"):
        for row in rows:
            if row.undone_at is not None:
                results.append(
                    UndoResult(row.ticket_id, False, f"already undone: {row.undo_result}")
                )
                continue
            previous = row.previous_status or "awaiting_reply"
            result = _undo_one(client, provisioned, groups, row.ticket_id, previous, run_id)
            with store.session(app) as sess:
                stored = sess.get(SweepRunTicket, (run_id, row.ticket_id))
                if stored is not None and result.reopened:
                    stored.undone_at = store.utcnow()
                    _episode_undone(sess, row.ticket_id, row.clock_start)
                if stored is not None:
                    stored.undo_result = result.reason
                store.record_audit(
                    sess,
                    ticket_id=row.ticket_id,
                    rule="auto_solve_undo",
                    action="reopen" if result.reopened else "none",
                    reason=result.reason,
                    invocation_id=run_id,
                    api_result="ok" if result.reopened else None,
                )
            results.append(result)
    return results


def _episode_undone(sess: Session, ticket_id: int, clock_start: datetime | None) -> None:
    """Undo means "not again in this waiting episode": remember it for the episode's clock
    start (an agent's new public comment starts a new episode, without the mark)."""
    if clock_start is None:
        return
    episode = sess.get(SweepEpisode, ticket_id)
    if episode is None:
        sess.add(SweepEpisode(ticket_id=ticket_id, clock_start=clock_start, undone=True))
    elif episode.clock_start == clock_start:
        episode.undone = True
    else:
        episode.clock_start, episode.reminded_at, episode.due = clock_start, None, None
        episode.undone = True


def _undo_one(  # noqa: PLR0917  small private helper
    client: ZendeskClient,
    provisioned: Provisioned,
    groups: Mapping[int, str],
    ticket_id: int,
    previous: str,
    run_id: str,
) -> UndoResult:
    for _attempt in range(2):  # a conflict means re-read and decide again, once
        current = snapshot_from_ticket(client.ticket(ticket_id), provisioned, groups)
        decision = undo_decision(current, previous, run_id)
        if not decision.actions:
            return UndoResult(ticket_id, False, decision.reason)
        try:
            client.apply_actions(current, decision.actions)
        except TicketConflict:
            continue
        except ZendeskError as exc:
            return UndoResult(ticket_id, False, f"not undone: {exc}")
        return UndoResult(ticket_id, True, decision.reason)
    return UndoResult(ticket_id, False, "not undone: the ticket kept changing; try again")


def decisions_of(app: Flask, run_id: str) -> list[SweepRunTicket]:
    """The stored per-ticket records of a run (operators and tests)."""
    with store.session(app) as sess:
        return list(
            sess.scalars(
                select(SweepRunTicket)
                .where(SweepRunTicket.run_id == run_id)
                .order_by(SweepRunTicket.ticket_id)
            )
        )
