"""The admin console in a real Chromium, on the whole demo (`make run`): sign-in through the
sandbox's OAuth, mappings edits that every process sees, plan and apply, the auto-solve
forecast, a sweep and its undo, a duplicate verdict, a dead letter retried, CSRF and sign-in
enforcement, and an accessibility check of every page."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from settings import ROOT
from tests.browser.conftest import DEMO_ADMIN_PASSWORD, Stack, sign_in_locally, sign_in_with_zendesk
from triggers.business_days import holidays_for
from triggers.duplicates.texts import NOTE_HEADER

pytestmark = pytest.mark.integration

SHOTS = os.environ.get("CXLAYER_TEST_SCREENSHOTS")  # a folder: save each page's screenshot


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _db(stack: Stack, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(stack.database, timeout=15) as db:
        return db.execute(sql, args).fetchall()


def _wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time: {what}")
        time.sleep(0.3)


def _users(stack: Stack, role: str) -> list[dict[str, Any]]:
    return [u for u in stack.api("GET", "users.json?per_page=100")["users"] if u["role"] == role]


def test_make_run_prints_the_console_and_its_demo_credentials(stack: Stack) -> None:
    printed = "".join(stack.output)
    assert f"admin console: {stack.console}" in printed
    assert "user admin, password demo-admin" in printed
    root = requests.get(stack.service_url + "/", timeout=10, allow_redirects=False)
    assert root.status_code == 302 and root.headers["Location"].endswith("/console/")


def test_a_signed_out_request_is_redirected_to_sign_in(stack: Stack) -> None:
    for path in ("/", "/mappings", "/audit", "/inbox"):
        answer = requests.get(stack.console + path, timeout=10, allow_redirects=False)
        assert answer.status_code == 302, path
        assert "/console/login" in answer.headers["Location"]
    refused = requests.post(stack.console + "/inbox/1/retry", timeout=10, allow_redirects=False)
    assert refused.status_code in (302, 400)  # no session and no token: nothing happens


def test_sign_in_with_zendesk_as_an_admin(stack: Stack, page: Page) -> None:
    sign_in_with_zendesk(page, stack, "admin@example.com")
    page.wait_for_url(re.compile(r"/console/$"))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("admin@example.com (Zendesk)")).to_be_visible()
    _shot(page, "overview")
    rows = _db(
        stack,
        "SELECT action FROM audit WHERE rule = 'console' AND invocation_id = ?",
        "admin:admin@example.com",
    )
    assert ("sign_in",) in rows


def test_an_end_users_oauth_token_is_refused(stack: Stack, page: Page) -> None:
    end_user = _users(stack, "end-user")[0]["email"]
    sign_in_with_zendesk(page, stack, end_user)
    page.wait_for_url(re.compile(r"/console/login"))
    expect(page.get_by_text(f"{end_user} is a Zendesk end-user")).to_be_visible()
    assert page.context.request.get(stack.console + "/", max_redirects=0).status == 302


def test_a_form_without_its_csrf_token_is_refused(stack: Stack, page: Page) -> None:
    sign_in_locally(page, stack)
    before = _db(stack, "SELECT count(*) FROM mapping_version")
    answer = page.context.request.post(
        stack.console + "/mappings/files/teams.toml",
        form={"text": "default_team = 'x'", "summary": "forged"},
        max_redirects=0,
    )
    assert answer.status == 400
    assert "CSRF" in answer.text()
    assert _db(stack, "SELECT count(*) FROM mapping_version") == before


def _second_process_hours(
    stack: Stack, show: str = "team.start.strftime('%H:%M') + '-' + team.end.strftime('%H:%M')"
) -> str:
    """A separate process on the same database: what its current_mappings() says of All
    Media (`show`: an expression of `team`)."""
    code = (
        "from app import create_app\n"
        "from mappings import current_mappings\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    team = next(t for t in current_mappings().teams if t.key == 'all_media')\n"
        f"    print({show})\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**stack.env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def test_editing_a_teams_hours_with_a_mistake_then_fixing_it(stack: Stack, page: Page) -> None:
    sign_in_locally(page, stack)
    page.goto(stack.console + "/mappings/edit/resolution_types.toml")
    _shot(page, "mapping-fields")
    page.goto(stack.console + "/mappings")
    _shot(page, "mappings")
    page.get_by_role("link", name="Edit All Media").click()
    hours = page.get_by_label("Hours")
    expect(hours).to_have_value("09:00-19:00")
    versions = _db(stack, "SELECT count(*) FROM mapping_version")[0][0]

    hours.fill("09:00-25:00")
    page.get_by_role("button", name="Save as a new version").click()

    # The CLI's message for the same mistake, beside the field; nothing saved.
    error = page.locator("#hours-error")
    expect(error).to_have_text("hours '09:00-25:00' is not a valid time range")
    expect(page.get_by_label("Hours")).to_have_attribute("aria-invalid", "true")
    _shot(page, "team-error")
    assert _db(stack, "SELECT count(*) FROM mapping_version")[0][0] == versions
    assert _second_process_hours(stack) == "09:00-19:00"

    page.get_by_label("Hours").fill("08:30-18:00")
    page.get_by_label("What changed").fill("All Media opens at 08:30")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_url(re.compile(r"/mappings/history"))
    expect(page.get_by_text("All Media opens at 08:30")).to_be_visible()
    _shot(page, "history")
    [(version_id, author, diff)] = _db(
        stack, "SELECT id, author, diff FROM mapping_version ORDER BY id DESC LIMIT 1"
    )
    assert author == "admin"
    assert '-hours = "09:00-19:00"' in diff and '+hours = "08:30-18:00"' in diff
    assert _second_process_hours(stack) == "08:30-18:00"  # no restart

    page.get_by_role("link", name=f"Version {version_id}").click()
    expect(page.locator("pre.diff")).to_contain_text('+hours = "08:30-18:00"')
    _shot(page, "version")


def test_a_teams_extra_closed_date_with_a_mistake_then_fixed(stack: Stack, page: Page) -> None:
    closure = date(date.today().year + 1, 3, 4)
    sign_in_locally(page, stack)
    page.goto(stack.console + "/mappings/teams/all_media")
    closed = page.get_by_label("Extra closed dates")
    expect(closed).to_have_value("")
    versions = _db(stack, "SELECT count(*) FROM mapping_version")[0][0]

    closed.fill(f"{closure.isoformat()} Company closure\n{closure.year}-13-40 Inventory")
    page.get_by_role("button", name="Save as a new version").click()
    # `mappings validate`'s message for that entry, beside the field, on its line.
    expect(page.locator("#closed-error")).to_have_text("line 2: Not a valid date.")
    expect(page.get_by_label("Extra closed dates")).to_have_attribute("aria-invalid", "true")
    _shot(page, "team-calendar-error")
    assert _db(stack, "SELECT count(*) FROM mapping_version")[0][0] == versions

    page.get_by_label("Extra closed dates").fill(f"{closure.isoformat()} Company closure")
    page.get_by_label("Extra working dates").fill(f"{closure.year}-05-25 Memorial Day desk")
    page.get_by_label("What changed").fill("All Media closes for the offsite")
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_url(re.compile(r"/mappings/history"))
    [(diff,)] = _db(stack, "SELECT diff FROM mapping_version ORDER BY id DESC LIMIT 1")
    assert f'date = {closure.isoformat()}, name = "Company closure"' in diff
    assert _second_process_hours(stack, "[(str(d), n) for d, n in team.closed]") == str(
        [(closure.isoformat(), "Company closure")]
    )
    page.goto(f"{stack.console}/autosolve/forecast?date={closure - timedelta(days=2)}")
    cell = page.locator(f"td[title^='{closure.isoformat()}: closed']")
    expect(cell).to_have_attribute("title", re.compile("extra closed date: Company closure"))
    page.goto(stack.console + "/mappings/teams/all_media")
    _shot(page, "team")


def test_plan_and_apply_put_back_a_status_changed_in_zendesk(stack: Stack, page: Page) -> None:
    statuses = stack.api("GET", "custom_statuses.json")["custom_statuses"]
    target = next(s for s in statuses if s["agent_label"] == "Awaiting requester reply")
    stack.api(
        "PUT",
        f"custom_statuses/{target['id']}.json",
        json={"custom_status": {"agent_label": "Waiting on client (edited in Zendesk)"}},
    )
    sign_in_locally(page, stack)
    page.goto(stack.console + "/provisioning")
    row = page.get_by_role("row").filter(has_text="will be changed")
    expect(row.first).to_be_visible()
    _shot(page, "plan")
    page.get_by_label(re.compile(r"Apply these \d+ change")).check()
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"change\(s\) applied in \d+ API call")
    )
    _shot(page, "applied")
    statuses = stack.api("GET", "custom_statuses.json")["custom_statuses"]
    fixed = next(s for s in statuses if s["id"] == target["id"])
    assert fixed["agent_label"] == "Awaiting requester reply"
    page.get_by_role("link", name="Plan again").click()
    expect(page.get_by_text("Zendesk already matches the mappings")).to_be_visible()
    assert ("zendesk_apply",) in _db(
        stack, "SELECT action FROM audit WHERE invocation_id = 'admin:admin'"
    )


def test_the_plan_shows_a_status_added_in_zendesk_outside_cxlayer(stack: Stack, page: Page) -> None:
    added = stack.api(
        "POST",
        "custom_statuses.json",
        json={
            "custom_status": {
                "status_category": "pending",
                "agent_label": "Waiting on vendor (added in Zendesk)",
                "active": True,
            }
        },
    )["custom_status"]
    try:
        sign_in_locally(page, stack)
        page.goto(stack.console + "/provisioning")
        table = page.get_by_role(
            "table", name="Statuses an admin added in Zendesk that the mappings do not know"
        )
        row = table.get_by_role("row").filter(has_text="Waiting on vendor (added in Zendesk)")
        expect(row).to_contain_text(str(added["id"]))
        expect(row).to_contain_text("never remapped nor auto-solved")
        _shot(page, "plan-drift")
    finally:
        stack.api(
            "PUT", f"custom_statuses/{added['id']}.json", json={"custom_status": {"active": False}}
        )
    page.reload()
    expect(page.get_by_text("No status outside the mappings.")).to_be_visible()


def _awaiting_ticket(
    stack: Stack, subject: str = "Browser test: flight dates wrong", *, reminded: bool = False
) -> int:
    """A ticket awaiting the requester since an agent's public comment 20 days ago (and, when
    `reminded`, cxlayer's reminder 15 days ago: a solve needs one in the episode)."""
    statuses = stack.api("GET", "custom_statuses.json")["custom_statuses"]
    awaiting = next(s["id"] for s in statuses if s["agent_label"] == "Awaiting requester reply")
    groups = stack.api("GET", "groups.json")["groups"]
    group = next(g["id"] for g in groups if g["name"] == "All Media")
    agent = _users(stack, "agent")[0]["id"]
    requester = _users(stack, "end-user")[1]["id"]
    asked = datetime.now(UTC) - timedelta(days=20)
    first = asked - timedelta(days=1)
    body = {
        "subject": subject,
        "requester_id": requester,
        "assignee_id": agent,
        "group_id": group,
        "custom_status_id": awaiting,
        "created_at": first.isoformat(),
        "comments": [
            {
                "author_id": requester,
                "created_at": first.isoformat(),
                "public": True,
                "body": "Dates are wrong.",
            },
            {
                "author_id": agent,
                "created_at": asked.isoformat(),
                "public": True,
                "body": "Which campaign is it?",
            },
        ],
    }
    if reminded:
        service_user = stack.api("GET", "users/me.json")["user"]["id"]
        body["comments"].append(
            {
                "author_id": service_user,
                "created_at": (asked + timedelta(days=5)).isoformat(),
                "public": True,
                "body": "A reminder: we are waiting for your reply.",
            }
        )
    return int(stack.api("POST", "imports/tickets.json", json={"ticket": body})["ticket"]["id"])


