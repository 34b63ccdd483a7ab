"""The console's pages. Thin: each page reads through the owning package (autosolve,
duplicates, webhooks, sync, store) and every state-changing form is CSRF-checked and audited."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic as time_now
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import func, not_, or_, select

import store
from autosolve.models import SweepRun, SweepRunTicket
from autosolve.report import DECISIONS
from autosolve.sweep import SweepBusy, SweepError, run_sweep, undo_run
from console import auth
from console.mapping_forms import (
    FileForm,
    TeamForm,
    edit_file,
    edit_team,
    file_entries,
    file_problems,
    team_index,
    team_problems,
    team_values,
)
from console.models import MappingVersion
from console.versions import VersionError, audit_admin, ensure_seeded, revert_to, save_version
from duplicates.detection import (
    DuplicatesError,
    flag_evidence,
    precision_status,
    record_verdict,
)
from duplicates.models import SOURCE_AGENT, DupFlag, DupSuppressedPair, DupTicket
from logs import get_logger
from mappings import FILES, MappingError, current_mappings, load_mapping_texts
from settings import SettingsError
from store import FAILED, INBOX_STATUSES, PENDING, AuditEntry, InboxEvent, StoreError
from sync.factory import client_for
from sync.http import ZendeskError
from sync.oauth import base_url
from sync.provisioning import apply, build_plan
from triggers.business_days import holidays_for, is_business_day
from webhooks import inbox

log = get_logger("cxlayer.console")

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
PAGE = 50
FAILURES = (ZendeskError, SettingsError, MappingError, StoreError, SweepError, ValueError)


class ActionForm(FlaskForm):
    """A button that changes something: carries only the CSRF token."""


def _who() -> str:
    return auth.admin_name()


def _audit(action: str, reason: str, **extra: Any) -> None:
    with store.session() as sess:
        audit_admin(sess, _who(), action, reason, **extra)


def _zendesk_url() -> str:
    return base_url(current_app.config["CXLAYER"].get("zendesk", {}))


@bp.context_processor
def _globals() -> dict[str, Any]:
    return {
        "admin": auth.current_admin(),
        "action_form": ActionForm(),
        "zendesk_url": _zendesk_url(),
    }


bp.add_url_rule("/login", "login", auth.login, methods=["GET", "POST"])
bp.add_url_rule("/oauth/start", "oauth_start", auth.oauth_start)
bp.add_url_rule("/oauth/callback", "oauth_callback", auth.oauth_callback)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    return auth.logout()


# --------------------------------------------------------------------------- home
@bp.get("/")
@auth.login_required
def home() -> ResponseReturnValue:
    with store.session(readonly=True) as sess:
        counts = _inbox_counts(sess)
        version = sess.scalar(select(func.max(MappingVersion.id)))
        last_run = sess.scalars(
            select(SweepRun).where(SweepRun.dry_run.is_(False)).order_by(SweepRun.started_at.desc())
        ).first()
        flags = sess.scalar(
            select(func.count()).select_from(DupFlag).where(DupFlag.feedback_at.is_(None))
        )
    return render_template(
        "console/home.html", counts=counts, version=version, last_run=last_run, flags=flags
    )


# ----------------------------------------------------------------------- mappings
def _files() -> tuple[MappingVersion, dict[str, str]]:
    with store.session() as sess:
        row = ensure_seeded(current_app, sess)
    return row, dict(row.files)


@bp.get("/mappings")
@auth.login_required
def mappings() -> ResponseReturnValue:
    row, files = _files()
    return render_template(
        "console/mappings.html", version=row, m=load_mapping_texts(files), files=FILES
    )


def _save_version(files: dict[str, str], summary: str) -> ResponseReturnValue:
    """Save the edited files as a new mapping version and go to the history; raises
    `VersionError` (with the CLI's problems) when the result is invalid or unchanged."""
    saved = save_version(current_app, files, author=_who(), summary=summary)
    flash(f"Saved as version {saved.id}; every process uses it within a second.", "ok")
    return redirect(url_for("console.mappings_history"), 303)


@bp.route("/mappings/teams/<key>", methods=["GET", "POST"])
@auth.login_required
def team(key: str) -> ResponseReturnValue:
    row, files = _files()
    index = team_index(files["teams.toml"], key)
    if index is None:
        abort(404)
    form = TeamForm(
        data=team_values(files["teams.toml"], index) if request.method == "GET" else None
    )
    errors: dict[str, list[str]] = {}
    other: list[str] = []
    status = 200
    if form.validate_on_submit():
        text = edit_team(files["teams.toml"], index, form)
        try:
            return _save_version({"teams.toml": text}, form.summary.data or f"team {key} edited")
        except VersionError as exc:
            errors, other = team_problems(exc.problems, index)
            if not exc.problems:
                other = [str(exc)]
            status = 422
    elif request.method == "POST":
        status = 400
    return render_template(
        "console/team.html", form=form, key=key, errors=errors, other=other, version=row
    ), status


@bp.route("/mappings/files/<name>", methods=["GET", "POST"])
@auth.login_required
def mapping_file(name: str) -> ResponseReturnValue:
    if name not in FILES:
        abort(404)
    row, files = _files()
    form = FileForm(data={"text": files[name]} if request.method == "GET" else None)
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            return _save_version(
                {name: (form.text.data or "").replace("\r\n", "\n")},
                form.summary.data or f"{name} edited",
            )
        except VersionError as exc:
            problems = [str(p) for p in exc.problems] or [str(exc)]
            status = 422
    return render_template(
        "console/mapping_file.html", form=form, name=name, problems=problems, version=row
    ), status


@bp.route("/mappings/edit/<name>", methods=["GET", "POST"])
@auth.login_required
def mapping_fields(name: str) -> ResponseReturnValue:
    """Every value of one file as a field, each problem beside the field its key path names."""
    if name not in FILES:
        abort(404)
    row, files = _files()
    form = ActionForm()
    text = files[name]
    by_field: dict[str, list[str]] = {}
    by_entry: dict[str, list[str]] = {}
    other: list[str] = []
    status = 200
    if form.validate_on_submit():
        text = edit_file(
            files[name],
            request.form,
            set(request.form.getlist("checked")),
            set(request.form.getlist("shown")),
        )
        summary = (request.form.get("summary") or "").strip() or f"{name} edited"
        try:
            return _save_version({name: text}, summary)
        except VersionError as exc:
            by_field, by_entry, other = file_problems(exc.problems, name, file_entries(text))
            if not exc.problems:
                other = [str(exc)]
            status = 422
    return render_template(
        "console/mapping_fields.html",
        name=name,
        entries=file_entries(text),
        by_field=by_field,
        by_entry=by_entry,
        other=other,
        version=row,
        form=form,
    ), status


@bp.get("/mappings/history")
@auth.login_required
def mappings_history() -> ResponseReturnValue:
    with store.session(readonly=True) as sess:
        rows = list(
            sess.execute(
                select(
                    MappingVersion.id,
                    MappingVersion.author,
                    MappingVersion.created_at,
                    MappingVersion.summary,
                )
                .order_by(MappingVersion.id.desc())
                .limit(200)
            )
        )
    return render_template("console/history.html", rows=rows)


@bp.get("/mappings/versions/<int:version_id>")
@auth.login_required
def mapping_version(version_id: int) -> ResponseReturnValue:
    with store.session(readonly=True) as sess:
        row = sess.get(MappingVersion, version_id)
        newest = sess.scalar(select(func.max(MappingVersion.id)))
    if row is None:
        abort(404)
    return render_template("console/version.html", row=row, newest=newest)


@bp.post("/mappings/versions/<int:version_id>/revert")
@auth.login_required
def revert(version_id: int) -> ResponseReturnValue:
    try:
        saved = revert_to(current_app, version_id, author=_who())
    except VersionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.mapping_version", version_id=version_id), 303)
    flash(f"Version {version_id} restored as version {saved.id}.", "ok")
    return redirect(url_for("console.mappings_history"), 303)


# ------------------------------------------------------------------- provisioning
def _public_url() -> str:
    return str(current_app.config["CXLAYER"].get("service", {}).get("public_url", ""))


@bp.get("/provisioning")
@auth.login_required
def provisioning() -> ResponseReturnValue:
    try:
        client = client_for(current_app)
        with client.operation("console plan") as op:
            plan, _actual = build_plan(client, current_mappings(), _public_url())
    except FAILURES as exc:
        return render_template("console/provisioning.html", error=str(exc), plan=None), 502
    return render_template(
        "console/provisioning.html",
        plan=plan,
        calls=op.calls,
        error=None,
        changes=[c for c in plan.changes if c.action != "report"],
        drift=[c for c in plan.changes if c.action == "report"],
        waiting=_drift_tickets(),
    )


def _drift_tickets() -> tuple[SweepRun | None, dict[str, list[int]]]:
    """The latest real sweep and the pending tickets it found on statuses outside the mappings
    (its report's `drift`), by status: they are never reminded nor solved until mapped."""
    with store.session(readonly=True) as sess:
        run = sess.scalars(
            select(SweepRun)
            .where(SweepRun.dry_run.is_(False), SweepRun.report.is_not(None))
            .order_by(SweepRun.started_at.desc())
            .limit(1)
        ).first()
    by_status: dict[str, list[int]] = {}
    for item in (run.report or {}).get("drift") or [] if run else []:
        by_status.setdefault(str(item.get("status") or "unknown status"), []).append(item["id"])
    return run, by_status


@bp.post("/provisioning/apply")
@auth.login_required
def provisioning_apply() -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation to apply the plan.", "error")
        return redirect(url_for("console.provisioning"), 303)
    try:
        client = client_for(current_app)
        with client.operation("console apply") as op:
            report = apply(client, current_mappings(), _public_url())
    except FAILURES as exc:
        _audit("zendesk_apply", f"apply failed: {exc}")
        return render_template("console/applied.html", error=str(exc), report=None), 502
    _audit(
        "zendesk_apply",
        f"applied {len(report.plan.pending)} change(s) to Zendesk in {op.calls} API call(s)",
        after={"changes": len(report.plan.pending), "api_calls": op.calls},
    )
    return render_template("console/applied.html", report=report, calls=op.calls, error=None)


# ---------------------------------------------------------------------- auto-solve
def _sweep_zone() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["CXLAYER"].get("sweep", {}).get("timezone", "UTC")))


