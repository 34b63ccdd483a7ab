"""Auto-solve sweep scenarios on the sandbox: backdated histories, real HTTP, real zenpy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import store
from autosolve.models import RUN_FAILED, SweepRun
from autosolve.sweep import STATE_LOCK, SweepBusy, decisions_of, run_sweep, sweep_lock, undo_run
from store import AuditEntry
from sync.http import ZendeskError
from triggers import autosolve_texts as texts
from triggers.autosolve import RESOLUTION_AUTO_SOLVED, TAG_REMINDED, TAG_SOLVED

from .conftest import Desk, utc

OPENED = "2025-12-22T14:00:00Z"  # Monday
AGENT_ASKED = "2025-12-24T15:00:00Z"  # Wednesday 10:00 New York / Toronto, before Christmas
AS_OF = utc("2026-01-03T12:00:00Z")  # Saturday: Dec 26, 29, 30, 31 and Jan 2 have passed
ASKED_LONG_DATE = "Wednesday, December 24, 2025"


def by_id(result: object) -> dict[int, dict[str, object]]:
    return {int(t["id"]): t for t in result.report["tickets"]}  # type: ignore[attr-defined]


REMINDED_AT = "2025-12-31T12:00:00Z"  # Wednesday 07:00 New York: Dec 31 and Jan 2 follow


def asked(desk: Desk, *, reminded: bool | None = None, **kwargs: object) -> int:
    """Requester opened the ticket; the agent asked a question on Dec 24 (no answer since).

    All Media tickets were also reminded by cxlayer on Dec 31 (a reminder always comes first:
    two business days, Dec 31 and Jan 2, pass before the Jan 3 sweep); Canadian Spot ones were
    not (`reminded` overrides)."""
    if reminded is None:
        reminded = kwargs.get("group", "All Media") == "All Media"
    history = [(desk.requester_id, OPENED, True), (desk.agent_id, AGENT_ASKED, True)]
    if reminded:
        history.append((desk.service_id, REMINDED_AT, True))
    return desk.import_ticket(history, **kwargs)  # type: ignore[arg-type]


def solve_comments(desk: Desk, ticket_id: int) -> list[str]:
    """cxlayer's public comments after the imported reminder (the import's own body aside)."""
    return [c for c in desk.service_comments(ticket_id, public=True) if "comment by" not in c]


def sweep(desk: Desk, tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("as_of", AS_OF)
    kwargs.setdefault("report_path", tmp_path / f"report-{len(list(tmp_path.iterdir()))}.json")
    return run_sweep(desk.app, client=desk.make_client(), **kwargs)  # type: ignore[arg-type]


def test_us_team_solved_canadian_team_not_yet_requester_last_never(desk: Desk, tmp_path: Path):
    """Five US business days across a weekend and Christmas solve; the same dates on the
    Canadian Spot calendar (Boxing Day too) only remind; a requester who spoke last is never
    touched."""
    us = asked(desk)
    canada = asked(desk, group="Canadian Spot")
    waiting = desk.import_ticket(
        [
            (desk.agent_id, "2025-12-10T15:00:00Z", True),
            (desk.requester_id, "2025-12-11T15:00:00Z", True),
        ]
    )
    waiting_before = desk.ticket(waiting)

    result = sweep(desk, tmp_path)
    rows = by_id(result)

    assert rows[us]["decision"] == "solve"
    assert rows[us]["business_days_elapsed"] == 5
    assert rows[us]["due"] == "2026-01-02"
    assert rows[us]["clock_start"] == "2025-12-24T15:00:00Z"
    solved = desk.ticket(us)
    assert solved["status"] == "solved"
    assert TAG_SOLVED in solved["tags"]
    assert desk.field_value(us, "resolution_type") == RESOLUTION_AUTO_SOLVED
    assert solve_comments(desk, us) == [
        texts.SOLVED_PUBLIC.format(clock_start_date=ASKED_LONG_DATE)
    ]

    assert rows[canada]["decision"] == "remind"
    assert rows[canada]["business_days_elapsed"] == 4
    assert rows[canada]["team"] == "canadian_spot"
    assert desk.ticket(canada)["status"] == "pending"
    assert TAG_REMINDED in desk.ticket(canada)["tags"]
    # Reminded on Saturday Jan 3: two business days after the reminder (reminder first).
    assert desk.field_value(canada, "auto_solve_due") == "2026-01-06"
    assert solve_comments(desk, canada) == [
        texts.REMINDER_PUBLIC.format(
            clock_start_date=ASKED_LONG_DATE, due_date="Tuesday, January 6, 2026"
        )
    ]

    assert rows[waiting]["decision"] == "waiting_on_us"
    assert desk.ticket(waiting) == waiting_before
    assert result.report["totals"] == {
        "remind": 1,
        "solve": 1,
        "skip": 0,
        "exempt": 0,
        "waiting_on_us": 1,
        "conflict": 0,
    }
    stored = {r.ticket_id: r for r in decisions_of(desk.app, result.run_id)}
    assert stored[us].previous_status == "awaiting_reply"
    assert stored[us].write == "ok"
    assert json.loads(result.json_path.read_text()) == result.report
    assert result.html_path.read_text().startswith("<!DOCTYPE html>")


def test_second_run_sends_no_second_reminder_and_writes_nothing(desk: Desk, tmp_path: Path):
    """Running the sweep again in the same waiting episode sends nothing new."""
    canada = asked(desk, group="Canadian Spot")
    first = sweep(desk, tmp_path)
    assert by_id(first)[canada]["decision"] == "remind"
    desk.zd.reset_stats()

    second = sweep(desk, tmp_path)

    assert by_id(second)[canada]["decision"] == "skip"
    assert str(by_id(second)[canada]["reason"]).startswith("reminder already sent")
    assert len(solve_comments(desk, canada)) == 1
    assert desk.writes() == {}


def test_exempt_tag_added_between_listing_and_writing_leaves_ticket_untouched(
    desk: Desk, tmp_path: Path
):
    """An agent adding the exempt tag after the listing makes the safe update fail; the fresh
    ticket is exempt, so nothing is written and the report says conflict."""
    us = asked(desk)

    def agent_exempts(ticket_ids: list[int]) -> None:
        if us in ticket_ids:
            desk.as_agent(us, additional_tags=["no_autosolve"])

    result = sweep(desk, tmp_path, before_write=agent_exempts)

    row = by_id(result)[us]
    assert row["decision"] == "conflict"
    assert "exempt by tag no_autosolve" in str(row["reason"])
    ticket = desk.ticket(us)
    assert ticket["status"] == "pending"
    assert TAG_SOLVED not in ticket["tags"]
    assert solve_comments(desk, us) == []
    assert desk.field_value(us, "resolution_type") is None


def test_requester_reply_between_decision_and_write_is_a_conflict(desk: Desk, tmp_path: Path):
    """The requester answering just before the write: 409, re-read, untouched, reported."""
    us = asked(desk)

    def requester_replies(ticket_ids: list[int]) -> None:
        if us in ticket_ids:
            desk.as_agent(
                us,
                comment={
                    "body": "Here is the file.",
                    "public": True,
                    "author_id": desk.requester_id,
                },
            )

    result = sweep(desk, tmp_path, before_write=requester_replies)

    row = by_id(result)[us]
    assert row["decision"] == "conflict"
    assert "changed between reading and writing" in str(row["reason"])
    assert desk.ticket(us)["status"] == "open"  # the reply reopened it; we did not solve
    assert solve_comments(desk, us) == []
    stored = {r.ticket_id: r for r in decisions_of(desk.app, result.run_id)}
    assert stored[us].write == "conflict"


def test_crash_after_a_write_then_rerun_sends_no_duplicate(desk: Desk, tmp_path: Path):
    """A crash between Zendesk accepting a reminder and the store recording it, then a rerun:
    every ticket gets exactly one auto-solve comment."""
    desk.app.config["CXLAYER"].setdefault("sweep", {})["write_round"] = 1
    remind = desk.import_ticket(
        [(desk.requester_id, OPENED, True), (desk.agent_id, "2025-12-29T15:00:00Z", True)]
    )
    solve_a = asked(desk)
    solve_b = asked(desk)

    def crash(_ids: list[int]) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        sweep(desk, tmp_path, after_write=crash)
    assert TAG_REMINDED in desk.ticket(remind)["tags"]  # Zendesk has it, the store does not
    with store.session(desk.app) as sess:
        runs = list(sess.scalars(select(SweepRun)))
        assert [r.status for r in runs] == [RUN_FAILED]
        assert store.get_state(sess, STATE_LOCK) is None  # the lock was released

    rerun = sweep(desk, tmp_path)

    rows = by_id(rerun)
    assert rows[remind]["decision"] == "skip"
    assert rows[solve_a]["decision"] == rows[solve_b]["decision"] == "solve"
    for ticket_id in (remind, solve_a, solve_b):
        assert len(solve_comments(desk, ticket_id)) == 1


def test_undo_restores_previous_state(desk: Desk, tmp_path: Path):
    """Undo reopens to the previous status, clears the resolution type and tag, adds a note."""
    us = asked(desk)
    result = sweep(desk, tmp_path)
    assert desk.ticket(us)["status"] == "solved"

    outcome = undo_run(desk.app, result.run_id, client=desk.make_client())

    assert [(o.ticket_id, o.reopened) for o in outcome] == [(us, True)]
    ticket = desk.ticket(us)
    assert ticket["custom_status_id"] == desk.status_id("awaiting_reply")
    assert ticket["status"] == "pending"
    assert TAG_SOLVED not in ticket["tags"]
    assert desk.field_value(us, "resolution_type") is None
    assert desk.service_comments(us, public=False)[-1] == texts.UNDO_NOTE.format(
        run_id=result.run_id, status="awaiting_reply"
    )
    again = undo_run(desk.app, result.run_id, client=desk.make_client())
    assert [o.reopened for o in again] == [False]  # already undone: nothing twice


def test_dry_run_writes_nothing_and_repeats_byte_identical(desk: Desk, tmp_path: Path):
    """Dry runs write nothing to Zendesk, and two at one as-of give identical JSON."""
    asked(desk)
    asked(desk, group="Canadian Spot")
    desk.zd.reset_stats()

    first = sweep(desk, tmp_path, dry_run=True, report_path=tmp_path / "a.json")
    second = sweep(desk, tmp_path, dry_run=True, report_path=tmp_path / "b.json")

    assert desk.writes() == {}
    assert first.run_id == second.run_id == "dry-20260103T120000Z"
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert first.report["totals"]["solve"] == 1
    assert first.report["totals"]["remind"] == 1


def test_future_as_of_is_a_dry_run(desk: Desk, tmp_path: Path):
    """Forecasting 'what happens Monday' never writes, even without --dry-run."""
    asked(desk)
    desk.zd.reset_stats()
    result = sweep(desk, tmp_path, as_of=utc("2099-01-05T12:00:00Z"))
    assert result.report["dry_run"] is True
    assert result.report["totals"]["solve"] == 1
    assert desk.writes() == {}


def test_ticket_budget_stops_and_next_run_continues(desk: Desk, tmp_path: Path):
    """A run stopped at max_tickets leaves the rest to the next run, which picks up after it."""
    desk.app.config["CXLAYER"].setdefault("sweep", {})["max_tickets"] = 1
    first_id, second_id = asked(desk), asked(desk)

    first = sweep(desk, tmp_path)
    second = sweep(desk, tmp_path)

    assert first.status == "stopped"
    assert [t["id"] for t in first.report["tickets"]] == [first_id]
    assert [t["id"] for t in second.report["tickets"]] == [second_id]
    assert desk.ticket(first_id)["status"] == desk.ticket(second_id)["status"] == "solved"


def test_only_one_sweep_at_a_time(desk: Desk, tmp_path: Path):
    """A real sweep refuses to start while another holds the lock."""
    asked(desk)
    with sweep_lock(desk.app, "someone-else"), pytest.raises(SweepBusy):
        sweep(desk, tmp_path)
    assert desk.ticket(asked(desk))["status"] == "pending"


def test_crash_while_jobs_are_queued_then_rerun_sends_nothing_twice(desk: Desk, tmp_path: Path):
    """Zendesk errors on job polling crash the run while its update job is still queued; a
    rerun before the job has run must not send the same update again."""
    desk.app.config["CXLAYER"]["zendesk"]["max_retries"] = 0
    us = asked(desk)
    desk.zd.pause_jobs()
    desk.zd.set_faults(error_rate=1.0, status=503, paths=["/api/v2/job_statuses"])
    with pytest.raises(ZendeskError):
        sweep(desk, tmp_path)
    desk.zd.clear_faults()

    rerun = sweep(desk, tmp_path)  # the first run's job is still queued

    row = by_id(rerun)[us]
    assert row["decision"] == "skip"
    assert "not confirmed yet" in str(row["reason"])
    desk.zd.pause_jobs(False)
    for job in desk.zd.api("GET", "job_statuses.json").json()["job_statuses"]:
        desk.zd.wait_job(job["id"])
    third = sweep(desk, tmp_path)
    assert us not in by_id(third)  # solved by the first run's job: no longer listed
    assert desk.ticket(us)["status"] == "solved"
    assert len(solve_comments(desk, us)) == 1


def test_tickets_paused_by_the_exempt_tag_are_reported_exempt_and_never_written(
    desk: Desk, tmp_path: Path
):
    """Awaiting tickets with the exempt tag are left out of the decision listing but listed by
    one more search, for the report: "exempt", paused by an agent; nothing read or written per
    ticket. A paused ticket no longer awaiting the requester is not listed."""
    due = asked(desk)
    paused = asked(desk, tags=("no_autosolve",))
    paused_open = asked(desk, tags=("no_autosolve",), status="open_cx")
    paused_before = desk.ticket(paused)
    first = sweep(desk, tmp_path)  # first run: full listing
    desk.zd.reset_stats()

    result = sweep(desk, tmp_path, full=False)  # a nightly run: the due-soon listing
    rows = by_id(result)

    assert by_id(first)[due]["decision"] == "solve" and due not in rows
    assert by_id(first)[paused]["decision"] == "exempt"
    assert rows[paused]["decision"] == "exempt"
    assert rows[paused]["reason"] == (
        "exempt by tag no_autosolve: paused by an agent; never auto-solved (nothing written)"
    )
    assert rows[paused]["clock_start"] is None and rows[paused]["due"] is None
    assert paused_open not in rows
    assert desk.ticket(paused) == paused_before
    assert desk.writes() == {}
    stored = {r.ticket_id: r for r in decisions_of(desk.app, result.run_id)}
    assert stored[paused].decision == "exempt" and stored[paused].write == "none"
    # The paused listing is one search-export page (1,000 tickets a page), no per-ticket read.
    searches = {k: v for k, v in desk.zd.stats()["endpoints"].items() if "search/export" in k}
    assert sum(searches.values()) == 4, searches  # two due-soon searches, drift, paused


def test_exempt_priority_is_reported_and_untouched(desk: Desk, tmp_path: Path):
    """A listed ticket exempt by priority is reported as exempt and never written."""
    urgent = asked(desk, priority="urgent")
    result = sweep(desk, tmp_path)
    assert by_id(result)[urgent]["decision"] == "exempt"
    assert desk.ticket(urgent)["status"] == "pending"
    assert solve_comments(desk, urgent) == []


def test_api_call_budget_stops_before_writing_and_next_run_continues(desk: Desk, tmp_path: Path):
    """A run out of API calls writes nothing more and reports only what it did; the next run
    (with budget) solves the ticket."""
    sweep_settings = desk.app.config["CXLAYER"].setdefault("sweep", {})
    sweep_settings["max_api_calls"] = 3  # groups, search export, one events page
    us = asked(desk)

    stopped = sweep(desk, tmp_path)

    assert stopped.status == "stopped"
    assert "API call budget" in str(stopped.stop_reason)
    assert us not in by_id(stopped)
    assert desk.ticket(us)["status"] == "pending"
    sweep_settings["max_api_calls"] = 2000
    assert by_id(sweep(desk, tmp_path))[us]["decision"] == "solve"


EARLY = utc("2025-12-26T12:00:00Z")  # Friday: one business day after the agent asked


def notes(desk: Desk, ticket_id: int) -> list[str]:
    return desk.service_comments(ticket_id, public=False)


def test_unannounced_solve_gets_its_internal_note_after_the_write(desk: Desk, tmp_path: Path):
    """A ticket cxlayer never dated (here: imported overdue) is solved with the public comment,
    then the agents' explanation follows as an internal note in a second write."""
    us = asked(desk)
    sweep(desk, tmp_path)
    assert len(solve_comments(desk, us)) == 1
    assert [n.split(":")[0] for n in notes(desk, us)] == ["Auto-solved"]
    assert notes(desk, us)[0].startswith(
        "Auto-solved: no public reply from the requester for 5 business days"
    )


