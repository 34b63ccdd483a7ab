"""Duplicates with their evidence and one notion of precision, requester names, the teams'
extra closed/working dates and the lockout of failed local sign-ins, over Flask's test client
with the real sandbox behind sync/ (tests/browser covers the same pages in Chromium)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import tomlkit
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, Table, select, update

import store
from autosolve.models import SweepRun, SweepRunTicket
from console.mapping_forms import team_index, team_values
from console.models import MappingVersion, SigninFailure
from duplicates.detection import precision_status
from duplicates.models import DupFlag, DupSuppressedPair, DupTicket
from mappings import MappingError, current_mappings, load_mapping_texts
from sandbox.testing import SandboxHandle
from store.db import UTCDateTime
from sync.client import ZendeskClient
from sync.factory import FACTORY_EXTENSION, default_factory
from tests.console.conftest import PASSWORD, csrf_token, sign_in
from tests.desk import sandbox_settings
from triggers.duplicates import DuplicateSettings, TicketIndex, TicketRow, find_duplicates

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


def _count_user_reads(app: Flask) -> list[list[int]]:
    """Each `users/show_many` the console makes (real HTTP to the sandbox), with its ids."""
    calls: list[list[int]] = []

    def factory(app_: Flask) -> ZendeskClient:
        client = default_factory(app_)
        real = client.users

        def users(ids: Any) -> list[dict[str, Any]]:
            ids = list(ids)
            calls.append(ids)
            return real(ids)

        client.users = users  # type: ignore[method-assign, assignment]
        return client

    app.extensions[FACTORY_EXTENSION] = factory
    return calls


def _user(zd: SandboxHandle, name: str, email: str) -> int:
    answer = zd.api("POST", "users.json", json={"user": {"name": name, "email": email}})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["user"]["id"])


def _indexed(sess: Any, ticket_id: int, requester: int, subject: str, body: str) -> TicketRow:
    created = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=ticket_id)
    sess.add(
        DupTicket(
            id=ticket_id,
            requester_id=requester,
            status="open",
            created_at=created,
            subject=subject,
            description=body,
            indexed_at=store.utcnow(),
        )
    )
    return TicketRow(ticket_id, requester, None, None, None, "open", created, subject, body)


def _verdict(client: FlaskClient, ticket_id: int, verdict: str) -> Any:
    token = csrf_token(client.get("/console/duplicates").text)
    return client.post(
        f"/console/duplicates/{ticket_id}/verdict",
        data={"csrf_token": token, "verdict": verdict},
        follow_redirects=True,
    )


def test_duplicates_show_the_notes_evidence_and_admins_verdicts_are_the_detectors_feedback(
    console_app: Callable[..., Flask], zd: SandboxHandle
) -> None:
    app = console_app(**sandbox_settings(zd))
    user_reads = _count_user_reads(app)
    dana = _user(zd, "Dana Requester", "dana@example.com")
    with store.session(app) as sess:
        first = _indexed(sess, 101, dana, SUBJECT, BODY)
        second = _indexed(sess, 102, dana, AGAIN_SUBJECT, AGAIN_BODY)
        _indexed(sess, 103, dana, "Invoice copy for October", "Please send the invoice copy.")
        _indexed(sess, 104, dana, "Invoice copy again", "Can you send the October invoice?")
        # 102's flag predates stored evidence (computed for the page); 104's keeps its note's.
        sess.add_all(
            DupFlag(
                ticket_id=t, candidate_id=c, score=0.8, source="webhook", applied=True, evidence=ev
            )
            for t, c, ev in ((102, 101, None), (104, 103, [["Invoice copy again", "Invoice copy"]]))
        )
    # What the flag note says: the matching sentences of the detector on the same texts.
    index = TicketIndex()
    index.upsert(first)
    index.upsert(second)
    [match] = find_duplicates(
        second, index, index.model, DuplicateSettings(flag_threshold=0.01, note_candidates=1)
    )
    assert match.matching_sentences

    client = app.test_client()
    sign_in(client)
    page = client.get("/console/duplicates").text
    for new, old in match.matching_sentences:
        assert f"this ticket: <q>{html.escape(new)}</q> — #101: <q>{html.escape(old)}</q>" in page
    assert "this ticket: <q>Invoice copy again</q> — #103: <q>Invoice copy</q>" in page
    assert page.count("this ticket: <q>") == len(match.matching_sentences) + 1
    assert "Dana Requester" in page and f"user {dana}" not in page
    assert user_reads == [[dana]]  # one read for the whole page, not one per row
    status = precision_status(app)
    assert f"Threshold in use: <strong>{status.threshold_in_use:.2f}</strong>" in page
    assert "no judged flags yet" in page

    confirmed = _verdict(client, 102, "duplicate")
    assert "Recorded: ticket 102 duplicate." in confirmed.text
    assert "duplicate (admin)" in confirmed.text
    refused = _verdict(client, 104, "not_duplicate")
    assert "not duplicate (admin)" in refused.text
    with store.session(app, readonly=True) as sess:
        flags = {f.ticket_id: f for f in sess.scalars(select(DupFlag))}
        pairs = list(sess.execute(select(DupSuppressedPair.low_id, DupSuppressedPair.source)))
        audit = list(
            sess.execute(
                select(store.AuditEntry.ticket_id, store.AuditEntry.invocation_id).where(
                    store.AuditEntry.action == "duplicate_verdict"
                )
            )
        )
    assert flags[102].confirmed_at is not None and flags[102].feedback_at is None
    assert flags[104].feedback_at is not None and flags[104].confirmed_at is None
    assert pairs == [(103, "admin")]  # never flagged together again
    assert sorted(audit) == [(102, "admin:admin"), (104, "admin:admin")]
    status = precision_status(app)  # the detector's own figure counts the admins' verdicts
    assert (status.confirmed, status.rejected, status.observed_precision) == (1, 1, 0.5)
    assert "<strong>50 %</strong>" in refused.text

    again = _verdict(client, 104, "duplicate")
    assert "the flag on ticket 104 was already judged" in again.text
    with store.session(app, readonly=True) as sess:
        assert sess.get(DupFlag, 104).confirmed_at is None  # type: ignore[union-attr]


def test_run_report_shows_requester_names_read_once_per_page(
    console_app: Callable[..., Flask], zd: SandboxHandle
) -> None:
    app = console_app(**sandbox_settings(zd))
    user_reads = _count_user_reads(app)
    names = {}
    tickets = []
    for n in range(3):
        email = f"req{n}@example.com"
        names[_user(zd, f"Requester Number{n}", email)] = f"Requester Number{n}"
        answer = zd.api(
            "POST",
            "tickets.json",
            json={
                "ticket": {
                    "subject": f"Export {n} fails",
                    "comment": {"body": "It fails."},
                    "requester": {"email": email},
                }
            },
        )
        assert answer.status_code == 201, answer.text
        tickets.append(int(answer.json()["ticket"]["id"]))
    with store.session(app) as sess:
        sess.add(SweepRun(id="run-names", as_of=store.utcnow(), dry_run=False, status="done"))
        sess.add_all(
            SweepRunTicket(run_id="run-names", ticket_id=t, decision="solve", reason="r", team="x")
            for t in tickets
        )
    client = app.test_client()
    sign_in(client)
    page = client.get("/console/autosolve/runs/run-names").text
    for n, name in enumerate(names.values()):
        assert name in page and f"Export {n} fails" in page  # not in the duplicate index
    assert len(user_reads) == 1 and sorted(user_reads[0]) == sorted(names)
    again = client.get("/console/autosolve/runs/run-names").text
    assert all(name in again for name in names.values())
    assert len(user_reads) == 1  # names read within the last minutes are not read again


def _team_form(client: FlaskClient, app: Flask, **changes: str) -> Any:
    page = client.get("/console/mappings/teams/all_media").text
    with app.app_context(), store.session(app, readonly=True) as sess:
        newest = sess.scalars(select(MappingVersion).order_by(MappingVersion.id.desc())).first()
        assert newest is not None
        teams = newest.files["teams.toml"]
    values = team_values(teams, team_index(teams, "all_media") or 0)
    data: dict[str, Any] = {**values, "csrf_token": csrf_token(page), **changes}
    data["support"] = "y" if values["support"] else ""
    return client.post("/console/mappings/teams/all_media", data=data)


def _versions(app: Flask) -> int:
    with store.session(app, readonly=True) as sess:
        return len(list(sess.scalars(select(MappingVersion.id))))


def _cli_messages(app: Flask, closed: list[Any], working: list[Any]) -> list[str]:
    """`mappings validate`'s messages for the same entries written in teams.toml."""
    with store.session(app, readonly=True) as sess:
        files = dict(sess.scalars(select(MappingVersion).order_by(MappingVersion.id)).first().files)  # type: ignore[union-attr]
    document = tomlkit.parse(files["teams.toml"])
    team = document["team"][team_index(files["teams.toml"], "all_media") or 0]
    team["closed"], team["working"] = closed, working
    with pytest.raises(MappingError) as problems:
        load_mapping_texts({**files, "teams.toml": tomlkit.dumps(document)})
    return [p.message for p in problems.value.problems]


