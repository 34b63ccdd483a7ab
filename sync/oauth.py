"""Zendesk's OAuth 2.0 authorization code flow for "Sign in with Zendesk" (the console).

Zendesk documents it in "Using OAuth authentication with your application" (Zendesk help
4408845965210) and "OAuth Tokens for Grant Types" (developer.zendesk.com/api-reference/
ticketing/oauth/grant_type_tokens/): the browser goes to `/oauth/authorizations/new`, comes
back with `code`, which is exchanged at `POST /oauth/tokens`; `/api/v2/users/me` with the
token tells who signed in and their role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

TIMEOUT = (5.0, 15.0)  # connect, read (seconds)


class OAuthError(Exception):
    """The flow failed; the message is safe to show (never contains a token or secret)."""


@dataclass(frozen=True)
class ZendeskUser:
    id: int
    name: str
    email: str
    role: str  # end-user | agent | admin
    custom_role_id: int | None


def base_url(zendesk: Mapping[str, Any]) -> str:
    """`[zendesk] url` when set (the sandbox), else https://<subdomain>.zendesk.com."""
    url = str(zendesk.get("url") or "").rstrip("/")
    return url or f"https://{zendesk.get('subdomain', '')}.zendesk.com"


def authorization_url(
    base: str, *, client_id: str, redirect_uri: str, state: str, scope: str = "read"
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    return f"{base}/oauth/authorizations/new?{urlencode(query)}"


def exchange_code(
    base: str, *, code: str, client_id: str, client_secret: str, redirect_uri: str, scope: str
) -> str:
    """The access token for `code`; OAuthError when Zendesk refuses it."""
    try:
        answer = requests.post(
            f"{base}/oauth/tokens",
            json={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "scope": scope,
            },
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise OAuthError(f"Zendesk could not be reached ({type(exc).__name__})") from None
    if answer.status_code != 200:
        try:
            error = str(answer.json().get("error", ""))
        except ValueError:
            error = ""
        raise OAuthError(f"Zendesk refused the sign-in ({answer.status_code} {error})".strip())
    token = answer.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise OAuthError("Zendesk answered without an access token")
    return token


def user_for_token(base: str, token: str) -> ZendeskUser:
    """Who the token belongs to (`GET /api/v2/users/me`)."""
    try:
        answer = requests.get(
            f"{base}/api/v2/users/me.json",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise OAuthError(f"Zendesk could not be reached ({type(exc).__name__})") from None
    if answer.status_code != 200:
        raise OAuthError(f"Zendesk refused the token ({answer.status_code})")
    user = answer.json().get("user") or {}
    if not user.get("id"):
        raise OAuthError("Zendesk did not say who signed in")
    custom = user.get("custom_role_id")
    return ZendeskUser(
        id=int(user["id"]),
        name=str(user.get("name") or ""),
        email=str(user.get("email") or ""),
        role=str(user.get("role") or ""),
        custom_role_id=int(custom) if custom else None,
    )