@pytest.mark.parametrize("setting", ["unannounced", "always"])
def test_announced_solve_was_explained_before_it_happened(desk: Desk, tmp_path: Path, setting: str):
    """The run that dates a ticket posts the plan note (reminder date, solve date); the solve
    on that date then needs no second write, unless [sweep] internal_notes = "always"."""
    desk.app.config["CXLAYER"].setdefault("sweep", {})["internal_notes"] = setting
    canada = asked(desk, group="Canadian Spot")
    first = sweep(desk, tmp_path, as_of=EARLY)
    assert by_id(first)[canada]["decision"] == "skip"
    (plan,) = notes(desk, canada)
    assert plan.startswith("Auto-solve due set to Monday, January 5, 2026: ")
    assert "reminder after the end of Wednesday, December 31, 2025" in plan
    assert "after the end of Monday, January 5, 2026 (5 business days)" in plan

    reminded = sweep(desk, tmp_path)  # Jan 3: four Canadian business days (Boxing Day off)
    # Reminded on Saturday Jan 3, the promise is Tuesday Jan 6 (two business days after it).
    solved = sweep(desk, tmp_path, as_of=utc("2026-01-07T12:00:00Z"))

    assert by_id(reminded)[canada]["decision"] == "remind"
    assert by_id(solved)[canada]["decision"] == "solve"
    assert desk.ticket(canada)["status"] == "solved"
    assert len(solve_comments(desk, canada)) == 2
    kinds = [n.split(":")[0] for n in notes(desk, canada)]
    if setting == "unannounced":
        # The reminder moved the shown date (Jan 5 → Jan 6), so its note was posted.
        assert kinds == [
            "Auto-solve due set to Monday, January 5, 2026",
            "Auto-solve reminder sent to the requester",
        ]
    else:
        assert kinds[1:] == ["Auto-solve reminder sent to the requester", "Auto-solved"]