def test_a_teams_extra_closed_and_working_dates_validate_as_the_cli_and_save_a_version(
    console_app: Callable[..., Flask],
) -> None:
    app = console_app()
    client = app.test_client()
    sign_in(client)
    form = client.get("/console/mappings/teams/all_media").text
    assert 'for="closed">Extra closed dates' in form and 'for="working">Extra working dates' in form
    before = _versions(app)

    bad_date = _team_form(client, app, closed="2026-12-24 Company closure\n2026-13-40 Inventory")
    assert bad_date.status_code == 422
    [message] = _cli_messages(
        app,
        [
            {"date": date(2026, 12, 24), "name": "Company closure"},
            {"date": "2026-13-40", "name": "x"},
        ],
        [],
    )
    assert f'id="closed-error">line 2: {message}</p>' in bad_date.text
    assert 'aria-invalid="true"' in bad_date.text
    twice = _team_form(client, app, closed="2026-12-24 Closure", working="2026-12-24 Open desk")
    assert twice.status_code == 422
    [message] = _cli_messages(
        app,
        [{"date": date(2026, 12, 24), "name": "Closure"}],
        [{"date": date(2026, 12, 24), "name": "Open desk"}],
    )
    assert message == "2026-12-24 is listed twice (also in closed)"
    assert f'id="working-error">{html.escape(message)}</p>' in twice.text
    assert _versions(app) == before  # nothing saved

    saved = _team_form(
        client,
        app,
        closed="2026-12-24 Company closure\n2026-12-31 Year-end inventory",
        working="2026-11-26 Thanksgiving desk",
        summary="All Media calendar corrections",
    )
    assert saved.status_code == 303, saved.text
    assert _versions(app) == before + 1
    other = console_app()  # another process on the same database
    with other.app_context():
        team = next(t for t in current_mappings().teams if t.key == "all_media")
    assert team.closed == (
        (date(2026, 12, 24), "Company closure"),
        (date(2026, 12, 31), "Year-end inventory"),
    )
    assert team.working == ((date(2026, 11, 26), "Thanksgiving desk"),)
    shown = client.get("/console/mappings/teams/all_media").text
    assert "2026-12-31 Year-end inventory" in shown


