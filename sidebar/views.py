"""The sidebar's HTTP endpoints: thin; verification in `sidebar.auth`, I/O in `sidebar.data`.

- `POST /sidebar/` — Zendesk's signed first load (form field `token`): 401 and nothing else
  unless the JWT is valid and names an agent of this account; otherwise the page, carrying a
  session token bound to the agent.
- `GET /sidebar/api/tickets/<id>` — the panel (JSON) with an `action_token` bound to the
  agent and this ticket.
- `POST /sidebar/api/tickets/<id>/auto-solve` `{"paused": true|false}` and
  `POST /sidebar/api/tickets/<id>/not-a-duplicate` `{"candidate_id": N}` — the buttons, with
  the ticket's action token; they answer the refreshed panel.
- `POST /sidebar/api/tickets/<id>/merge` `{"candidate_id": N, "confirmed": true}` — Zendesk's
  merge into a shown candidate, where `[sidebar] merge = true` (409 with the reason otherwise);
- `POST /sidebar/api/tickets/<id>/undo` `{"kind": ..., "run_id"?}` — Undo on a history line.
- `GET /sidebar/zaf_sdk.js` — the pinned ZAF SDK.

Every answer carries `Server-Timing: app;dur=<ms>` (the server time the bench measures).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, render_template, request

from logs import get_logger
from sidebar import data
from sidebar.assets import zaf_sdk_bundle
from sidebar.auth import Session, Sessions, Unauthorized, verify_app_token
from sync import ZendeskError
from sync.state import PROVISIONED, DbStateStore
from triggers import sidebar as words
from triggers.model import FIELD_RESOLUTION_TYPE

SESSIONS_EXTENSION = "cxlayer.sidebar_sessions"
log = get_logger("cxlayer.sidebar")
bp = Blueprint(
    "sidebar",
    __name__,
    url_prefix="/sidebar",
    static_folder="static",
    template_folder="templates",
)


def init_views(app: Flask) -> None:
    section = app.config["CXLAYER"].get("sidebar", {})
    app.extensions[SESSIONS_EXTENSION] = Sessions(
        str(section.get("secret", "")), int(section.get("session_minutes", 15)) * 60
    )
    app.register_blueprint(bp)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _sessions() -> Sessions:
    sessions: Sessions = current_app.extensions[SESSIONS_EXTENSION]
    return sessions


def _subdomain() -> str:
    return str(current_app.config["CXLAYER"]["zendesk"]["subdomain"])


def _unauthorized() -> Response:
    return Response("Unauthorized\n", status=401, mimetype="text/plain")


@bp.before_request
def _start_clock() -> None:
    g.sidebar_started = time.perf_counter()


@bp.after_request
def _timing(response: Response) -> Response:
    started = g.get("sidebar_started")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(Unauthorized)
def _refused(exc: Unauthorized) -> Response:
    log.info("sidebar request refused", reason=str(exc), path=request.path)
    return _unauthorized()


@bp.errorhandler(ZendeskError)
def _zendesk_failed(exc: ZendeskError) -> tuple[Response, int]:
    log.warning("sidebar could not reach Zendesk", error=str(exc))
    return jsonify(error="Zendesk did not answer; try again in a moment."), 502


def _frame_ancestors() -> str:
    zendesk = current_app.config["CXLAYER"]["zendesk"]
    origins = [f"https://{zendesk['subdomain']}.zendesk.com"]
    if zendesk.get("url"):
        origins.append(str(zendesk["url"]).rstrip("/"))
    return " ".join(origins)


@bp.route("/", methods=["GET", "POST"])
def first_page() -> Response:
    """Zendesk's signed load of the sidebar (a GET carries no token: 401)."""
    installed = data.installation(_app())
    if installed is None:
        raise Unauthorized(
            "the sidebar app is not installed (run `flask --app app sidebar install`)"
        )
    identity = verify_app_token(
        request.form.get("token", ""),
        public_key_pem=installed.public_key,
        subdomain=_subdomain(),
        installation_id=installed.installation_id,
    )
    user = data.agent_user(_app(), identity.user_id, keep_seconds=_sessions().max_age_seconds)
    if user is None:
        raise Unauthorized(f"user {identity.user_id} is not an agent")
    session = Session(identity.user_id, str(user.get("name") or ""), identity.account)
    fields = (DbStateStore(_app()).get(PROVISIONED) or {}).get("fields") or {}
    page = render_template(
        "sidebar.html",
        boot={
            "session": _sessions().issue(session),
            "base": request.script_root + bp.url_prefix,  # type: ignore[operator]
            "agent": session.agent_name,
            "resolution_field_id": fields.get(FIELD_RESOLUTION_TYPE),
        },
    )
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = f"frame-ancestors {_frame_ancestors()}"
    return response


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else ""