def test_nightly_listing_examines_due_soon_and_undated_tickets_only(desk: Desk, tmp_path: Path):
    """After the first run, a run lists the tickets whose due date is near (or unset); one due
    later is left out until then, and `full` (CLI --all) lists every awaiting ticket."""
    dated = asked(desk)
    first = sweep(desk, tmp_path, as_of=EARLY)
    assert first.listing == "all"  # the first run: nothing is dated yet
    assert desk.field_value(dated, "auto_solve_due") == "2026-01-02"
    later = desk.import_ticket(
        [(desk.requester_id, OPENED, True), (desk.agent_id, "2025-12-31T15:00:00Z", True)]
    )
    desk.as_agent(  # as the webhook handler does when the agent's comment starts the clock
        later, custom_fields=[{"id": desk.field_id("auto_solve_due"), "value": "2026-01-08"}]
    )
    undated = asked(desk)

    nightly = sweep(desk, tmp_path)

    assert nightly.listing == "due"
    assert {t: r["decision"] for t, r in by_id(nightly).items()} == {
        dated: "solve",
        undated: "solve",
    }
    assert desk.ticket(later)["status"] == "pending"
    everything = sweep(desk, tmp_path, dry_run=True, full=True)
    assert everything.listing == "all"
    assert by_id(everything)[later]["decision"] == "skip"
    forecast = sweep(desk, tmp_path, dry_run=True, as_of=utc("2026-01-09T12:00:00Z"))
    assert by_id(forecast)[later]["decision"] == "remind"  # never reminded: a reminder first
    # Sunday in New York: the weekly run lists every awaiting ticket; Saturday's did not.
    sunday = sweep(desk, tmp_path, dry_run=True, as_of=utc("2026-01-04T07:00:00Z"))
    assert sunday.listing == "all"
    assert by_id(sunday)[later]["decision"] == "skip"
    saturday_night = sweep(desk, tmp_path, dry_run=True, as_of=utc("2026-01-04T04:59:00Z"))
    assert saturday_night.listing == "due"
    desk.app.config["CXLAYER"].setdefault("sweep", {})["full_listing_day"] = ""
    assert sweep(desk, tmp_path, dry_run=True, as_of=utc("2026-01-04T07:00:00Z")).listing == "due"