def _attempt(client: FlaskClient, username: str, password: str) -> Any:
    token = csrf_token(client.get("/console/login").text)
    return client.post(
        "/console/login", data={"csrf_token": token, "username": username, "password": password}
    )


def _lockouts(app: Flask) -> list[str]:
    with store.session(app, readonly=True) as sess:
        return list(
            sess.scalars(
                select(store.AuditEntry.reason).where(store.AuditEntry.action == "sign_in_lockout")
            )
        )


def test_failed_local_sign_ins_lock_the_account_and_address_in_every_process(
    console_app: Callable[..., Flask],
) -> None:
    settings = {"console": {"signin_max_failures": 3, "signin_lockout_minutes": 10}}
    app = console_app(**settings)
    client = app.test_client()
    assert _attempt(client, "admin", "wrong").status_code == 401
    assert _attempt(client, "admin", "wrong again").status_code == 401
    third = _attempt(client, "admin", "still wrong")
    assert third.status_code == 429
    assert "Too many failed sign-ins" in third.text and "try again in 10 minutes" in third.text
    [reason] = _lockouts(app)
    assert "after 3 failed attempts" in reason and "'admin'" in reason

    # The right password no longer helps, here or in another process on the same database.
    assert _attempt(client, "admin", PASSWORD).status_code == 429
    other = console_app(**settings).test_client()
    assert _attempt(other, "admin", PASSWORD).status_code == 429
    # The address is locked too: guessing another account name from it is refused.
    assert _attempt(client, "root", "x").status_code == 429
    assert len(_lockouts(app)) == 1  # refused attempts while locked are not counted again

    with store.session(app) as sess:  # the cooldown passes
        sess.execute(update(SigninFailure).values(failed_at=store.utcnow() - timedelta(minutes=11)))
    assert sign_in(client).status_code == 302
    with store.session(app, readonly=True) as sess:
        left = list(sess.scalars(select(SigninFailure.username)))
    assert "admin" not in left


