"""The run report: public JSON shape, deterministic bytes, rates, and a safe self-contained HTML."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import pytest

from autosolve.report import REPORT_SCHEMA, build_report, dumps_report, render_html, write_report
from mappings import Mappings
from tests.autosolve.helpers import agent_comment, end_user_comment, ny, snapshot, to
from triggers import autosolve_texts as texts
from triggers.autosolve import (
    AutoSolveConfig,
    AutoSolveDecision,
    EpisodeState,
    Outcome,
    conflict,
    decide,
)

AS_OF = ny(2026, 12, 4, 2)  # 07:00 UTC


def sweep(mappings: Mappings, config: AutoSolveConfig, as_of: datetime) -> list[AutoSolveDecision]:
    """A small night's worth of decisions, one of each kind, listed out of id order."""
    us = mappings.team("all_media")
    ca = mappings.team("canadian_spot")
    thanksgiving_eve = agent_comment(ny(2026, 11, 25, 10))
    reminded = EpisodeState(thanksgiving_eve.created_at, reminded_at=ny(2026, 12, 2, 2))
    solved = decide(snapshot(id=5), thanksgiving_eve, us, config, as_of, reminded)
    return [
        solved,
        decide(snapshot(id=3), end_user_comment(ny(2026, 11, 20, 9)), us, config, as_of, None),
        decide(snapshot(id=9), agent_comment(ny(2026, 12, 1, 10)), us, config, as_of, None),
        decide(
            snapshot(id=1, group="Canadian Spot"),
            agent_comment(to(2026, 11, 27, 10)),
            ca,
            config,
            as_of,
            None,
        ),
        decide(
            snapshot(id=7, tags=frozenset({"no_autosolve"})),
            thanksgiving_eve,
            us,
            config,
            as_of,
            None,
        ),
        conflict(replace(solved, ticket_id=8), "requester replied"),
    ]


def test_report_matches_the_public_json_interface(
    mappings: Mappings, config: AutoSolveConfig
) -> None:
    """Keys, totals for all six decisions, tickets sorted by id, UTC times, ISO dates."""
    report = build_report(
        "run-1",
        AS_OF,
        True,
        sweep(mappings, config, AS_OF),
        api_calls=12,
        examined=6,
        changed=2,
    )
    jsonschema.validate(report, REPORT_SCHEMA)
    assert list(report) == [
        "run_id",
        "as_of",
        "dry_run",
        "totals",
        "api_calls",
        "api_calls_per_1000_examined",
        "api_calls_per_1000_changed",
        "history_learned",
        "calendar_corrections",
        "tickets",
    ]
    assert report["as_of"] == "2026-12-04T07:00:00Z"
    assert report["totals"] == {
        "remind": 1,
        "solve": 1,
        "skip": 1,
        "exempt": 1,
        "waiting_on_us": 1,
        "conflict": 1,
    }
    assert [t["id"] for t in report["tickets"]] == [1, 3, 5, 7, 8, 9]
    assert report["tickets"][2] == {
        "id": 5,
        "decision": "solve",
        "reason": texts.REASON_SOLVE.format(elapsed=5, solve_after=5),
        "team": "all_media",
        "clock_start": "2026-11-25T15:00:00Z",
        "business_days_elapsed": 5,
        "due": "2026-12-03",
    }
    canadian = report["tickets"][0]
    assert (canadian["team"], canadian["decision"]) == ("canadian_spot", "remind")
    waiting = report["tickets"][1]
    assert (waiting["clock_start"], waiting["business_days_elapsed"], waiting["due"]) == (
        None,
        None,
        None,
    )


def test_two_dry_runs_at_the_same_as_of_are_byte_identical(
    mappings: Mappings, config: AutoSolveConfig
) -> None:
    """Decisions recomputed and listed in another order give the same JSON bytes."""
    first = sweep(mappings, config, AS_OF)
    second = list(reversed(sweep(mappings, config, AS_OF)))
    texts_ = [
        dumps_report(
            build_report("dry-20261204", AS_OF, True, d, api_calls=3, examined=6, changed=0)
        )
        for d in (first, second)
    ]
    assert texts_[0] == texts_[1]
    assert render_html(json.loads(texts_[0])) == render_html(json.loads(texts_[1]))
    assert json.loads(texts_[0])["totals"]["solve"] == 1


def test_a_later_as_of_shows_up_as_a_diff(mappings: Mappings, config: AutoSolveConfig) -> None:
    """Forecasting: the same tickets a business day later change decisions, and only those."""
    today = build_report(
        "dry", AS_OF, True, sweep(mappings, config, AS_OF), api_calls=0, examined=6, changed=0
    )
    later_as_of = ny(2026, 12, 8, 2)
    later = build_report(
        "dry",
        later_as_of,
        True,
        sweep(mappings, config, later_as_of),
        api_calls=0,
        examined=6,
        changed=0,
    )
    changed = {
        a["id"]
        for a, b in zip(today["tickets"], later["tickets"], strict=True)
        if a["decision"] != b["decision"]
    }
    # Dec 1 comment: skip -> remind. Canadian Spot stays "remind": no reminder has gone out in
    # these inputs, and a reminder always comes first (issue 14).
    assert changed == {9}