def _cron_time() -> time:
    """The nightly run's hour and minute from `[sweep] cron` (02:00 when not plain numbers)."""
    fields = str(current_app.config["CXLAYER"].get("sweep", {}).get("cron", "0 2 * * *")).split()
    try:
        return time(int(fields[1]), int(fields[0]))
    except (ValueError, IndexError):
        return time(2, 0)


def _calendars(start: date, days: int = 28) -> list[dict[str, Any]]:
    out = []
    for team in current_mappings().teams:
        holidays: set[date] = set()
        for year in {start.year, (start + timedelta(days=days)).year}:
            holidays |= holidays_for(team.holiday_country, team.holiday_subdivision, year)
        corrections = {d: f"extra closed date: {name}" for d, name in team.closed}
        corrections |= {d: f"extra working date: {name}" for d, name in team.working}
        cells = []
        for offset in range(days):
            day = start + timedelta(days=offset)
            business = is_business_day(team, day)  # with the team's closed/working dates
            kind = (
                "holiday"
                if day in holidays and not business
                else ("open" if business else "closed")
            )
            cells.append({"day": day, "kind": kind, "note": corrections.get(day, "")})
        out.append({"team": team, "cells": cells})
    return out


@dataclass(frozen=True)
class TicketInfo:
    """What a report row shows of a ticket besides its id."""

    subject: str
    requester_id: int | None


