"""Who may use the console: "Sign in with Zendesk" (OAuth authorization code flow; Zendesk
admins, or the roles in `[console] allowed_roles`) and a break-glass local admin whose password
hash comes from CXLAYER_ADMIN_PASSWORD_HASH. Sessions expire after `[console] session_minutes`.
"""

from __future__ import annotations

import functools
import hmac
import math
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

import store
from console.models import SigninFailure
from console.versions import audit_admin
from logs import get_logger
from sync.oauth import OAuthError, authorization_url, base_url, exchange_code, user_for_token

log = get_logger("cxlayer.console")

SECRET_STATE_KEY = "console_secret_key"  # noqa: S105  the state key's name, not a secret
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCKOUT_MINUTES = 15
LOCKOUT_AUTHOR = "(local sign-in)"  # the audit's "who" of a lockout: no admin is signed in
F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def console_settings(app: Flask | None = None) -> dict[str, Any]:
    app = app or current_app
    return dict(app.config["CXLAYER"].get("console", {}))


def _secret_key(app: Flask) -> str:
    """CXLAYER_CONSOLE_SECRET_KEY, else one generated once and kept in the database, so every
    process and host signs sessions alike and a restart signs no one out."""
    configured = str(console_settings(app).get("secret_key") or "")
    if configured:
        return configured
    try:
        with store.session(app) as sess:
            value = store.get_state(sess, SECRET_STATE_KEY)
            if not value:
                value = secrets.token_hex(32)
                store.set_state(sess, SECRET_STATE_KEY, value)
            return str(value)
    except SQLAlchemyError:
        log.warning("console: database not migrated; sessions end when this process stops")
        return secrets.token_hex(32)


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing key found at first use."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            app.secret_key = _secret_key(app)
        return super().get_signing_serializer(app)


def current_admin() -> dict[str, Any] | None:
    """The signed-in admin ({name, via}) while the session is fresh, else None."""
    admin = session.get("admin")
    if not isinstance(admin, dict):
        return None
    lifetime = float(console_settings().get("session_minutes", 480)) * 60
    if time.time() - float(admin.get("since", 0)) > lifetime:
        session.pop("admin", None)
        return None
    return admin


def admin_name() -> str:
    admin = current_admin()
    return str(admin["name"]) if admin else "?"


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_admin() is None:
            return redirect(url_for("console.login", next=request.full_path))
        return view(*args, **kwargs)

    return cast(F, wrapped)


class LocalLoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _sign_in(name: str, via: str) -> None:
    session.clear()  # a new session id on sign-in: nothing carried over from before
    session.permanent = True
    session["admin"] = {"name": name, "via": via, "since": time.time()}
    with store.session() as sess:
        audit_admin(sess, name, "sign_in", f"signed in to the console ({via})")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.home")


def _limits(settings: dict[str, Any]) -> tuple[int, timedelta]:
    """([console] signin_max_failures, signin_lockout_minutes), checked: a clear ValueError."""
    failures = settings.get("signin_max_failures", DEFAULT_MAX_FAILURES)
    minutes = settings.get("signin_lockout_minutes", DEFAULT_LOCKOUT_MINUTES)
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
        raise ValueError(f"console.signin_max_failures must be a whole number >= 1: {failures!r}")
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
        raise ValueError(f"console.signin_lockout_minutes must be a positive number: {minutes!r}")
    return failures, timedelta(minutes=minutes)


def locked_until(sess: Session, username: str, address: str, settings: dict[str, Any]) -> Any:
    """When local sign-in opens again for this account name or address (None: open now).

    Locked while `signin_max_failures` failures of the name, or of the address, fall within
    the last `signin_lockout_minutes`; it opens that long after the oldest of them. Counted
    in the database, so every process and host enforces the same lockout.
    """
    limit, window = _limits(settings)
    since = store.utcnow() - window
    until = None
    for column, value in ((SigninFailure.username, username), (SigninFailure.address, address)):
        recent = list(
            sess.scalars(
                select(SigninFailure.failed_at)
                .where(column == value, SigninFailure.failed_at > since)
                .order_by(SigninFailure.failed_at.desc())
                .limit(limit)
            )
        )
        if len(recent) >= limit:
            opens = recent[-1] + window
            until = opens if until is None else max(until, opens)
    return until


def _record_failure(sess: Session, username: str, address: str, settings: dict[str, Any]) -> None:
    """Count a failed local sign-in; audit the lockout when this failure starts one."""
    limit, window = _limits(settings)
    sess.execute(delete(SigninFailure).where(SigninFailure.failed_at < store.utcnow() - window))
    sess.add(SigninFailure(username=username[:200], address=address[:100]))
    sess.flush()
    until = locked_until(sess, username, address, settings)
    if until is not None:
        audit_admin(
            sess,
            LOCKOUT_AUTHOR,
            "sign_in_lockout",
            f"local sign-in locked until {until:%H:%M} UTC after {limit} failed attempts in "
            f"{window.total_seconds() / 60:g} minutes (account {username[:100]!r}, "
            f"address {address})",
            after={"username": username[:200], "address": address, "until": until.isoformat()},
        )
        log.warning("console: local sign-in locked", username=username, address=address)


