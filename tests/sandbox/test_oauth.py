"""The sandbox's OAuth authorization code flow (sandbox/oauth.py), as Zendesk documents it, and
cxlayer's side of it (sync/oauth.py) against it over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from sandbox.testing import SandboxHandle
from sync.oauth import OAuthError, authorization_url, exchange_code, user_for_token

REDIRECT = "http://127.0.0.1:1/console/oauth/callback"


def _code(zd: SandboxHandle, email: str, decision: str = "allow") -> dict[str, str]:
    url = authorization_url(
        zd.base_url, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="s1", scope="read"
    )
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Allow" in page.text
    fields = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    answer = requests.post(
        url.split("?")[0],
        data={**fields, "email": email, "decision": decision},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _exchange(zd: SandboxHandle, code: str, secret: str = CLIENT_SECRET) -> str:
    return exchange_code(
        zd.base_url,
        code=code,
        client_id=CLIENT_ID,
        client_secret=secret,
        redirect_uri=REDIRECT,
        scope="read",
    )


def test_an_admin_signs_in_and_the_token_reads_users_me(zd: SandboxHandle) -> None:
    back = _code(zd, zd.email)
    assert back["state"] == "s1"
    token = _exchange(zd, back["code"])
    user = user_for_token(zd.base_url, token)
    assert (user.email, user.role) == (zd.email, "admin")


def test_an_end_users_token_is_theirs_with_their_role(zd: SandboxHandle) -> None:
    zd.api("POST", "users.json", json={"user": {"name": "Rita", "email": "rita@client.example"}})
    token = _exchange(zd, _code(zd, "rita@client.example")["code"])
    assert user_for_token(zd.base_url, token).role == "end-user"


def test_a_code_is_single_use_and_the_secret_is_checked(zd: SandboxHandle) -> None:
    code = _code(zd, zd.email)["code"]
    with pytest.raises(OAuthError, match="401"):
        _exchange(zd, code, secret="wrong")
    _exchange(zd, code)
    with pytest.raises(OAuthError, match="invalid_grant"):
        _exchange(zd, code)


def test_denying_redirects_with_access_denied(zd: SandboxHandle) -> None:
    back = _code(zd, zd.email, decision="deny")
    assert back["error"] == "access_denied" and back["state"] == "s1"


def test_a_made_up_token_is_refused(zd: SandboxHandle) -> None:
    with pytest.raises(OAuthError, match="401"):
        user_for_token(zd.base_url, "not-a-token")