def test_forecast_for_a_date_shows_the_teams_calendars_with_holidays(
    stack: Stack, page: Page
) -> None:
    day = date(date.today().year + 1, 12, 14)  # four weeks that hold Christmas
    ticket = _awaiting_ticket(stack, "Browser test: forecast me")
    sign_in_locally(page, stack)
    page.goto(stack.console + "/autosolve")
    _shot(page, "autosolve")
    page.get_by_label("What happens on").fill(day.isoformat())
    page.get_by_role("button", name="Forecast").click()
    expect(page.get_by_role("heading", name=re.compile("What happens on"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"reminder\(s\), \d+ auto-solve"))).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"#{ticket}")
    expect(row).to_contain_text(re.compile("reminded|solved"))
    expect(row).to_contain_text(_users(stack, "end-user")[1]["name"])  # the requester's name
    us = holidays_for("US", None, day.year)
    holiday = min(d for d in us if day <= d < day + timedelta(days=28))
    cell = page.locator(f"td[title='{holiday.isoformat()}: holiday']").first
    expect(cell).to_be_visible()
    _shot(page, "forecast")


def test_run_a_sweep_then_undo_one_ticket(stack: Stack, page: Page) -> None:
    ticket = _awaiting_ticket(stack, reminded=True)
    sign_in_locally(page, stack)
    page.goto(stack.console + "/autosolve")
    page.get_by_label("Remind and solve the tickets that are due now").check()
    page.get_by_role("button", name="Run the sweep").click()
    page.wait_for_url(re.compile(r"/autosolve/runs/run-"), timeout=120_000)
    row = page.get_by_role("row").filter(has_text=f"#{ticket}")
    expect(row).to_contain_text("solve")
    requester = _users(stack, "end-user")[1]
    expect(row.get_by_role("link", name=requester["name"])).to_have_attribute(
        "href", re.compile(rf"/agent/users/{requester['id']}$")
    )
    _shot(page, "run")
    assert stack.api("GET", f"tickets/{ticket}.json")["ticket"]["status"] == "solved"
    page.get_by_role("link", name="Report (JSON)").click()
    report = json.loads(page.locator("body").inner_text())
    assert ticket in [t["id"] for t in report["tickets"] if t["decision"] == "solve"]
    page.go_back()
    row = page.get_by_role("row").filter(has_text=f"#{ticket}")

    row.get_by_role("button", name=f"Reopen ticket {ticket}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Ticket {ticket}:")
    expect(page.get_by_role("row").filter(has_text=f"#{ticket}")).to_contain_text("undone")
    assert stack.api("GET", f"tickets/{ticket}.json")["ticket"]["status"] != "solved"
    assert ("sweep_undo",) in _db(
        stack, "SELECT action FROM audit WHERE ticket_id = ? AND rule = 'console'", ticket
    )