TICKETS_EXTENSION = "cxlayer.console_tickets"


def _ticket_info(ticket_ids: list[int]) -> dict[int, TicketInfo]:
    """Subject and requester of each ticket: from the duplicate index (local) where it has
    them, the rest in one `show_many` per 100 tickets (sync/), kept NAME_SECONDS by this
    process; {} for those Zendesk did not return (a page still renders when Zendesk cannot be
    reached)."""
    ids = list(dict.fromkeys(ticket_ids))[:1000]
    if not ids:
        return {}
    with store.session(readonly=True) as sess:
        rows = sess.execute(
            select(DupTicket.id, DupTicket.subject, DupTicket.requester_id).where(
                DupTicket.id.in_(ids)
            )
        )
        out = {int(i): TicketInfo(subject or "", requester) for i, subject, requester in rows}

    def read(missing: list[int]) -> dict[int, TicketInfo]:
        found = client_for(current_app).show_many(missing)
        return {
            int(t["id"]): TicketInfo(str(t.get("subject") or ""), t.get("requester_id"))
            for t in found
        }

    return out | _recent(TICKETS_EXTENSION, [i for i in ids if i not in out], read)


NAMES_EXTENSION = "cxlayer.console_user_names"
NAME_SECONDS = 300.0  # a name read from Zendesk is shown for this long before it is read again
NAMES_KEPT = 10_000