def test_rates_per_thousand_tickets(mappings: Mappings, config: AutoSolveConfig) -> None:
    """API calls per 1,000 examined and per 1,000 changed; null when the divisor is zero."""
    report = build_report("r", AS_OF, False, [], api_calls=45, examined=3000, changed=0)
    assert report["api_calls_per_1000_examined"] == 15.0
    assert report["api_calls_per_1000_changed"] is None
    report = build_report("r", AS_OF, False, [], api_calls=10, examined=3, changed=3)
    assert report["api_calls_per_1000_changed"] == 3333.3
    assert report["totals"] == dict.fromkeys((o.value for o in Outcome), 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"as_of": datetime(2026, 12, 4, 7)}, "time-zone-aware"),
        ({"api_calls": -1}, "non-negative"),
        ({"examined": True}, "non-negative"),
        ({"run_id": ""}, "run_id"),
    ],
)
def test_bad_report_input_is_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    """Naive times, negative or non-integer counts and empty run ids are refused."""
    args: dict[str, object] = {
        "run_id": "r",
        "as_of": AS_OF,
        "dry_run": True,
        "decisions": [],
        "api_calls": 0,
        "examined": 0,
        "changed": 0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_report(**args)  # type: ignore[arg-type]


def test_one_decision_per_ticket(mappings: Mappings, config: AutoSolveConfig) -> None:
    """A ticket listed twice (e.g. conflict and re-decision both passed) is an error."""
    decision = sweep(mappings, config, AS_OF)[0]
    with pytest.raises(ValueError, match="more than one decision"):
        build_report(
            "r",
            AS_OF,
            True,
            [decision, conflict(decision, "x")],
            api_calls=0,
            examined=2,
            changed=0,
        )


def _hostile_report() -> dict[str, object]:
    decision = AutoSolveDecision(
        ticket_id=42,
        decision=Outcome.EXEMPT,
        reason='exempt by group <script>alert("x")</script> & co',
        team="team'\"><img src=x onerror=alert(1)>",
        snapshot_stamp="s",
        clock_start=datetime(2026, 11, 25, 15, tzinfo=UTC),
        business_days_elapsed=2,
        due=date(2026, 12, 3),
    )
    return build_report(
        'run-<b>"1"</b>', AS_OF, True, [decision], api_calls=1, examined=1, changed=0
    )


def test_html_escapes_every_text() -> None:
    """Reasons, team names and the run id are shown as text, never as markup."""
    page = render_html(_hostile_report())
    assert "<script" not in page
    assert "<img" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "team&#x27;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_is_self_contained_with_totals_and_every_ticket(
    mappings: Mappings, config: AutoSolveConfig
) -> None:
    """Inline CSS, no scripts or external assets; totals first, then one row per ticket."""
    report = build_report(
        "run-2", AS_OF, True, sweep(mappings, config, AS_OF), api_calls=12, examined=6, changed=2
    )
    page = render_html(report)
    for forbidden in ("<script", "<link", "src=", "href=", "url(", "@import", "http"):
        assert forbidden not in page
    assert "<style>" in page
    assert page.index('class="totals"') < page.index("<table>")
    assert len(re.findall(r"<tr><td", page)) == 6
    for label in texts.DECISION_LABELS.values():
        assert label in page
    assert texts.REPORT_DRY_RUN in page
    assert texts.REPORT_PER_1000_EXAMINED.format(value="2000.0") in page


def test_html_for_a_run_with_no_tickets() -> None:
    """An empty run says so instead of showing an empty table; real runs are labelled."""
    page = render_html(build_report("r", AS_OF, False, [], api_calls=1, examined=0, changed=0))
    assert texts.REPORT_NO_TICKETS in page
    assert texts.REPORT_REAL_RUN in page
    assert texts.REPORT_PER_1000_EXAMINED.format(value=texts.REPORT_NOT_APPLICABLE) in page


def test_write_report_writes_json_and_html_side_by_side(tmp_path: Path) -> None:
    """The JSON file parses back to the report; the page sits beside it; no temp files remain."""
    report = _hostile_report()
    json_path, html_path = write_report(report, tmp_path / "reports" / "run.json")
    assert json.loads(json_path.read_text(encoding="utf-8")) == report
    assert html_path == tmp_path / "reports" / "run.html"
    assert html_path.read_text(encoding="utf-8") == render_html(report)
    assert sorted(p.name for p in json_path.parent.iterdir()) == ["run.html", "run.json"]
    with pytest.raises(ValueError, match=r"give the \.json path"):
        write_report(report, tmp_path / "run.html")


def test_json_text_is_valid_with_one_ticket_per_line(
    mappings: Mappings, config: AutoSolveConfig
) -> None:
    """The text parses back to the same report, and each ticket is one line (diff-friendly)."""
    report = build_report(
        "r", AS_OF, True, sweep(mappings, config, AS_OF), api_calls=1, examined=6, changed=0
    )
    text = dumps_report(report)
    assert json.loads(text) == report
    ticket_lines = [line for line in text.splitlines() if line.startswith('    {"id": ')]
    assert len(ticket_lines) == 6
    assert "›" in dumps_report({**report, "run_id": "›"})  # UTF-8 text, not \\u escapes
    empty = build_report("r", AS_OF, True, [], api_calls=0, examined=0, changed=0)
    assert json.loads(dumps_report(empty)) == empty


def test_html_is_well_formed(mappings: Mappings, config: AutoSolveConfig) -> None:
    """Every opened element is closed in order (a broken row would break the whole table)."""
    from html.parser import HTMLParser

    class Balance(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.errors: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag != "meta":
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if self.stack and self.stack[-1] == tag:
                self.stack.pop()
            else:
                self.errors.append(tag)

    checker = Balance()
    report = build_report(
        "r", AS_OF, False, sweep(mappings, config, AS_OF), api_calls=5, examined=6, changed=2
    )
    checker.feed(render_html(report))
    assert (checker.errors, checker.stack) == ([], [])