def _panel(ticket_id: int, session: Session) -> Response:
    panel: dict[str, Any] = data.load_panel(_app(), ticket_id)
    panel["action_token"] = _sessions().issue(replace(session, ticket_id=ticket_id))
    return jsonify(panel)


@bp.get("/api/tickets/<int:ticket_id>")
def ticket_panel(ticket_id: int) -> Response:
    session = _sessions().read(_bearer(), account=_subdomain())
    return _panel(ticket_id, session)


@bp.post("/api/tickets/<int:ticket_id>/auto-solve")
def auto_solve(ticket_id: int) -> Response | tuple[Response, int]:
    session = _sessions().read(_bearer(), account=_subdomain(), ticket_id=ticket_id)
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("paused"), bool):
        return jsonify(error='send {"paused": true} or {"paused": false}'), 400
    config = data.autosolve_config(_app())
    if not config.exempt_tags:
        return jsonify(error="auto-solve has no exempt tag configured ([sweep] exempt_tags)"), 409
    decide = words.pause_decision if body["paused"] else words.resume_decision
    agent = session.agent_name or f"agent {session.agent_id}"
    data.apply_button(
        _app(), ticket_id, lambda snap: decide(snap, config, agent), agent_id=session.agent_id
    )
    return _panel(ticket_id, replace(session, ticket_id=None))


@bp.post("/api/tickets/<int:ticket_id>/not-a-duplicate")
def not_a_duplicate(ticket_id: int) -> Response | tuple[Response, int]:
    session = _sessions().read(_bearer(), account=_subdomain(), ticket_id=ticket_id)
    body = request.get_json(silent=True) or {}
    candidate = _candidate(body, ticket_id)
    if candidate is None:
        return jsonify(error='send {"candidate_id": <another ticket number>}'), 400
    agent = session.agent_name or f"agent {session.agent_id}"
    data.mark_not_duplicate(_app(), ticket_id, candidate, agent_id=session.agent_id, agent=agent)
    return _panel(ticket_id, replace(session, ticket_id=None))


@bp.errorhandler(data.Refused)
def _refused_button(exc: data.Refused) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 409


def _candidate(body: dict[str, Any], ticket_id: int) -> int | None:
    candidate = body.get("candidate_id")
    if isinstance(candidate, bool) or not isinstance(candidate, int) or candidate == ticket_id:
        return None
    return candidate


@bp.post("/api/tickets/<int:ticket_id>/merge")
def merge(ticket_id: int) -> Response | tuple[Response, int]:
    """Merge into a candidate (only where [sidebar] merge is on; the page confirms first)."""
    session = _sessions().read(_bearer(), account=_subdomain(), ticket_id=ticket_id)
    body = request.get_json(silent=True) or {}
    candidate = _candidate(body, ticket_id)
    if candidate is None or body.get("confirmed") is not True:
        return jsonify(
            error='send {"candidate_id": <another ticket number>, "confirmed": true}'
        ), 400
    agent = session.agent_name or f"agent {session.agent_id}"
    data.merge_into(_app(), ticket_id, candidate, agent_id=session.agent_id, agent=agent)
    panel = _panel(ticket_id, replace(session, ticket_id=None)).get_json()
    return jsonify({**panel, "merged_into": candidate})


@bp.post("/api/tickets/<int:ticket_id>/undo")
def undo(ticket_id: int) -> Response | tuple[Response, int]:
    """Undo a history line: `{"kind": "pause"|"resume"|"soft_merge"|"auto_solve"}` (and the
    `run_id` the panel offered for an auto-solve)."""
    session = _sessions().read(_bearer(), account=_subdomain(), ticket_id=ticket_id)
    body = request.get_json(silent=True) or {}
    kind, run_id = body.get("kind"), body.get("run_id")
    if kind not in words.UNDO_LABELS or (run_id is not None and not isinstance(run_id, str)):
        return jsonify(error=f'send {{"kind": one of {sorted(words.UNDO_LABELS)}}}'), 400
    agent = session.agent_name or f"agent {session.agent_id}"
    data.undo(_app(), ticket_id, kind, agent_id=session.agent_id, agent=agent, run_id=run_id)
    return _panel(ticket_id, replace(session, ticket_id=None))


@bp.get("/zaf_sdk.js")
def zaf_sdk() -> Response:
    return Response(zaf_sdk_bundle(), mimetype="text/javascript")
