"""The sweep's CLI, cron registration and the who-spoke-last record the webhook handler keeps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

import store
from autosolve.cli import JOB_ID, cron_trigger
from autosolve.models import SweepComment, SweepRun
from autosolve.sweep import STATE_EVENTS_START, record_comment
from settings import SettingsError
from webhooks.worker import JOBS_EXTENSION

from .conftest import Desk, utc

AGENT_ASKED = "2025-12-24T15:00:00Z"
REMINDED_AT = "2025-12-31T12:00:00Z"


def invoke(desk: Desk, *args: str) -> Result:
    desk.app.config["CXLAYER"].setdefault("sweep", {})["poll_seconds"] = 0.05
    return desk.app.test_cli_runner().invoke(args=list(args))


def test_cli_dry_run_reports_and_writes_nothing(desk: Desk, tmp_path: Path):
    """`sweep auto-solve --dry-run --as-of --report` writes the report files and no Zendesk data."""
    ticket = desk.import_ticket(
        [
            (desk.requester_id, "2025-12-22T14:00:00Z", True),
            (desk.agent_id, AGENT_ASKED, True),
            (desk.service_id, REMINDED_AT, True),  # cxlayer's reminder: it comes first
        ]
    )
    desk.zd.reset_stats()
    report = tmp_path / "forecast.json"

    result = invoke(
        desk,
        "sweep",
        "auto-solve",
        "--dry-run",
        "--as-of",
        "2026-01-03T07:00",
        "--report",
        str(report),
        "--all",
    )

    assert result.exit_code == 0, result.output
    assert "dry-20260103T120000Z (dry run, done)" in result.output  # 07:00 New York = 12:00Z
    assert "examined every ticket awaiting the requester" in result.output
    data = json.loads(report.read_text())
    assert [(t["id"], t["decision"]) for t in data["tickets"]] == [(ticket, "solve")]
    assert report.with_suffix(".html").exists()
    assert desk.writes() == {}
    with store.session(desk.app) as sess:
        assert sess.get(SweepRun, "dry-20260103T120000Z").report == data  # type: ignore[union-attr]
        assert store.get_state(sess, STATE_EVENTS_START) is None  # a dry run keeps no cursor


def test_cli_rejects_bad_as_of_and_unknown_undo_run(desk: Desk):
    """Bad input gets a clear error and a non-zero exit."""
    bad = invoke(desk, "sweep", "auto-solve", "--as-of", "next monday")
    assert bad.exit_code != 0
    assert "is not an ISO-8601 time" in bad.output
    unknown = invoke(desk, "sweep", "undo", "run-nope")
    assert unknown.exit_code != 0
    assert "no sweep run 'run-nope'" in unknown.output


def test_cli_real_run_then_undo_one_ticket(desk: Desk):
    """`sweep auto-solve` solves, and `sweep undo RUN_ID --ticket ID` reopens that ticket."""
    ticket = desk.import_ticket(
        [
            (desk.requester_id, "2025-12-22T14:00:00Z", True),
            (desk.agent_id, AGENT_ASKED, True),
            (desk.service_id, REMINDED_AT, True),  # cxlayer's reminder: it comes first
        ]
    )
    solved = invoke(desk, "sweep", "auto-solve", "--as-of", "2026-01-03T12:00:00Z")
    assert solved.exit_code == 0, solved.output
    found = re.search(r"^(run-\S+) \(real run, done\)", solved.output, re.MULTILINE)
    assert found, solved.output
    run_id = found.group(1)
    assert desk.ticket(ticket)["status"] == "solved"

    undone = invoke(desk, "sweep", "undo", run_id, "--ticket", str(ticket))

    assert undone.exit_code == 0, undone.output
    assert "1 of 1 ticket(s) reopened" in undone.output
    assert desk.ticket(ticket)["status"] == "pending"


def test_nightly_job_registered_from_settings(desk: Desk):
    """The cron job is registered with [sweep] cron and timezone; bad values are refused."""
    jobs = {job_id: trigger for job_id, trigger, _func in desk.app.extensions[JOBS_EXTENSION]}
    trigger = jobs[JOB_ID]["trigger"]
    assert str(trigger.timezone) == "America/New_York"
    assert "hour='2'" in str(trigger) and "minute='0'" in str(trigger)
    desk.app.config["CXLAYER"]["sweep"]["cron"] = "99 2 * * *"
    with pytest.raises(SettingsError, match=r"\[sweep\] cron"):
        cron_trigger(desk.app)


def test_record_comment_keeps_every_comment_as_first_seen(desk: Desk):
    """Private comments and cxlayer's own are facts too; a comment seen again keeps the kind it
    was first stored with (the author's role when they wrote); an unknown role is filled in."""
    asked, reply = utc(AGENT_ASKED), utc("2025-12-25T10:00:00Z")
    with store.session(desk.app) as sess:
        assert record_comment(desk.app, sess, 7, desk.agent_id, True, asked, True)
        assert record_comment(desk.app, sess, 7, desk.requester_id, False, reply, None)
        assert record_comment(
            desk.app, sess, 7, desk.service_id, True, utc("2025-12-26T10:00:00Z"), True
        )
        # The agent later made an end user: the old question stays an agent's.
        assert not record_comment(desk.app, sess, 7, desk.agent_id, True, asked, False)
        assert record_comment(desk.app, sess, 7, desk.requester_id, False, reply, False)
        assert not record_comment(desk.app, sess, 7, desk.requester_id, False, reply, False)
    with store.session(desk.app) as sess:
        kinds = {
            (row.author_id, row.public): row.kind
            for row in sess.scalars(select(SweepComment).where(SweepComment.ticket_id == 7))
        }
    assert kinds == {
        (desk.agent_id, True): "agent",
        (desk.requester_id, False): "end_user",
        (desk.service_id, True): "service",
    }


def test_webhook_recorded_reply_makes_ticket_waiting_on_us(desk: Desk, tmp_path: Path):
    """A requester reply known only from a webhook event (record_comment) stops the clock."""
    ticket = desk.import_ticket(
        [
            (desk.requester_id, "2025-12-22T14:00:00Z", True),
            (desk.agent_id, AGENT_ASKED, True),
            (desk.service_id, REMINDED_AT, True),  # cxlayer's reminder: it comes first
        ]
    )
    result = invoke(
        desk,
        "sweep",
        "auto-solve",
        "--dry-run",
        "--as-of",
        "2026-01-03T12:00:00Z",
        "--report",
        str(tmp_path / "before.json"),
    )
    assert result.exit_code == 0, result.output
    with store.session(desk.app) as sess:
        record_comment(
            desk.app, sess, ticket, desk.requester_id, True, utc("2026-01-02T15:00:00Z"), False
        )
    after = invoke(
        desk,
        "sweep",
        "auto-solve",
        "--dry-run",
        "--as-of",
        "2026-01-03T12:00:00Z",
        "--report",
        str(tmp_path / "after.json"),
    )
    assert after.exit_code == 0, after.output
    before_rows = json.loads((tmp_path / "before.json").read_text())["tickets"]
    after_rows = json.loads((tmp_path / "after.json").read_text())["tickets"]
    assert before_rows[0]["decision"] == "solve"
    assert after_rows[0]["decision"] == "waiting_on_us"


def test_cli_limit_caps_examined_tickets(desk: Desk, tmp_path: Path):
    """`--limit N` examines at most N tickets and says the next run continues."""
    for _ in range(2):
        desk.import_ticket(
            [
                (desk.requester_id, "2025-12-22T14:00:00Z", True),
                (desk.agent_id, AGENT_ASKED, True),
                (desk.service_id, REMINDED_AT, True),  # cxlayer's reminder: it comes first
            ]
        )
    report = tmp_path / "limited.json"
    result = invoke(
        desk, "sweep", "auto-solve", "--dry-run", "--limit", "1", "--report", str(report)
    )
    assert result.exit_code == 0, result.output
    assert "stopped: ticket budget reached (1)" in result.output
    assert len(json.loads(report.read_text())["tickets"]) == 1


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("internal_notes", True, "internal_notes must be one of 'unannounced', 'always', got True"),
        ("listing", "some", "listing must be one of 'due', 'all', got 'some'"),
        ("max_api_calls", 0, "max_api_calls must be a positive integer, got 0"),
        ("full_listing_day", "funday", "full_listing_day must be one of '', 'monday'"),
        ("timezone", "Mars/Olympus", "timezone 'Mars/Olympus' is not a known time zone"),
    ],
)
def test_bad_sweep_settings_are_refused_before_anything_runs(
    desk: Desk, key: str, value: object, words: str
):
    """A mistyped [sweep] setting stops the command with the setting named; nothing is read."""
    desk.app.config["CXLAYER"].setdefault("sweep", {})[key] = value
    desk.zd.reset_stats()
    result = invoke(desk, "sweep", "auto-solve", "--dry-run")
    assert result.exit_code == 1
    assert words in result.output
    assert desk.zd.stats()["endpoints"] == {}
