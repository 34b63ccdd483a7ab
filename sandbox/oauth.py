"""Zendesk's OAuth 2.0 authorization code flow, so "Sign in with Zendesk" runs end to end locally.

As Zendesk documents it ("Using OAuth authentication with your application", Zendesk help
4408845965210; "OAuth Tokens for Grant Types", developer.zendesk.com/api-reference/ticketing/
oauth/grant_type_tokens/):

- `GET /oauth/authorizations/new?response_type=code&client_id=&redirect_uri=&scope=&state=`
  shows the sign-in and consent page; allowing redirects to `redirect_uri?code=…&state=…`,
  denying to `redirect_uri?error=access_denied&error_description=…&state=…`.
- `POST /oauth/tokens` (JSON or form) with `grant_type=authorization_code`, `code`,
  `client_id`, `client_secret`, `redirect_uri`, `scope` answers
  `{"access_token", "token_type": "bearer", "scope"}`; a code is single-use and expires after
  120 seconds; a wrong client, secret, redirect URI or code answers 401/400 with
  `{"error": "invalid_grant" | "invalid_client", "error_description"}`.
- The token authenticates `Authorization: Bearer` API requests as the user who allowed it
  (with that user's role: an end user's token reads `/api/v2/users/me` with role end-user).

The sandbox has no passwords: its sign-in page asks only for the user's email (any user of the
account), which stands in for Zendesk's login.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request

from sandbox.core import Sandbox

CLIENT_ID = "cxlayer_console"
CLIENT_SECRET = "sandbox-oauth-client-secret"
CODE_SECONDS = 120.0


class OAuthGrants:
    """Issued codes and tokens (in memory: a restarted sandbox forgets its sessions)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[str, tuple[int, str, str, float]] = {}  # code -> user, redirect, scope, t
        self.tokens: dict[str, int] = {}  # access token -> user id

    def user_id(self, token: str) -> int | None:
        with self.lock:
            return self.tokens.get(token)


def _page(body: str, status: int = 200) -> Response:
    doc = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Sign in to Zendesk (sandbox)</title></head><body>"
        f"<main>{body}</main></body></html>"
    )
    return Response(doc, status=status, mimetype="text/html")


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _oauth_error(error: str, description: str, status: int) -> Response:
    return _json({"error": error, "error_description": description}, status)


def register_oauth(app: Flask, sb: Sandbox, grants: OAuthGrants) -> None:
    @app.route("/oauth/authorizations/new", methods=["GET", "POST"])
    def authorize() -> Response:
        args = request.values
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri", "")
        state = args.get("state", "")
        scope = args.get("scope", "read")
        if args.get("response_type") != "code" or client_id != CLIENT_ID or not redirect_uri:
            return _page("<h1>Invalid authorization request</h1>", 400)
        if request.method == "GET":
            hidden = "".join(
                f"<input type='hidden' name='{k}' value='{html.escape(v, quote=True)}'>"
                for k, v in (
                    ("response_type", "code"),
                    ("client_id", client_id),
                    ("redirect_uri", redirect_uri),
                    ("state", state),
                    ("scope", scope),
                )
            )
            return _page(
                "<h1>Sign in to Zendesk (sandbox)</h1>"
                f"<p>{html.escape(client_id)} wants to access your account ({html.escape(scope)}).</p>"
                f"<form method='post'>{hidden}"
                "<label for='email'>Email</label> <input id='email' name='email' type='email' required>"
                " <button name='decision' value='allow' type='submit'>Allow</button>"
                " <button name='decision' value='deny' type='submit'>Deny</button></form>"
            )
        if request.form.get("decision") != "allow":
            query = {
                "error": "access_denied",
                "error_description": "The end-user or authorization server denied the request.",
                "state": state,
            }
            return redirect(f"{redirect_uri}?{urlencode(query)}")  # type: ignore[return-value]
        user = sb.store.user_by_email(request.form.get("email", ""))
        if user is None:
            return _page("<h1>Invalid email or password</h1>", 401)
        code = secrets.token_urlsafe(24)
        with grants.lock:
            grants.codes[code] = (int(user["id"]), redirect_uri, scope, time.monotonic())
        return redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")  # type: ignore[return-value]

    @app.post("/oauth/tokens")
    def tokens() -> Response:
        data: dict[str, Any] = request.get_json(silent=True) or request.form.to_dict()
        if data.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "Only authorization_code here.", 400)
        if data.get("client_id") != CLIENT_ID or data.get("client_secret") != CLIENT_SECRET:
            return _oauth_error("invalid_client", "Client authentication failed.", 401)
        with grants.lock:
            grant = grants.codes.pop(str(data.get("code", "")), None)
        if grant is None or time.monotonic() - grant[3] > CODE_SECONDS:
            return _oauth_error(
                "invalid_grant", "The provided authorization grant is invalid.", 400
            )
        user_id, redirect_uri, scope, _issued = grant
        if data.get("redirect_uri") != redirect_uri:
            return _oauth_error("invalid_grant", "The redirect URI does not match.", 400)
        token = secrets.token_hex(32)
        with grants.lock:
            grants.tokens[token] = user_id
        return _json({"access_token": token, "token_type": "bearer", "scope": scope})