SUBJECT = "Campaign export to Excel fails with a timeout"
BODY = (
    "Hello team,\n\nWhen I export the Q3 campaign plan to Excel the export spins for a few "
    "minutes and then fails with a timeout error. It worked last week.\n\nThanks"
)
AGAIN_SUBJECT = "Re: Excel export of campaign still failing (timeout)"
AGAIN_BODY = (
    "Hi,\n\nthe Q3 campaign plan export to Excel still fails with the timeout error after a "
    "few minutes. Can someone look at this?\n\nRegards"
)


def _flag_note(stack: Stack, ticket: int) -> str:
    """cxlayer's internal note on a flagged ticket, as agents read it in Zendesk."""

    def note() -> str:
        comments = stack.api("GET", f"tickets/{ticket}/comments.json")["comments"]
        found = [c["body"] for c in comments if c["body"].startswith(NOTE_HEADER)]
        return found[0] if found else ""

    return str(_wait_for(note, what="the flag note"))


def test_mark_a_flagged_pair_as_not_a_duplicate(stack: Stack, page: Page) -> None:
    requester = _users(stack, "end-user")[2]["email"]
    first = stack.api(
        "POST",
        "tickets.json",
        as_user=requester,
        json={"ticket": {"subject": SUBJECT, "comment": {"body": BODY}}},
    )["ticket"]["id"]
    _wait_for(lambda: _db(stack, "SELECT 1 FROM dup_ticket WHERE id = ?", first), what="indexed")
    second = stack.api(
        "POST",
        "tickets.json",
        as_user=requester,
        json={"ticket": {"subject": AGAIN_SUBJECT, "comment": {"body": AGAIN_BODY}}},
    )["ticket"]["id"]
    _wait_for(
        lambda: _db(stack, "SELECT candidate_id FROM dup_flag WHERE ticket_id = ?", second),
        what="the second ticket flagged",
    )
    sign_in_locally(page, stack)
    page.goto(stack.console + "/duplicates")
    expect(page.get_by_text("Threshold in use")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=f"#{second}")
    # The evidence is the flag note's: each matching sentence pair of the note is on the page.
    note = _flag_note(stack, second)
    pairs = re.findall(r'this ticket: "(.*)"\n\s+#\d+: "(.*)"', note)
    assert pairs, note
    evidence = row.locator("ul.evidence li")
    expect(evidence).to_have_count(len(pairs))
    for (new, old), item in zip(pairs, evidence.all(), strict=True):
        expect(item.locator("q").nth(0)).to_have_text(new)
        expect(item.locator("q").nth(1)).to_have_text(old)
    expect(row).to_contain_text(_users(stack, "end-user")[2]["name"])
    _shot(page, "duplicates")
    page.get_by_role("button", name=f"#{second} is not a duplicate").click()
    expect(page.get_by_role("status")).to_contain_text(f"ticket {second} not duplicate")
    expect(page.get_by_role("row").filter(has_text=f"#{second}")).to_contain_text(
        "not duplicate (admin)"
    )
    # One notion of precision: the admin's verdict is on the flag, as an agent's would be.
    [(feedback_at, confirmed_at)] = _db(
        stack, "SELECT feedback_at, confirmed_at FROM dup_flag WHERE ticket_id = ?", second
    )
    assert feedback_at is not None and confirmed_at is None
    expect(page.get_by_text(re.compile(r"Observed precision: \d+ %"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+ confirmed, [1-9]\d* not duplicates"))).to_be_visible()
    low, high = sorted((first, second))
    assert _db(
        stack, "SELECT source FROM dup_suppressed_pair WHERE low_id = ? AND high_id = ?", low, high
    ) == [("admin",)]


def test_retry_a_dead_letter(stack: Stack, page: Page) -> None:
    [(payload, kind, ticket)] = _db(
        stack,
        "SELECT payload, kind, ticket_id FROM inbox WHERE status = 'done' ORDER BY id LIMIT 1",
    )
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(stack.database, timeout=15) as db:
        event_id = db.execute(
            "INSERT INTO inbox (invocation_id, ticket_id, kind, payload, received_at, status, "
            "attempts, last_error, processed_at) VALUES (?, ?, ?, ?, ?, 'failed', 8, ?, ?)",
            (
                "browser-test-dead-letter",
                ticket,
                kind,
                payload,
                now,
                "ZendeskError: 503 Service Unavailable (after 8 attempts)",
                now,
            ),
        ).lastrowid
    sign_in_locally(page, stack)
    page.goto(stack.console + "/inbox")
    expect(page.get_by_text("ZendeskError: 503 Service Unavailable")).to_be_visible()
    _shot(page, "inbox")
    page.get_by_role("button", name=f"Retry event {event_id}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Event {event_id} is queued again")
    _wait_for(
        lambda: _db(stack, "SELECT status FROM inbox WHERE id = ?", event_id)[0][0] == "done",
        what="the retried event processed",
    )


def test_audit_search_by_who_and_rule(stack: Stack, page: Page) -> None:
    sign_in_locally(page, stack)
    page.goto(stack.console + "/audit")
    page.get_by_label("Who").fill("admin")
    page.get_by_label("Rule").fill("console")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="sign_in").first).to_be_visible()
    _shot(page, "audit")
    cells = page.locator("tbody tr td:nth-child(5)").all_inner_texts()
    assert cells and all(c != "cxlayer" for c in cells)


def test_failed_local_sign_ins_lock_with_a_clear_message(stack: Stack, page: Page) -> None:
    try:
        for attempt in range(5):  # [console] signin_max_failures
            page.goto(stack.console + "/login")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(f"not the password {attempt}")
            page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text(
            re.compile(r"Too many failed sign-ins .* try again in 1[45] minutes")
        )
        # The right password is refused too while the lockout lasts.
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(DEMO_ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
        _shot(page, "login-locked")
        assert page.url.split("?")[0].endswith("/console/login")
        [(reason,)] = _db(stack, "SELECT reason FROM audit WHERE action = 'sign_in_lockout'")
        assert "after 5 failed attempts" in reason
    finally:  # the cooldown, for the module's other tests signing in from the same address
        with sqlite3.connect(stack.database, timeout=15) as db:
            db.execute("DELETE FROM console_signin_failure")
    sign_in_locally(page, stack)


PAGES = [
    "/login",
    "/",
    "/mappings",
    "/mappings/teams/all_media",
    "/mappings/files/statuses.toml",
    "/mappings/edit/resolution_types.toml",
    "/mappings/history",
    "/mappings/versions/1",
    "/provisioning",
    "/autosolve",
    "/duplicates",
    "/audit",
    "/inbox",
]


def test_every_page_has_no_serious_accessibility_violation(
    stack: Stack, page: Page, axe_check: Any
) -> None:
    page.goto(stack.console + "/login")
    assert axe_check(page) == []
    sign_in_locally(page, stack)
    found = {}
    for path in PAGES[1:]:
        page.goto(stack.console + path)
        violations = axe_check(page)
        if violations:
            found[path] = violations
    runs = _db(stack, "SELECT id FROM sweep_run ORDER BY started_at DESC LIMIT 1")
    if runs:
        page.goto(f"{stack.console}/autosolve/runs/{runs[0][0]}")
        if violations := axe_check(page):
            found["run"] = violations
    assert found == {}, json.dumps(found, indent=1)