def _recent(
    extension: str, ids: Iterable[int], read: Callable[[list[int]], dict[int, Any]]
) -> dict[int, Any]:
    """What `read` returns for the ids, reading from Zendesk only those this process has not
    read in the last NAME_SECONDS (one call per page render at most, none for a page
    re-rendered within minutes); ids Zendesk did not return, or all of them when Zendesk
    cannot be reached, stay out."""
    cache: dict[int, tuple[float, Any]] = current_app.extensions.setdefault(extension, {})
    now = time_now()
    wanted = sorted(set(ids))
    fresh = {k: v for k, (at, v) in list(cache.items()) if now - at < NAME_SECONDS}
    missing = [i for i in wanted if i not in fresh]
    if missing:
        try:
            found = read(missing)
        except FAILURES as exc:
            log.warning("console: not read from Zendesk", what=extension, error=str(exc))
            found = {}
        if len(cache) > NAMES_KEPT:
            cache.clear()
        for key, value in found.items():
            cache[key] = (now, value)
            fresh[key] = value
    return {i: fresh[i] for i in wanted if i in fresh}


def _requester_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Users' names by id (one `users/show_many` per 100 ids not read recently; see _recent)."""

    def read(missing: list[int]) -> dict[int, str]:
        users = client_for(current_app).users(missing)
        return {int(u["id"]): str(u.get("name") or u.get("email") or u["id"]) for u in users}

    return _recent(NAMES_EXTENSION, [int(i) for i in user_ids if i], read)


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(_sweep_zone()).strftime("%Y-%m-%d %H:%M %Z")


@bp.get("/autosolve")
@auth.login_required
def autosolve() -> ResponseReturnValue:
    with store.session(readonly=True) as sess:
        runs = list(sess.scalars(select(SweepRun).order_by(SweepRun.started_at.desc()).limit(PAGE)))
    today = datetime.now(_sweep_zone()).date()
    return render_template(
        "console/autosolve.html", runs=runs, today=today, local=_local, forecast=None
    )


@bp.get("/autosolve/forecast")
@auth.login_required
def forecast() -> ResponseReturnValue:
    raw = request.args.get("date", "")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        flash(f"{raw!r} is not a date (YYYY-MM-DD).", "error")
        return redirect(url_for("console.autosolve"), 303)
    as_of = datetime.combine(day, _cron_time(), tzinfo=_sweep_zone())
    try:
        result = run_sweep(current_app, as_of=as_of, dry_run=True)
    except FAILURES as exc:
        flash(f"Forecast failed: {exc}", "error")
        return redirect(url_for("console.autosolve"), 303)
    by_team: dict[str, list[Any]] = {}
    for d in result.decisions:
        if d.decision in ("remind", "solve"):
            by_team.setdefault(d.team, []).append(d)
    info = _ticket_info([d.ticket_id for ds in by_team.values() for d in ds])
    teams = {t.key: t.name for t in current_mappings().teams}
    return render_template(
        "console/forecast.html",
        day=day,
        as_of=as_of,
        result=result,
        by_team=by_team,
        info=info,
        names=_requester_names(i.requester_id for i in info.values()),
        teams=teams,
        calendars=_calendars(day),
    )


