"""The console's sign-in, sessions, CSRF and audit over Flask's test client (the browser tests
in tests/browser cover the same pages in Chromium)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from flask import Flask
from sqlalchemy import select

import store
from console.versions import audit_admin
from tests.console.conftest import csrf_token, sign_in


def _console_audit(app: Flask) -> list[tuple[str, str | None]]:
    with store.session(app, readonly=True) as sess:
        rows = sess.scalars(select(store.AuditEntry).where(store.AuditEntry.rule == "console"))
        return [(r.action, r.invocation_id) for r in rows]


def test_signed_out_pages_redirect_to_sign_in(console_app: Callable[..., Flask]) -> None:
    client = console_app().test_client()
    answer = client.get("/console/audit?ticket=3")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login?next=/console/audit")


def test_local_admin_sign_in_is_audited_and_a_wrong_password_refused(
    console_app: Callable[..., Flask],
) -> None:
    app = console_app()
    client = app.test_client()
    refused = sign_in(client, password="wrong")
    assert refused.status_code == 401
    assert "Wrong username or password" in refused.text
    signed_in = sign_in(client)
    assert signed_in.status_code == 302
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=", 1)[1].split(";", 1)[0])
    left = (expires - datetime.now(UTC)).total_seconds()
    assert 8 * 3600 - 120 < left <= 8 * 3600  # [console] session_minutes = 480
    assert client.get("/console/").status_code == 200
    assert _console_audit(app) == [("sign_in", "admin:admin")]


def test_no_local_admin_without_a_password_hash(make_db_app: Callable[..., Flask]) -> None:
    client = make_db_app().test_client()
    page = client.get("/console/login").text
    assert "Username" not in page and "No way to sign in is set up" in page


def test_the_password_hash_never_reaches_the_log(
    console_app: Callable[..., Flask], capsys: object
) -> None:
    from tests.console.conftest import PASSWORD_HASH

    app = console_app()
    sign_in(app.test_client(), password="wrong")
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert PASSWORD_HASH not in captured.out + captured.err


def test_a_session_expires(console_app: Callable[..., Flask]) -> None:
    app = console_app(console={"session_minutes": 0.01})  # 0.6 s
    client = app.test_client()
    sign_in(client)
    assert client.get("/console/").status_code == 200
    time.sleep(1.0)
    assert client.get("/console/").status_code == 302


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    console_app: Callable[..., Flask],
) -> None:
    app = console_app()
    client = app.test_client()
    sign_in(client)
    answer = client.post("/console/mappings/files/teams.toml", data={"text": "default_team = 'x'"})
    assert answer.status_code == 400 and "CSRF" in answer.text
    forged = client.post(
        "/console/mappings/files/teams.toml",
        data={"text": "default_team = 'x'", "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    assert [a for a, _ in _console_audit(app)] == ["sign_in"]


def test_the_webhook_endpoint_needs_no_csrf_token(console_app: Callable[..., Flask]) -> None:
    """CSRF is the console's: Zendesk's signed POSTs are judged by their signature (401)."""
    answer = console_app().test_client().post("/webhooks/zendesk", data=b"{}")
    assert answer.status_code != 400 or "CSRF" not in answer.text


def test_a_file_edit_shows_every_problem_and_saves_nothing(
    console_app: Callable[..., Flask],
) -> None:
    app = console_app()
    client = app.test_client()
    sign_in(client)
    page = client.get("/console/mappings/files/products.toml")
    text = page.text.split('name="text"', 1)[1].split(">", 1)[1].split("</textarea>")[0]
    assert "[[product]]" in text
    answer = client.post(
        "/console/mappings/files/products.toml",
        data={"csrf_token": csrf_token(page.text), "text": "[[product]]\nkey = 1\n"},
    )
    assert answer.status_code == 422
    assert "products.toml: product[0]" in answer.text
    assert [a for a, _ in _console_audit(app)] == ["sign_in"]


def test_audit_search_by_who_rule_ticket_and_date(console_app: Callable[..., Flask]) -> None:
    app = console_app()
    with store.session(app) as sess:
        store.record_audit(sess, ticket_id=7, rule="status_mapping", action="a", reason="r1")
        store.record_audit(
            sess, ticket_id=8, rule="auto_solve", action="solve", reason="r2", invocation_id="run-1"
        )
        audit_admin(sess, "ana", "inbox_retry", "requeued", ticket_id=8)
    client = app.test_client()
    sign_in(client)

    def reasons(query: str) -> set[str]:
        page = client.get("/console/audit?" + query).text
        return {r for r in ("r1", "r2", "requeued", "signed in") if f"<td>{r}" in page}

    assert reasons("who=cxlayer") == {"r1", "r2"}
    assert reasons("who=admin") == {"requeued", "signed in"}
    assert reasons("who=ana") == {"requeued"}
    assert reasons("ticket=8") == {"r2", "requeued"}
    assert reasons("rule=auto_solve") == {"r2"}
    assert reasons("from=2000-01-01&to=2000-01-02") == set()


def test_every_file_is_editable_as_fields_with_the_clis_message_beside_the_field(
    console_app: Callable[..., Flask], tmp_path: object
) -> None:
    import re

    from mappings import DEFAULT_DIR, MappingError, load_mapping_texts
    from mappings import read_mapping_texts as read

    app = console_app()
    client = app.test_client()
    sign_in(client)
    page = client.get("/console/mappings/edit/statuses.toml")
    assert 'name="f:status[0].category"' in page.text
    refused = client.post(
        "/console/mappings/edit/statuses.toml",
        data={"csrf_token": csrf_token(page.text), "f:status[0].category": "paused"},
    )
    assert refused.status_code == 422
    texts = read(DEFAULT_DIR)
    texts["statuses.toml"] = (texts["statuses.toml"] or "").replace(
        'category = "new"', 'category = "paused"', 1
    )
    try:
        load_mapping_texts(texts)
    except MappingError as exc:
        cli = [p.message for p in exc.problems if p.key_path == "status[0].category"]
    assert cli
    beside = re.search(r'id="f-status-0-category-error">([^<]*)<', refused.text)
    assert beside and beside.group(1) == cli[0].replace("'", "&#39;")
    assert [a for a, _ in _console_audit(app)] == ["sign_in"]

    page = client.get("/console/mappings/edit/resolution_types.toml")
    saved = client.post(
        "/console/mappings/edit/resolution_types.toml",
        data={
            "csrf_token": csrf_token(page.text),
            "f:group[0].type[0].definition": "A clearer definition.",
        },
    )
    assert saved.status_code == 303
    with app.app_context():
        from mappings import current_mappings

        assert current_mappings().groups[0].types[0].definition == "A clearer definition."
    with store.session(app, readonly=True) as sess:
        from console.models import MappingVersion

        diff = sess.scalars(select(MappingVersion.diff).order_by(MappingVersion.id.desc())).first()
    changed = [
        line
        for line in (diff or "").splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert len(changed) == 2, diff  # the definition only: booleans not on the form untouched