def _locked_message(until: Any) -> str:
    minutes = max(1, math.ceil((until - store.utcnow()).total_seconds() / 60))
    return (
        "Too many failed sign-ins for this account or from this address. Local sign-in is "
        f"locked; try again in {minutes} minute{'s' if minutes != 1 else ''} "
        "(Sign in with Zendesk still works)."
    )


def login() -> ResponseReturnValue:
    settings = console_settings()
    form = LocalLoginForm()
    local_enabled = bool(_password_hash())
    zendesk_enabled = bool(settings.get("oauth_client_id"))
    error = None
    status = 200
    if form.validate_on_submit():
        name = form.username.data or ""
        address = request.remote_addr or "unknown"
        with store.session() as sess:
            until = locked_until(sess, name, address, settings)
        if until is not None:
            # Refused before the password is checked: guessing on goes nowhere.
            log.warning("console: local sign-in refused (locked)", username=name, address=address)
            error, status = _locked_message(until), 429
        else:
            expected_user = str(settings.get("admin_username") or "admin")
            stored = _password_hash()
            good_user = hmac.compare_digest(name, expected_user)
            good_password = bool(stored) and check_password_hash(stored, form.password.data or "")
            if local_enabled and good_user and good_password:
                with store.session() as sess:
                    sess.execute(delete(SigninFailure).where(SigninFailure.username == name))
                _sign_in(expected_user, "local admin")
                return redirect(_safe_next(request.args.get("next")))
            log.warning("console: local sign-in refused", username=name, address=address)
            with store.session() as sess:
                _record_failure(sess, name, address, settings)
                until = locked_until(sess, name, address, settings)
            error, status = (
                (_locked_message(until), 429) if until else ("Wrong username or password.", 401)
            )
    return render_template(
        "console/login.html",
        form=form,
        error=error,
        local_enabled=local_enabled,
        zendesk_enabled=zendesk_enabled,
        next=request.args.get("next", ""),
    ), status


def _password_hash() -> str:
    return str(current_app.config["CXLAYER"].get("admin", {}).get("password_hash") or "")


def _redirect_uri() -> str:
    """On `[service] public_url` (what the Zendesk OAuth client lists as its redirect URL),
    not on whatever host a proxy forwarded."""
    public = str(current_app.config["CXLAYER"].get("service", {}).get("public_url") or "")
    path = url_for("console.oauth_callback")
    return (
        public.rstrip("/") + path if public else url_for("console.oauth_callback", _external=True)
    )


def oauth_start() -> ResponseReturnValue:
    settings = console_settings()
    client_id = str(settings.get("oauth_client_id") or "")
    if not client_id:
        flash("Sign in with Zendesk is not set up ([console] oauth_client_id).", "error")
        return redirect(url_for("console.login"))
    state = secrets.token_urlsafe(24)
    session["oauth_state"] = state
    session["oauth_next"] = _safe_next(request.args.get("next"))
    return redirect(
        authorization_url(
            base_url(current_app.config["CXLAYER"].get("zendesk", {})),
            client_id=client_id,
            redirect_uri=_redirect_uri(),
            state=state,
            scope=str(settings.get("oauth_scope") or "read"),
        )
    )


def _refuse(message: str) -> ResponseReturnValue:
    log.warning("console: Zendesk sign-in refused", reason=message)
    flash(message, "error")
    return redirect(url_for("console.login")), 303


def oauth_callback() -> ResponseReturnValue:
    settings = console_settings()
    expected = session.pop("oauth_state", None)
    state = request.args.get("state", "")
    if not expected or not hmac.compare_digest(str(expected), state):
        return _refuse("Sign-in expired or was not started here; try again.")
    if request.args.get("error"):
        return _refuse("Zendesk sign-in was cancelled.")
    code = request.args.get("code", "")
    zendesk = base_url(current_app.config["CXLAYER"].get("zendesk", {}))
    try:
        token = exchange_code(
            zendesk,
            code=code,
            client_id=str(settings.get("oauth_client_id") or ""),
            client_secret=str(settings.get("oauth_client_secret") or ""),
            redirect_uri=_redirect_uri(),
            scope=str(settings.get("oauth_scope") or "read"),
        )
        user = user_for_token(zendesk, token)
    except OAuthError as exc:
        return _refuse(str(exc))
    allowed = {str(r) for r in settings.get("allowed_roles") or ["admin"]}
    if user.role not in allowed and str(user.custom_role_id) not in allowed:
        return _refuse(
            f"{user.email or user.name} is a Zendesk {user.role}: only "
            f"{', '.join(sorted(allowed))} may use the console."
        )
    target = session.get("oauth_next")
    _sign_in(user.email or user.name, "Zendesk")
    return redirect(_safe_next(target))


def logout() -> ResponseReturnValue:
    name = admin_name()
    if current_admin() is not None:
        with store.session() as sess:
            audit_admin(sess, name, "sign_out", "signed out of the console")
    session.clear()
    return redirect(url_for("console.login"))