def test_a_follow_up_note_zendesk_refuses_is_reported_not_dropped(desk: Desk, tmp_path: Path):
    """Zendesk refuses the note's bulk update (here a 422 on every update_many after the
    solve's): the failure is logged, kept on the run's record and audited; the run finishes."""
    us = asked(desk)

    def refuse_the_next_updates(ticket_ids: list[int]) -> None:
        if us in ticket_ids:
            desk.zd.set_faults(error_rate=1.0, status=422, paths=["/api/v2/tickets/update_many"])

    try:
        result = sweep(desk, tmp_path, after_write=refuse_the_next_updates)
    finally:
        desk.zd.clear_faults()

    assert result.status == "done"
    assert by_id(result)[us]["decision"] == "solve"
    assert desk.ticket(us)["status"] == "solved"
    assert notes(desk, us) == []
    (row,) = [r for r in decisions_of(desk.app, result.run_id) if r.ticket_id == us]
    assert row.write == "ok"
    assert str(row.write_detail).startswith("internal note not posted: ")
    with store.session(desk.app) as sess:
        audit = list(sess.scalars(select(AuditEntry).where(AuditEntry.ticket_id == us)))
        assert [(a.action, a.api_result) for a in audit] == [
            ("solve", "ok"),
            ("internal_note", "error"),
        ]


