"""The sidebar in a real Chromium, inside the sandbox's agent ticket page, as Zendesk hosts it:
signed POST into the iframe, the ZAF SDK talking to the host page, buttons writing to Zendesk."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import store
from autosolve.sweep import run_sweep
from duplicates.detection import suppressed_pairs
from duplicates.models import DupFlag
from settings import ROOT
from triggers.duplicates import pair_key

from .conftest import SidebarDesk, sidebar_frame

pytestmark = pytest.mark.integration
SCREENSHOTS = ROOT / "docs" / "sidebar"
DATE = re.compile(r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \w+ \d{1,2}, \d{4}")


def _shot(page: Any, name: str) -> None:
    """The README's screenshots (docs/sidebar/), refreshed with CXLAYER_TEST_SCREENSHOTS=1
    (a normal run leaves the committed files alone)."""
    if not os.environ.get("CXLAYER_TEST_SCREENSHOTS"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_agent_sees_the_clock_pauses_auto_solve_and_the_sweep_leaves_it_alone(
    sidebar_desk: SidebarDesk, page: Any, tmp_path: Path
) -> None:
    desk = sidebar_desk
    ticket = desk.awaiting_ticket(asked_days_ago=1)
    page.goto(desk.agent_page(ticket))
    frame = sidebar_frame(page)
    status = frame.locator("#status-label")
    status.wait_for()
    assert "Awaiting your reply" in status.inner_text()
    explanation = frame.locator("#clock-explanation").inner_text()
    assert "has until the end of" in explanation
    remind = frame.locator("#clock-remind").inner_text()
    solve = frame.locator("#clock-solve").inner_text()
    assert DATE.fullmatch(remind) and DATE.fullmatch(solve), (remind, solve)
    assert "All Media" in frame.locator("#clock-calendar").inner_text()
    _shot(page, "clock.png")

    before = {
        int(t["id"]): t["decision"]
        for t in run_sweep(
            desk.app,
            client=desk.make_client(),
            full=True,
            as_of=datetime.now(UTC) + timedelta(days=14),
            report_path=tmp_path / "before.json",
        ).report["tickets"]
    }
    frame.locator("#pause-auto-solve").click()
    frame.locator("#resume-auto-solve").wait_for()
    assert "paused" in frame.locator("#clock-explanation").inner_text()
    # The host page shows the tag once Zendesk has it (it polls the ticket, as Zendesk updates).
    page.locator("#ticket-tags .tag", has_text="no_autosolve").wait_for()
    assert "no_autosolve" in desk.ticket(ticket)["tags"]
    notes = desk.service_comments(ticket, public=False)
    assert any("Auto-solve paused by Alex Agent" in n for n in notes), notes
    with store.session(desk.app) as session:
        audited = [e.rule for e in store.list_audit(session, ticket_id=ticket)]
    assert "sidebar.pause_auto_solve" in audited
    history = frame.locator("#history-list").inner_text()
    assert "Auto-solve paused (sidebar)" in history
    _shot(page, "paused.png")

    # The real sweep, evaluated two weeks on (past the solve date; a future as_of is a dry
    # run): the paused ticket is reported exempt, paused by an agent, and never reminded or
    # solved. The real nightly run (now, not a dry run) reports it the same and writes nothing.
    after = run_sweep(
        desk.app,
        client=desk.make_client(),
        full=True,
        as_of=datetime.now(UTC) + timedelta(days=14),
        report_path=tmp_path / "after.json",
    )
    row = {int(t["id"]): t for t in after.report["tickets"]}[ticket]
    assert row["decision"] == "exempt", row
    assert "paused by an agent" in row["reason"] and "no_autosolve" in row["reason"], row
    assert after.report["totals"]["exempt"] >= 1
    assert f'<td class="num">{ticket}</td>' in after.html_path.read_text()
    stamp = desk.ticket(ticket)["updated_at"]
    nightly = run_sweep(desk.app, client=desk.make_client(), report_path=tmp_path / "now.json")
    assert {int(t["id"]): t["decision"] for t in nightly.report["tickets"]}[ticket] == "exempt"
    assert desk.ticket(ticket)["updated_at"] == stamp  # nothing written to a paused ticket
    # The same sweep, before the pause, would have acted on it: a reminder first (never a solve
    # without one in the episode).
    assert before[ticket] == "remind"

    frame.locator("#resume-auto-solve").click()
    frame.locator("#pause-auto-solve").wait_for()
    assert "no_autosolve" not in desk.ticket(ticket)["tags"]


def test_agent_marks_a_flagged_candidate_not_a_duplicate(
    sidebar_desk: SidebarDesk, page: Any
) -> None:
    desk = sidebar_desk
    first = desk.open_ticket(
        desk.requester,
        "Campaign export to Prisma times out",
        "Exporting campaign 4411 to Prisma times out after ten minutes with error E-504.",
    )
    desk.process_events()
    second = desk.open_ticket(
        desk.requester,
        "Prisma campaign export timing out",
        "The export of campaign 4411 to Prisma times out after ten minutes, error E-504 again.",
    )
    desk.process_events()
    assert "possible_duplicate" in desk.ticket(second)["tags"], desk.service_comments(
        second, public=False
    )

    page.goto(desk.agent_page(second))
    frame = sidebar_frame(page)
    candidate = frame.locator(f"#duplicate-list li[data-ticket-id='{first}']")
    candidate.wait_for()
    text = candidate.inner_text()
    assert "(flagged)" in text and "score" in text
    assert "↔" in text or "mentions" in text  # the strongest evidence is shown
    _shot(page, "duplicates.png")

    candidate.locator("button.not-duplicate").click()
    frame.locator(f"#duplicate-list li[data-ticket-id='{first}']").wait_for(state="detached")
    current = desk.ticket(second)
    assert "possible_duplicate" not in current["tags"]
    assert desk.field_value(second, "duplicate_of") in (None, "")
    with store.session(desk.app) as session:
        assert pair_key(first, second) in suppressed_pairs(session, second)
        flag = session.get(DupFlag, second)
        assert flag is not None and flag.feedback_at is not None
    page.locator("#ticket-tags .tag", has_text="possible_duplicate").wait_for(state="detached")
    # The service's own update raises webhooks; none of them flags the pair again.
    desk.process_events()
    assert "possible_duplicate" not in desk.ticket(second)["tags"]


def test_the_lumina_only_warning_shows_before_solving(sidebar_desk: SidebarDesk, page: Any) -> None:
    desk = sidebar_desk
    ticket = desk.awaiting_ticket(product="mo_product_prod")
    page.goto(desk.agent_page(ticket))
    frame = sidebar_frame(page)
    frame.locator("#status-label").wait_for()
    assert frame.locator("#draft-notice").is_hidden()
    field_id = desk.provisioned.field_id("resolution_type")
    page.select_option(f"#field-{field_id}", "mo_res_configuration_request")
    warning = frame.locator("#draft-notice.warning")
    warning.wait_for()
    text = warning.inner_text()
    assert "Before you solve" in text
    assert "Lumina only" in text and "“Prod”" in text
    _shot(page, "lumina-warning.png")
    # Nothing was written: the warning came before any change to the ticket.
    assert desk.field_value(ticket, "resolution_type") in (None, "")
    page.select_option(f"#field-{field_id}", "")
    warning.wait_for(state="hidden")


def test_opening_a_candidate_routes_the_host_to_that_ticket(
    sidebar_desk: SidebarDesk, page: Any
) -> None:
    """ "Open" asks the host (ZAF invoke routeTo) to show the linked ticket."""
    desk = sidebar_desk
    first = desk.open_ticket(
        desk.requester,
        "Invoice batch stuck in approval",
        "Invoice batch 2290 is stuck in approval since Monday, status pending forever.",
    )
    desk.process_events()
    second = desk.open_ticket(
        desk.requester,
        "Invoice batch 2290 stuck in approval",
        "Our invoice batch 2290 is still stuck in approval since Monday, pending forever.",
    )
    desk.process_events()
    page.goto(desk.agent_page(second))
    frame = sidebar_frame(page)
    frame.locator(f"#duplicate-list li[data-ticket-id='{first}'] button.open-ticket").click()
    page.wait_for_url(re.compile(rf"/agent/tickets/{first}\b"))
    assert page.locator("#ticket-subject").inner_text() == "Invoice batch stuck in approval"


def _flagged_pair(desk: SidebarDesk, subject: str, body: str, again: str) -> tuple[int, int]:
    """Two tickets from the requester about one issue; the second flagged by the real webhook
    path (sandbox → service → worker)."""
    first = desk.open_ticket(desk.requester, subject, body)
    desk.process_events()
    second = desk.open_ticket(desk.requester, f"Re: {subject}", again)
    desk.process_events()
    assert "possible_duplicate" in desk.ticket(second)["tags"]
    return first, second


def test_merge_where_enabled_asks_to_confirm_then_merges_through_zendesk(
    sidebar_desk: SidebarDesk, page: Any
) -> None:
    """Off by default (no button, the API refuses); switched on, Merge asks first, Cancel
    writes nothing, Confirm merges with Zendesk's merge job: the ticket closed with a public
    pointer for the requester, an internal note on the candidate naming the agent, audited on
    both, the flag confirmed, and the host shows the candidate."""
    desk = sidebar_desk
    first, second = _flagged_pair(
        desk,
        "Media plan 7710 export to Excel fails",
        "Exporting media plan 7710 to Excel fails with error X-330 every time since Tuesday.",
        "The Excel export of media plan 7710 still fails with error X-330 since Tuesday.",
    )
    page.goto(desk.agent_page(second))
    frame = sidebar_frame(page)
    candidate = frame.locator(f"#duplicate-list li[data-ticket-id='{first}']")
    candidate.wait_for()
    assert candidate.locator("button.merge").count() == 0  # [sidebar] merge is off by default

    desk.app.config["CXLAYER"].setdefault("sidebar", {})["merge"] = True
    page.reload()
    frame = sidebar_frame(page)
    candidate = frame.locator(f"#duplicate-list li[data-ticket-id='{first}']")
    candidate.locator("button.merge").click()
    confirm = candidate.locator(".confirm")
    confirm.wait_for()
    assert f"into #{first}" in confirm.inner_text()
    assert "cannot be undone" in confirm.inner_text()
    _shot(page, "merge-confirm.png")
    candidate.locator("button.cancel-merge").click()
    confirm.wait_for(state="hidden")
    assert desk.ticket(second)["status"] != "closed"  # Cancel wrote nothing

    candidate.locator("button.merge").click()
    candidate.locator("button.confirm-merge").click()
    page.wait_for_url(re.compile(rf"/agent/tickets/{first}\b"))
    merged = desk.ticket(second)
    assert merged["status"] == "closed" and "closed_by_merge" in merged["tags"]
    public = desk.service_comments(second, public=True)
    assert any("merged into it" in c and f"#{first}" in c for c in public), public
    notes = desk.service_comments(first, public=False)
    assert any(f"Ticket #{second} was merged into this ticket by Alex Agent" in n for n in notes), (
        notes
    )
    with store.session(desk.app) as session:
        rows = [
            (e.ticket_id, e.action, e.state)
            for t in (first, second)
            for e in store.list_audit(session, ticket_id=t)
            if e.rule == "sidebar.merge"
        ]
        flag = session.get(DupFlag, second)
    assert sorted(rows) == sorted(
        [(first, "merge_in", "applied"), (second, "close_by_merge", "applied")]
    )
    assert flag is not None and flag.confirmed_at is not None
    # The candidate's own sidebar (the host routed to it) shows the merge in its history.
    history = sidebar_frame(page).locator("#history-list")
    history.locator("li", has_text="Merged (sidebar)").wait_for()


def test_undo_in_the_history_resumes_a_pause_and_reverses_a_soft_merge(
    sidebar_desk: SidebarDesk, page: Any
) -> None:
    """The history offers Undo where the product can undo: the pause (resumes it: tag gone,
    note) and cxlayer's soft merge (reopened, link cleared, the pair remembered); a resume's
    own line then offers to pause again."""
    desk = sidebar_desk
    ticket = desk.awaiting_ticket(asked_days_ago=1)
    page.goto(desk.agent_page(ticket))
    frame = sidebar_frame(page)
    frame.locator("#pause-auto-solve").click()
    undo = frame.locator("#history-list button.undo[data-kind='pause']")
    undo.wait_for()
    _shot(page, "undo.png")
    undo.click()
    frame.locator("#pause-auto-solve").wait_for()
    assert "no_autosolve" not in desk.ticket(ticket)["tags"]
    notes = desk.service_comments(ticket, public=False)
    assert any("Auto-solve resumed by Alex Agent" in n for n in notes), notes
    frame.locator("#history-list button.undo[data-kind='resume']").wait_for()
    assert frame.locator("#history-list button.undo[data-kind='pause']").count() == 0

    # A soft merge made by cxlayer's duplicate detection (automatic threshold on).
    desk.app.config["CXLAYER"]["duplicates"]["auto_threshold"] = 0.5
    first = desk.open_ticket(
        desk.requester,
        "Cannot approve the April insertion order",
        "Approving insertion order 9921 for April gives an error: approval service down.",
    )
    desk.process_events()
    second = desk.open_ticket(
        desk.requester,
        "Re: Cannot approve the April insertion order",
        "Approving the April insertion order 9921 still gives the approval service down error.",
    )
    desk.process_events()
    assert desk.ticket(second)["status"] == "solved", desk.service_comments(second, public=False)
    page.goto(desk.agent_page(second))
    frame = sidebar_frame(page)
    undo = frame.locator("#history-list button.undo[data-kind='soft_merge']")
    undo.click()
    undo.wait_for(state="detached")
    reopened = desk.ticket(second)
    assert reopened["status"] != "solved"
    assert desk.field_value(second, "duplicate_of") in (None, "")
    with store.session(desk.app) as session:
        assert pair_key(first, second) in suppressed_pairs(session, second)
        rules = [e.rule for e in store.list_audit(session, ticket_id=second)]
    assert "duplicates.undo" in rules and "sidebar.undo" in rules
    frame.locator("#history-list li", has_text="Undone (sidebar)").wait_for()


def test_undo_in_the_history_reopens_what_the_sweep_auto_solved(
    sidebar_desk: SidebarDesk, page: Any, tmp_path: Path
) -> None:
    """The real sweep reminds (a run six days ago), then solves (a run now); the solved
    ticket's history offers Undo on the auto-solve line, which reopens it like `sweep undo`."""
    desk = sidebar_desk
    ticket = desk.awaiting_ticket(asked_days_ago=20)
    now = datetime.now(UTC)
    reminded = run_sweep(
        desk.app,
        client=desk.make_client(),
        full=True,
        as_of=now - timedelta(days=6),
        report_path=tmp_path / "remind.json",
    )
    assert {int(t["id"]): t["decision"] for t in reminded.report["tickets"]}[ticket] == "remind"
    solved = run_sweep(
        desk.app, client=desk.make_client(), full=True, report_path=tmp_path / "solve.json"
    )
    assert {int(t["id"]): t["decision"] for t in solved.report["tickets"]}[ticket] == "solve"
    assert desk.ticket(ticket)["status"] == "solved"

    page.goto(desk.agent_page(ticket))
    frame = sidebar_frame(page)
    undo = frame.locator("#history-list button.undo[data-kind='auto_solve']")
    undo.click()
    undo.wait_for(state="detached")
    assert desk.ticket(ticket)["status"] != "solved"
    with store.session(desk.app) as session:
        rules = [e.rule for e in store.list_audit(session, ticket_id=ticket)]
    assert "auto_solve_undo" in rules and "sidebar.undo" in rules
    frame.locator("#history-list li", has_text="Undone (sidebar)").wait_for()