def test_bad_lockout_settings_get_a_clear_message(console_app: Callable[..., Flask]) -> None:
    app = console_app(console={"signin_max_failures": 0})
    client = app.test_client()
    with pytest.raises(ValueError, match=r"console\.signin_max_failures must be a whole number"):
        _attempt(client, "admin", "wrong")


def test_the_migration_moves_old_console_verdicts_onto_the_flags(
    make_db_app: Callable[..., Flask],
) -> None:
    """console_0002: verdicts kept by the first console become the detector's feedback; an
    agent's earlier word on a flag is kept."""
    app = make_db_app(migrate=False)
    store.upgrade(app, "admin_0002")
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    old = Table("console_duplicate_verdict", MetaData(), autoload_with=store.engine(app))
    with store.session(app) as sess:
        for t in (2, 4, 6):
            sess.add(DupFlag(ticket_id=t, candidate_id=t - 1, score=0.7, source="webhook"))
        sess.flush()
        sess.execute(update(DupFlag).where(DupFlag.ticket_id == 6).values(feedback_at=at))
        recorded = UTCDateTime().process_bind_param(at, sess.get_bind().dialect)
        sess.execute(
            old.insert(),
            [
                {"ticket_id": t, "candidate_id": t - 1, "verdict": v, "author": "ana"}
                | {"recorded_at": recorded}
                for t, v in ((2, "duplicate"), (4, "not_duplicate"), (6, "duplicate"))
            ],
        )
    store.upgrade(app)
    with store.session(app, readonly=True) as sess:
        flags = {
            f.ticket_id: (f.confirmed_at, f.feedback_at) for f in sess.scalars(select(DupFlag))
        }
    assert flags == {2: (at, None), 4: (None, at), 6: (None, at)}
    status = precision_status(app)
    assert (status.confirmed, status.rejected) == (1, 2)


def test_flagged_pairs_are_paged(console_app: Callable[..., Flask]) -> None:
    app = console_app()
    with store.session(app) as sess:
        sess.add_all(
            DupFlag(
                ticket_id=t,
                candidate_id=t - 1,
                score=0.7,
                source="scan",
                flagged_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=t),
            )
            for t in range(1000, 1030)
        )
    client = app.test_client()
    sign_in(client)
    first = client.get("/console/duplicates").text
    assert "#1029" in first and "#1005 " in first and "#1004 " not in first
    assert 'href="/console/duplicates?offset=25">Older flags' in first
    older = client.get("/console/duplicates?offset=25").text
    assert "#1004 " in older and "#1000 " in older and "#1005 " not in older
    assert "Older flags" not in older and "Newer flags" in older