def test_generic_pending_is_handled_as_awaiting_and_a_foreign_status_is_drift(
    desk: Desk, tmp_path: Path
) -> None:
    """Every pending ticket is listed: one on Zendesk's generic Pending is decided like "Awaiting
    your reply" (here: solved); one on a status an admin added outside the mappings is never
    reminded nor solved, and the report lists it as drift."""
    generic_pending = desk.provisioned.system_statuses["pending"]
    generic = asked(desk)
    desk.as_agent(generic, custom_status_id=generic_pending)
    vendor = desk.zd.api(
        "POST",
        "custom_statuses.json",
        json={
            "custom_status": {
                "status_category": "pending",
                "agent_label": "Pending – waiting on vendor",
            }
        },
    ).json()["custom_status"]
    foreign = asked(desk)
    desk.as_agent(foreign, custom_status_id=vendor["id"])

    result = sweep(desk, tmp_path, full=True)
    rows = by_id(result)
    assert rows[generic]["decision"] == "solve"
    assert desk.ticket(generic)["status"] == "solved"
    assert foreign not in rows
    assert result.report["drift"] == [{"id": foreign, "status": "Pending – waiting on vendor"}]
    assert desk.ticket(foreign)["custom_status_id"] == vendor["id"]
    html = Path(result.html_path).read_text(encoding="utf-8")
    assert "waiting on vendor" in html