@bp.post("/autosolve/run")
@auth.login_required
def run_now() -> ResponseReturnValue:
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation to run the sweep now.", "error")
        return redirect(url_for("console.autosolve"), 303)
    try:
        result = run_sweep(current_app)
    except SweepBusy as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.autosolve"), 303)
    except FAILURES as exc:
        flash(f"Sweep failed: {exc}", "error")
        return redirect(url_for("console.autosolve"), 303)
    _audit(
        "sweep_run",
        f"ran the auto-solve sweep: run {result.run_id}, {result.report['api_calls']} API call(s)",
        after={"run": result.run_id, "totals": result.report["totals"]},
    )
    return redirect(url_for("console.sweep_run", run_id=result.run_id), 303)


RUN_PAGE = 100


@bp.get("/autosolve/runs/<run_id>")
@auth.login_required
def sweep_run(run_id: str) -> ResponseReturnValue:
    decision = request.args.get("decision", "")
    after = request.args.get("after", 0, type=int)
    with store.session(readonly=True) as sess:
        run = sess.get(SweepRun, run_id)
        if run is None:
            abort(404)
        query = select(SweepRunTicket).where(
            SweepRunTicket.run_id == run_id, SweepRunTicket.ticket_id > after
        )
        if decision:
            query = query.where(SweepRunTicket.decision == decision)
        tickets = list(sess.scalars(query.order_by(SweepRunTicket.ticket_id).limit(RUN_PAGE + 1)))
        undoable = sess.scalar(
            select(func.count())
            .select_from(SweepRunTicket)
            .where(
                SweepRunTicket.run_id == run_id,
                SweepRunTicket.decision == "solve",
                SweepRunTicket.write == "ok",
                SweepRunTicket.undone_at.is_(None),
            )
        )
    more = len(tickets) > RUN_PAGE
    tickets = tickets[:RUN_PAGE]
    info = _ticket_info([t.ticket_id for t in tickets])
    teams = {t.key: t.name for t in current_mappings().teams}
    return render_template(
        "console/run.html",
        run=run,
        tickets=tickets,
        info=info,
        names=_requester_names(i.requester_id for i in info.values()),
        teams=teams,
        local=_local,
        undoable=undoable,
        decision=decision,
        decisions=DECISIONS,
        next_after=tickets[-1].ticket_id if more and tickets else None,
    )


@bp.get("/autosolve/runs/<run_id>/report.json")
@auth.login_required
def sweep_report(run_id: str) -> ResponseReturnValue:
    """The run's report as the sweep wrote it (the same JSON as its report file)."""
    with store.session(readonly=True) as sess:
        run = sess.get(SweepRun, run_id)
    if run is None or run.report is None:
        abort(404)
    return jsonify(run.report)


@bp.post("/autosolve/runs/<run_id>/undo")
@auth.login_required
def undo(run_id: str) -> ResponseReturnValue:
    ticket = request.form.get("ticket", type=int)
    try:
        results = undo_run(current_app, run_id, ticket_id=ticket)
    except FAILURES as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.sweep_run", run_id=run_id), 303)
    reopened = sum(1 for r in results if r.reopened)
    what = f"ticket {ticket} of run {run_id}" if ticket else f"run {run_id}"
    _audit(
        "sweep_undo",
        f"undid {what}: {reopened} of {len(results)} ticket(s) reopened",
        ticket_id=ticket or 0,
        after={"run": run_id, "reopened": reopened},
    )
    for r in results:
        flash(f"Ticket {r.ticket_id}: {r.reason}", "ok" if r.reopened else "info")
    return redirect(url_for("console.sweep_run", run_id=run_id), 303)


