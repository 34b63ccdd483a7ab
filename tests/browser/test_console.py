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
from tests.browser.conftest import Stack, sign_in_locally, sign_in_with_zendesk
from triggers.business_days import holidays_for

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


def _second_process_hours(stack: Stack) -> str:
    """A separate process on the same database: what its current_mappings() says."""
    code = (
        "from app import create_app\n"
        "from mappings import current_mappings\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    team = next(t for t in current_mappings().teams if t.key == 'all_media')\n"
        "    print(team.start.strftime('%H:%M') + '-' + team.end.strftime('%H:%M'))\n"
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
    _shot(page, "duplicates")
    page.get_by_role("button", name=f"#{second} is not a duplicate").click()
    expect(page.get_by_role("status")).to_contain_text(f"ticket {second} not duplicate")
    expect(page.get_by_role("row").filter(has_text=f"#{second}")).to_contain_text(
        "not duplicate (admin)"
    )
    expect(page.get_by_text(re.compile(r"Observed precision: \d+ %"))).to_be_visible()
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
