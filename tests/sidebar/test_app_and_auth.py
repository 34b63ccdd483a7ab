"""The sidebar app package, its installation through the Apps API, and who may load it."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from sidebar.cli import install
from sidebar.package import build_package, manifest, package_problems, png_size

from .conftest import SidebarDesk

pytestmark = pytest.mark.integration


# --- the package ---------------------------------------------------------------------------
def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _files() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(build_package())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_package_meets_zendesks_documented_requirements() -> None:
    files = _files()
    assert set(files) == {
        "manifest.json",
        "translations/en.json",
        "assets/logo.png",
        "assets/logo-small.png",
    }
    data = json.loads(files["manifest.json"])
    assert data["frameworkVersion"] == "2.0"
    assert data["signedUrls"] is True
    assert (
        data["location"]["support"]["ticket_sidebar"]["url"] == "{{setting.service_url}}/sidebar/"
    )
    assert png_size(files["assets/logo.png"]) == (320, 320)
    assert png_size(files["assets/logo-small.png"]) == (128, 128)
    assert package_problems(build_package()) == []
    assert build_package() == build_package()  # deterministic: an unchanged app is recognised


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda f: f.pop("assets/logo.png"), "assets/logo.png missing"),
        (lambda f: f.update({"assets/logo-small.png": f["assets/logo.png"]}), "128x128"),
        (lambda f: f.pop("translations/en.json"), "translations/en.json missing"),
        (
            lambda f: f.update(
                {"manifest.json": json.dumps({**manifest(), "signedUrls": False}).encode()}
            ),
            "signedUrls must be true",
        ),
        (
            lambda f: f.update(
                {"manifest.json": json.dumps({**manifest(), "frameworkVersion": "1.0"}).encode()}
            ),
            "frameworkVersion",
        ),
    ],
)
def test_a_package_zendesk_would_refuse_is_named(change, problem: str) -> None:  # type: ignore[no-untyped-def]
    files = _files()
    change(files)
    assert any(problem in p for p in package_problems(_zip(files))), package_problems(_zip(files))


def test_the_package_command_writes_the_zip(app: Flask, tmp_path: Path) -> None:
    output = tmp_path / "app.zip"
    result = app.test_cli_runner().invoke(args=["sidebar", "package", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes() == build_package()


# --- installation ---------------------------------------------------------------------------
def test_install_is_idempotent_and_records_the_public_key(sidebar_desk: SidebarDesk) -> None:
    desk = sidebar_desk
    recorded = desk.recorded
    assert recorded["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    installations = desk.zd.api("GET", "apps/installations.json").json()["installations"]
    assert [i["settings"]["service_url"] for i in installations] == [desk.service_url]
    desk.zd.reset_stats()
    report = install(desk.app)
    assert report.changes == []
    writes = [k for k in desk.zd.stats()["endpoints"] if not k.startswith("GET ")]
    assert writes == []
    assert report.installation_id == recorded["installation_id"]


def test_apply_with_sidebar_installs_it_through_the_cli(sidebar_desk: SidebarDesk) -> None:
    result = sidebar_desk.app.test_cli_runner().invoke(args=["zendesk", "apply", "--with-sidebar"])
    assert result.exit_code == 0, result.output
    assert "no changes" in result.output  # already installed by the fixture
    assert len(sidebar_desk.zd.api("GET", "apps/owned.json").json()["apps"]) == 1


# --- who may load it -------------------------------------------------------------------------
def test_zendesks_signed_load_opens_the_sidebar_for_an_agent(sidebar_desk: SidebarDesk) -> None:
    response = sidebar_desk.load_sidebar(sidebar_desk.signed_token(sidebar_desk.agent.id))
    assert response.status_code == 200, response.text
    assert "Status the requester sees" in response.text
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


def _other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    "forge",
    [
        "forged",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "user_of_another_account",
        "no_user",
        "unsigned",
        "end_user",
        "no_token",
        "garbage",
    ],
)
def test_anything_but_a_valid_agent_token_gets_401_and_nothing_else(
    sidebar_desk: SidebarDesk, forge: str
) -> None:
    desk = sidebar_desk
    now = int(time.time())
    tokens = {
        "forged": lambda: desk.token_with(key=_other_key()),
        "expired": lambda: desk.token_with(iat=now - 900, exp=now - 600),
        "wrong_audience": lambda: desk.token_with(
            aud="https://sandbox.zendesk.com/api/v2/apps/installations/999999.json"
        ),
        "wrong_issuer": lambda: desk.token_with(iss="other.zendesk.com"),
        "user_of_another_account": lambda: desk.token_with(
            sub=f"https://other.zendesk.com/api/v2/users/{desk.agent.id}.json"
        ),
        "no_user": lambda: desk.token_with(sub="https://sandbox.zendesk.com/api/v2/users/me"),
        "unsigned": lambda: jwt.encode(
            jwt.decode(desk.token_with(), options={"verify_signature": False}),
            key=None,
            algorithm="none",
        ),
        "end_user": lambda: desk.signed_token(desk.end_user.id),
        "no_token": lambda: "",
        "garbage": lambda: "not.a.jwt",
    }
    response = desk.load_sidebar(tokens[forge]())
    assert response.status_code == 401
    assert response.text == "Unauthorized\n"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "claims",
    [
        {},  # as the sandbox's agent page signs it (sandbox/README.md, "Signed app loads")
        {"iss": "https://{host}"},  # the account's host with its scheme: the same account
        {"sub": "{agent}"},  # the user as a bare id
    ],
)
def test_the_claims_zendesk_writes_open_the_sidebar(
    sidebar_desk: SidebarDesk, claims: dict[str, str]
) -> None:
    desk = sidebar_desk
    host = f"{desk.zd.subdomain}.zendesk.com"
    filled = {k: v.format(host=host, agent=desk.agent.id) for k, v in claims.items()}
    response = desk.load_sidebar(desk.token_with(**filled))
    assert response.status_code == 200, response.text
    assert "Alex Agent" in response.text


def test_api_calls_need_the_session_and_writes_need_the_tickets_token(
    sidebar_desk: SidebarDesk,
) -> None:
    desk = sidebar_desk
    ticket = desk.awaiting_ticket()
    other = desk.awaiting_ticket()
    page = desk.load_sidebar(desk.signed_token(desk.agent.id)).text
    session = json.loads(
        page.split('<script id="boot" type="application/json">')[1].split("</script>")[0]
    )["session"]
    api = f"{desk.service_url}/sidebar/api/tickets"
    assert desk.http.get(f"{api}/{ticket}", timeout=30).status_code == 401
    assert (
        desk.http.get(
            f"{api}/{ticket}", headers={"Authorization": "Bearer forged"}, timeout=30
        ).status_code
        == 401
    )
    panel = desk.http.get(
        f"{api}/{ticket}", headers={"Authorization": f"Bearer {session}"}, timeout=30
    )
    assert panel.status_code == 200, panel.text
    assert "Server-Timing" in panel.headers
    action = panel.json()["action_token"]
    # The agent session alone cannot write; the ticket's token cannot write to another ticket.
    for token, target in ((session, ticket), (action, other)):
        refused = desk.http.post(
            f"{api}/{target}/auto-solve",
            json={"paused": True},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert refused.status_code == 401
    assert "no_autosolve" not in desk.ticket(other)["tags"]
    assert "no_autosolve" not in desk.ticket(ticket)["tags"]