# ---------------------------------------------------------------------- duplicates
def _verdict_authors(sess: Any, ticket_ids: list[int]) -> dict[int, str]:
    """Who gave each admin verdict, from the audit (the verdict itself is on the flag)."""
    if not ticket_ids:
        return {}
    rows = sess.execute(
        select(AuditEntry.ticket_id, AuditEntry.invocation_id)
        .where(
            AuditEntry.rule == "console",
            AuditEntry.action == "duplicate_verdict",
            AuditEntry.ticket_id.in_(ticket_ids),
        )
        .order_by(AuditEntry.id)
    )
    return {t: str(who).removeprefix("admin:") for t, who in rows}


def _flag_counts() -> dict[str, int]:
    """Flags in all and those no one has said "not a duplicate" of (one query)."""
    with store.session(readonly=True) as sess:
        total, standing = sess.execute(
            select(
                func.count(),
                func.count().filter(DupFlag.feedback_at.is_(None)),
            ).select_from(DupFlag)
        ).one()
    return {"flags": int(total or 0), "flags_standing": int(standing or 0)}


def _judgement(flag: DupFlag, authors: dict[int, str], sources: dict[int, str]) -> str:
    """A judged flag's verdict and who gave it ("" while standing); a rejection after a
    confirmation is the last word, as `precision_status` counts it."""
    if flag.feedback_at is not None:
        source = sources.get(flag.ticket_id, SOURCE_AGENT)
        who = authors.get(flag.ticket_id) or (
            "an agent in Zendesk" if source == SOURCE_AGENT else f"{source}"
        )
        return f"not duplicate ({who})"
    if flag.confirmed_at is not None:
        return f"duplicate ({authors.get(flag.ticket_id) or 'an agent in Zendesk'})"
    return ""


FLAGS_PAGE = 25  # evidence of flags older than admin_dup_0003 is computed on first render


def _evidence(
    sess: Any, flags: list[DupFlag]
) -> dict[tuple[int, int], list[tuple[str, str]] | None]:
    """Each flag's matching sentences: as its note showed them (stored on the flag when it
    was written), or for flags written before that was kept, computed as the note does."""
    out: dict[tuple[int, int], list[tuple[str, str]] | None] = {
        (f.ticket_id, f.candidate_id): [(new, old) for new, old in f.evidence]
        for f in flags
        if f.evidence is not None
    }
    older = [(f.ticket_id, f.candidate_id) for f in flags if f.evidence is None]
    if older:
        out.update(flag_evidence(current_app, sess, older))
    return out


@bp.get("/duplicates")
@auth.login_required
def duplicates() -> ResponseReturnValue:
    offset = max(0, request.args.get("offset", 0, type=int))
    with store.session(readonly=True) as sess:
        flags = list(
            sess.scalars(
                select(DupFlag)
                .order_by(DupFlag.flagged_at.desc(), DupFlag.ticket_id.desc())
                .offset(offset)
                .limit(FLAGS_PAGE + 1)
            )
        )
        more = len(flags) > FLAGS_PAGE
        flags = flags[:FLAGS_PAGE]
        authors = _verdict_authors(sess, [f.ticket_id for f in flags])
        status = precision_status(current_app, sess)
        evidence = _evidence(sess, flags)
        sources = dict(
            sess.execute(
                select(DupSuppressedPair.ticket_id, DupSuppressedPair.source).where(
                    DupSuppressedPair.ticket_id.in_([f.ticket_id for f in flags])
                )
            ).all()
        )
    judged = {f.ticket_id: _judgement(f, authors, sources) for f in flags}
    info = _ticket_info([i for f in flags for i in (f.ticket_id, f.candidate_id)])
    names = _requester_names([r.requester_id for r in info.values()])
    return render_template(
        "console/duplicates.html",
        flags=flags,
        info=info,
        names=names,
        authors=authors,
        evidence=evidence,
        judged={k: v for k, v in judged.items() if v},
        status=status,
        counts=_flag_counts(),
        offset=offset,
        next_offset=offset + FLAGS_PAGE if more else None,
    )


@bp.post("/duplicates/<int:ticket_id>/verdict")
@auth.login_required
def duplicate_verdict(ticket_id: int) -> ResponseReturnValue:
    verdict = request.form.get("verdict", "")
    if verdict not in ("duplicate", "not_duplicate"):
        abort(400)
    try:
        with store.session() as sess:
            flag = record_verdict(sess, ticket_id, duplicate=verdict == "duplicate")
            audit_admin(
                sess,
                _who(),
                "duplicate_verdict",
                f"#{ticket_id} and #{flag.candidate_id}: "
                + ("duplicates" if verdict == "duplicate" else "not duplicates"),
                ticket_id=ticket_id,
                after={"candidate": flag.candidate_id, "verdict": verdict},
            )
    except DuplicatesError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.duplicates"), 303)
    flash(f"Recorded: ticket {ticket_id} " + verdict.replace("_", " ") + ".", "ok")
    return redirect(url_for("console.duplicates"), 303)


# --------------------------------------------------------------------------- audit
def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/audit")
@auth.login_required
def audit() -> ResponseReturnValue:
    args = request.args
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE + 1)
    ticket = args.get("ticket", type=int)
    rule = (args.get("rule") or "").strip()
    who = (args.get("who") or "").strip()
    since, until = _day(args.get("from")), _day(args.get("to"))
    before = args.get("before", type=int)
    if ticket is not None:
        query = query.where(AuditEntry.ticket_id == ticket)
    if rule:
        query = query.where(AuditEntry.rule == rule)
    if who == "cxlayer":
        query = query.where(
            or_(AuditEntry.invocation_id.is_(None), not_(AuditEntry.invocation_id.like("admin:%")))
        )
    elif who == "admin":
        query = query.where(AuditEntry.invocation_id.like("admin:%"))
    elif who:
        query = query.where(AuditEntry.invocation_id == f"admin:{who}")
    if since:
        query = query.where(AuditEntry.created_at >= datetime.combine(since, time(), UTC))
    if until:
        end = datetime.combine(until + timedelta(days=1), time(), UTC)
        query = query.where(AuditEntry.created_at < end)
    if before:
        query = query.where(AuditEntry.id < before)
    with store.session(readonly=True) as sess:
        rows = list(sess.scalars(query))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_args = {**args.to_dict(), "before": rows[-1].id} if more and rows else None
    return render_template("console/audit.html", rows=rows, args=args, next_args=next_args)


# --------------------------------------------------------------------------- inbox
def _inbox_counts(sess: Any) -> dict[str, int]:
    found = dict(
        sess.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    )
    return {status: int(found.get(status, 0)) for status in INBOX_STATUSES}


@bp.get("/inbox")
@auth.login_required
def inbox_page() -> ResponseReturnValue:
    with store.session(readonly=True) as sess:
        counts = _inbox_counts(sess)
        failed = inbox.list_events(sess, FAILED, PAGE)
        oldest = sess.scalars(
            select(InboxEvent).where(InboxEvent.status == PENDING).order_by(InboxEvent.id).limit(10)
        ).all()
    return render_template("console/inbox.html", counts=counts, failed=failed, oldest=oldest)


@bp.post("/inbox/<int:event_id>/retry")
@auth.login_required
def inbox_retry(event_id: int) -> ResponseReturnValue:
    try:
        with store.session() as sess:
            event = inbox.retry(sess, event_id)
            audit_admin(
                sess,
                _who(),
                "inbox_retry",
                f"requeued inbox event {event_id} ({event.kind})",
                ticket_id=event.ticket_id or 0,
            )
    except (LookupError, ValueError) as exc:
        flash(str(exc), "error")
    else:
        flash(f"Event {event_id} is queued again.", "ok")
    return redirect(url_for("console.inbox_page"), 303)
