"""Zendesk apps in the sandbox: the Apps API (upload, build, install, public key) and the agent
ticket page that hosts an installed server-side app in its ticket sidebar.

What Zendesk does, and what this module does alike:

- "Creating and managing private apps with the Zendesk API": `POST /api/v2/apps/uploads`
  (multipart `uploaded_data`) answers an upload id; `POST /api/v2/apps` (or `PUT
  /api/v2/apps/{id}`) with it answers a `job_id`; `GET /api/v2/apps/job_statuses/{id}` says
  `completed` with the `app_id` (or `failed` with a message: the package is checked as the
  app build checks it: a zip with a manifest naming author, locations and framework version);
  `GET /api/v2/apps/owned` lists the account's apps; `/api/v2/apps/installations` installs
  one with its settings.
- Each app has its own RSA key pair; `GET /api/v2/apps/{id}/public_key.pem` serves the public
  half ("Building a server-side app, part 5").
- The agent's ticket page (`/agent/tickets/<id>`) loads every enabled installation with a
  `ticket_sidebar` location in an iframe. For `signedUrls: true` apps the iframe's first page
  is requested with a POST whose form field `token` is a JWT signed RS256 with the app's
  private key: `iss` the account's host, `aud` the installation's API URL, `sub` the agent's
  API URL, `iat`/`exp` (five minutes), `context` (product and location). The URL carries the
  `origin` and `app_guid` query parameters the ZAF SDK reads, and the page answers the SDK's
  postMessage protocol (handshake → `app.registered`; `get`, `invoke` of `resize` and
  `routeTo`; the `ticket.updated` and custom-field `changed` events).

The agent page is the sandbox's stand-in for Zendesk's agent interface: no API credentials
(`?as=<email>` picks the signed-in agent, by default the first agent), never rate-limited.
"""

from __future__ import annotations

import base64
import html
import io
import json
import secrets
import time
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, request

from sandbox import errors
from sandbox.account import SUBDOMAIN
from sandbox.core import Sandbox
from sandbox.store import iso

TOKEN_SECONDS = 300
REQUIRED_MANIFEST_KEYS = ("name", "author", "defaultLocale", "location", "frameworkVersion")
JsonResponse = Callable[..., Response]


def _new_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def build_problem(zipped: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The manifest of an uploaded package, or why the app build refuses it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zipped))
        manifest = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return None, f"Invalid app package: {exc}"
    missing = [k for k in REQUIRED_MANIFEST_KEYS if k not in manifest]
    if missing:
        return None, "Invalid manifest: missing " + ", ".join(missing)
    locale = manifest["defaultLocale"]
    if f"translations/{locale}.json" not in archive.namelist():
        return None, f"Missing translation file for locale {locale}"
    return manifest, None


def sign_app_token(app: dict[str, Any], installation_id: int, user_id: int) -> str:
    """The ZAF JWT Zendesk posts to a signed-URL app's first page."""
    now = int(time.time())
    host = f"{SUBDOMAIN}.zendesk.com"
    claims = {
        "iss": host,
        "aud": f"https://{host}/api/v2/apps/installations/{installation_id}.json",
        "sub": f"https://{host}/api/v2/users/{user_id}.json",
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "jti": secrets.token_hex(8),
        "context": {"product": "support", "location": "ticket_sidebar"},
    }
    return jwt.encode(claims, app["_private_key"], algorithm="RS256")


def _location_url(manifest: dict[str, Any], settings: dict[str, Any]) -> str | None:
    sidebar = ((manifest.get("location") or {}).get("support") or {}).get("ticket_sidebar")
    url = sidebar.get("url") if isinstance(sidebar, dict) else sidebar
    if not isinstance(url, str) or not url.startswith(("http", "{{")):
        return None
    for name, value in settings.items():
        url = url.replace("{{setting.%s}}" % name, str(value))  # noqa: UP031
    return url


def register(app: Flask, sb: Sandbox, json_response: JsonResponse) -> None:
    """The Apps API routes and the agent ticket page."""
    store = sb.store

    def present_app(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def get_app(app_id: int) -> dict[str, Any]:
        doc = store.get("app", app_id)
        if doc is None:
            raise errors.not_found()
        return doc

    def finish_job(build: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        upload = store.get("app_upload", (request.get_json(silent=True) or {}).get("upload_id"))
        job_id = secrets.token_hex(12)
        job: dict[str, Any] = {"id": job_id, "status": "completed", "message": None}
        if upload is None:
            job.update(status="failed", message="Upload not found")
        else:
            manifest, problem = build_problem(base64.b64decode(upload["data"]))
            if problem or manifest is None:
                job.update(status="failed", message=problem)
            else:
                doc = build(manifest)
                job.update(app_id=doc["id"])
        store.put("app_job", job)
        return json_response({"job_id": job_id}, 202)

    @app.post("/api/v2/apps/uploads")
    def upload_app() -> Response:
        data = request.files.get("uploaded_data")
        if data is None:
            raise errors.invalid("uploaded_data", "uploaded_data: a zip file is required")
        upload_id = store.next_id("app_upload")
        store.put("app_upload", {"id": upload_id, "data": base64.b64encode(data.read()).decode()})
        return json_response({"id": upload_id}, 201)

    @app.post("/api/v2/apps")
    def create_app() -> Response:
        body = request.get_json(silent=True) or {}

        def build(manifest: dict[str, Any]) -> dict[str, Any]:
            private, public = _new_key_pair()
            doc = {
                "id": store.next_id("app"),
                "name": body.get("name") or manifest["name"],
                "short_description": body.get("short_description", ""),
                "framework_version": manifest["frameworkVersion"],
                "created_at": iso(store.now()),
                "updated_at": iso(store.now()),
                "_manifest": manifest,
                "_private_key": private,
                "_public_key": public,
            }
            store.put("app", doc)
            return doc

        return finish_job(build)

    @app.put("/api/v2/apps/<int:app_id>")
    def update_app(app_id: int) -> Response:
        doc = get_app(app_id)

        def build(manifest: dict[str, Any]) -> dict[str, Any]:
            doc.update(_manifest=manifest, updated_at=iso(store.now()))
            store.put("app", doc)
            return doc

        return finish_job(build)

    @app.get("/api/v2/apps/job_statuses/<job_id>")
    def app_job(job_id: str) -> Response:
        job = store.get("app_job", job_id)
        if job is None:
            raise errors.not_found()
        return json_response(job)

    @app.get("/api/v2/apps/owned")
    def owned_apps() -> Response:
        return json_response({"apps": [present_app(a) for a in store.all("app")]})

    @app.get("/api/v2/apps/<int:app_id>/public_key.pem")
    def app_public_key(app_id: int) -> Response:
        return Response(get_app(app_id)["_public_key"], mimetype="application/x-pem-file")

    @app.get("/api/v2/apps/installations")
    def list_installations() -> Response:
        return json_response({"installations": store.all("app_installation")})

    @app.post("/api/v2/apps/installations")
    def create_installation() -> Response:
        body = request.get_json(silent=True) or {}
        app_doc = get_app(int(body.get("app_id") or 0))
        settings = dict(body.get("settings") or {})
        if not settings.get("name"):
            raise errors.invalid("settings", "settings.name: is required")
        doc = {
            "id": store.next_id("app_installation"),
            "app_id": app_doc["id"],
            "settings": settings,
            "enabled": bool(body.get("enabled", True)),
            "created_at": iso(store.now()),
            "updated_at": iso(store.now()),
        }
        store.put("app_installation", doc)
        return json_response(doc, 201)

    @app.put("/api/v2/apps/installations/<int:installation_id>")
    def update_installation(installation_id: int) -> Response:
        doc = store.get("app_installation", installation_id)
        if doc is None:
            raise errors.not_found()
        body = request.get_json(silent=True) or {}
        if "settings" in body:
            doc["settings"] = {**doc["settings"], **(body["settings"] or {})}
        if "enabled" in body:
            doc["enabled"] = bool(body["enabled"])
        doc["updated_at"] = iso(store.now())
        store.put("app_installation", doc)
        return json_response(doc)

    register_agent_page(app, sb, json_response)


# ------------------------------------------------------------------------ agent ticket page
def _agent(sb: Sandbox) -> dict[str, Any]:
    """The signed-in agent: `?as=<email>` (an agent or admin), else the first agent."""
    wanted = request.args.get("as", "").strip().lower()
    if wanted:
        found = sb.store.user_by_email(wanted)
        if found is None or found.get("role") not in ("agent", "admin"):
            raise errors.not_found()
        return found
    with sb.store.tx() as db:
        row = db.execute(
            "SELECT doc FROM users WHERE role = 'agent' ORDER BY id LIMIT 1"
        ).fetchone()
    return json.loads(row["doc"]) if row else sb.account.admin()


def _field_rows(sb: Sandbox, ticket: dict[str, Any]) -> list[dict[str, Any]]:
    values = ticket.get("_cf") or {}
    rows = []
    for spec in sb.account.ticket_fields():
        value = values.get(str(spec["id"]))
        options = spec.get("custom_field_options") or []
        shown = next((o["name"] for o in options if o.get("value") == value), value)
        rows.append(
            {
                "id": spec["id"],
                "title": spec.get("title"),
                "value": value,
                "shown": shown,
                "type": spec.get("type"),
                "options": options,
            }
        )
    return rows


def ticket_state(sb: Sandbox, ticket_id: int) -> dict[str, Any]:
    """What the agent page shows of a ticket (and polls to notice changes)."""
    ticket = sb.account.ticket(ticket_id)
    status = sb.store.get("custom_status", ticket.get("custom_status_id"))
    return {
        "id": ticket["id"],
        "subject": ticket.get("subject") or "",
        "status": ticket.get("status"),
        "custom_status": (status or {}).get("agent_label"),
        "updated_at": ticket.get("updated_at"),
        "tags": sorted(ticket.get("tags") or []),
        "fields": [
            {k: v for k, v in row.items() if k != "options"} for row in _field_rows(sb, ticket)
        ],
        "comments": [
            {
                "public": bool(c.get("public")),
                "body": c.get("body") or "",
                "author_id": c.get("author_id"),
            }
            for c in sb.store.comments(ticket_id)
        ],
    }


def _sidebar_frames(sb: Sandbox, agent: dict[str, Any], ticket_id: int) -> list[dict[str, Any]]:
    frames = []
    for installation in sb.store.all("app_installation"):
        app_doc = sb.store.get("app", installation["app_id"])
        if not installation.get("enabled") or app_doc is None:
            continue
        manifest = app_doc["_manifest"]
        url = _location_url(manifest, installation.get("settings") or {})
        if url is None:
            continue
        guid = f"app-{installation['id']}-ticket-{ticket_id}"
        query = urlencode({"origin": request.host_url.rstrip("/"), "app_guid": guid})
        frames.append(
            {
                "installation_id": installation["id"],
                "app_id": app_doc["id"],
                "name": installation["settings"].get("name") or app_doc["name"],
                "guid": guid,
                "url": f"{url}{'&' if '?' in url else '?'}{query}",
                "signed": bool(manifest.get("signedUrls")),
                "token": sign_app_token(app_doc, installation["id"], int(agent["id"]))
                if manifest.get("signedUrls")
                else "",
                "settings": installation.get("settings") or {},
            }
        )
    return frames


def register_agent_page(app: Flask, sb: Sandbox, json_response: JsonResponse) -> None:
    @app.get("/agent/tickets/<int:ticket_id>")
    def agent_ticket(ticket_id: int) -> Response:
        agent = _agent(sb)
        ticket = sb.account.ticket(ticket_id)
        frames = _sidebar_frames(sb, agent, ticket_id)
        fields = _field_rows(sb, ticket)
        return Response(
            _page(ticket_state(sb, ticket_id), fields, frames, agent), mimetype="text/html"
        )

    @app.get("/agent/tickets/<int:ticket_id>/state")
    def agent_ticket_state(ticket_id: int) -> Response:
        return json_response(ticket_state(sb, ticket_id))

    @app.post("/agent/tickets/<int:ticket_id>")
    def agent_submit(ticket_id: int) -> Response:
        """The agent's Submit: the draft fields and status, as that agent."""
        agent = _agent(sb)
        body = request.get_json(silent=True) or {}
        change = sb.account.update_ticket(ticket_id, body.get("ticket") or {}, int(agent["id"]))
        return json_response(
            {"ticket": {"id": change.after["id"], "updated_at": change.after["updated_at"]}}
        )


def _page(
    state: dict[str, Any],
    fields: list[dict[str, Any]],
    frames: list[dict[str, Any]],
    agent: dict[str, Any],
) -> str:
    esc = html.escape
    field_html = []
    for row in fields:
        if row["type"] == "tagger":
            options = "".join(
                f'<option value="{esc(str(o["value"]))}"{" selected" if o["value"] == row["value"] else ""}>'
                f"{esc(str(o['name']))}</option>"
                for o in row["options"]
            )
            control = (
                f'<select class="field" data-field-id="{row["id"]}" id="field-{row["id"]}">'
                f'<option value="">-</option>{options}</select>'
            )
        else:
            control = (
                f'<span class="value" id="field-{row["id"]}">{esc(str(row["shown"] or "-"))}</span>'
            )
        field_html.append(f"<label><span>{esc(str(row['title']))}</span>{control}</label>")
    frame_html = "".join(
        f'<section class="app"><h3>{esc(f["name"])}</h3>'
        f'<form method="post" action="{esc(f["url"])}" target="frame-{esc(f["guid"])}" class="signed-load">'
        f'<input type="hidden" name="token" value="{esc(f["token"])}"></form>'
        f'<iframe name="frame-{esc(f["guid"])}" id="frame-{esc(f["guid"])}" data-guid="{esc(f["guid"])}" '
        f'{"" if f["signed"] else "src=" + json.dumps(f["url"])} title="{esc(f["name"])}"></iframe></section>'
        for f in frames
    )
    boot = json.dumps(
        {
            "ticket": state,
            "frames": [
                {k: f[k] for k in ("guid", "app_id", "installation_id", "name", "settings")}
                for f in frames
            ],
            "agent": {"id": agent["id"], "name": agent.get("name"), "email": agent.get("email")},
        }
    ).replace("</", "<\\/")
    return _TEMPLATE.format(
        ticket_id=state["id"],
        subject=esc(state["subject"]),
        agent=esc(str(agent.get("name") or agent.get("email"))),
        fields="".join(field_html),
        frames=frame_html or "<p>No app installed in the ticket sidebar.</p>",
        boot=boot,
        script=_HOST_SCRIPT,
    )


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket #{ticket_id} – Zendesk sandbox</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0; display: flex; min-height: 100vh; }}
main {{ flex: 1; padding: 16px 24px; }} aside {{ width: 360px; border-left: 1px solid #ddd; background: #f8f9f9; }}
.fields label {{ display: flex; gap: 8px; margin: 4px 0; }} .fields label span:first-child {{ width: 160px; color: #555; }}
.tags span {{ background: #e9ebed; border-radius: 3px; padding: 1px 6px; margin-right: 4px; font-size: 12px; }}
.comment {{ border-top: 1px solid #eee; padding: 8px 0; white-space: pre-wrap; }} .comment.internal {{ background: #fff6e0; }}
iframe {{ width: 100%; border: 0; height: 200px; background: white; }} .app h3 {{ margin: 8px 12px; font-size: 13px; }}
</style></head>
<body><main>
<h1 id="ticket-title">#{ticket_id} <span id="ticket-subject">{subject}</span></h1>
<p>Signed in as {agent}. Status: <strong id="ticket-status"></strong></p>
<p class="tags" id="ticket-tags"></p>
<div class="fields">{fields}</div>
<p><button id="submit-ticket" type="button">Submit</button> <span id="submit-result"></span></p>
<h2>Conversation</h2><div id="conversation"></div>
</main>
<aside id="apps">{frames}</aside>
<script>window.SANDBOX_AGENT_PAGE = {boot};</script>
<script>{script}</script>
</body></html>
"""

# The host side of the ZAF SDK's postMessage protocol (zendesk_app_framework_sdk lib/client.js):
# messages are JSON strings; the app's handshake is answered with `zaf.app.registered`, its
# requests `{id, request, params}` with `{id, result}`, events go out as `zaf.<event>`.
_HOST_SCRIPT = r"""
(function () {
  var boot = window.SANDBOX_AGENT_PAGE, ticket = boot.ticket, subscribed = {}, draft = {};
  function frameFor(source) {
    var frames = document.querySelectorAll('iframe[data-guid]');
    for (var i = 0; i < frames.length; i++) if (frames[i].contentWindow === source) return frames[i];
    return null;
  }
  function send(frame, message) { frame.contentWindow.postMessage(JSON.stringify(message), '*'); }
  function fieldValue(id) {
    if (Object.prototype.hasOwnProperty.call(draft, id)) return draft[id];
    var f = ticket.fields.filter(function (x) { return String(x.id) === String(id); })[0];
    return f ? f.value : null;
  }
  function getPath(path) {
    if (path === 'ticket.id') return ticket.id;
    if (path === 'ticket.subject') return ticket.subject;
    if (path === 'ticket.status') return ticket.status;
    if (path === 'ticket.tags') return ticket.tags;
    if (path === 'currentUser') return boot.agent;
    var m = /^ticket\.customField:custom_field_(\d+)$/.exec(path);
    if (m) return fieldValue(m[1]);
    throw new Error('not supported by the sandbox');
  }
  function emit(name, data) {
    document.querySelectorAll('iframe[data-guid]').forEach(function (frame) {
      if (subscribed[frame.dataset.guid + ' ' + name]) send(frame, {key: 'zaf.' + name, message: data || {}});
    });
  }
  window.addEventListener('message', function (event) {
    var frame = frameFor(event.source), data;
    if (!frame) return;
    try { data = typeof event.data === 'string' ? JSON.parse(event.data) : event.data; } catch (e) { return; }
    var meta = boot.frames.filter(function (f) { return f.guid === frame.dataset.guid; })[0] || {};
    if (data.key === 'iframe.handshake') {
      send(frame, {key: 'zaf.app.registered', message: {
        context: {product: 'support', location: 'ticket_sidebar', instanceGuid: meta.guid, ticketId: ticket.id,
                  account: {subdomain: 'sandbox'}},
        metadata: {appId: meta.app_id, installationId: meta.installation_id, name: meta.name, settings: meta.settings}}});
      return;
    }
    if (typeof data.key === 'string' && data.key.indexOf('iframe.on:') === 0) {
      subscribed[frame.dataset.guid + ' ' + data.key.slice(10)] = true; return;
    }
    if (!data.id || !data.request) return;
    var result = {}, errors = {};
    if (data.request === 'get') {
      data.params.forEach(function (path) {
        try { result[path] = getPath(path); } catch (e) { errors[path] = {message: e.message, name: 'Error', path: path}; }
      });
      result.errors = errors;
    } else if (data.request === 'invoke') {
      Object.keys(data.params).forEach(function (name) {
        var args = data.params[name];
        if (name === 'resize') {
          var size = args[0] || {};
          if (size.height) frame.style.height = /^\d+$/.test(String(size.height)) ? size.height + 'px' : size.height;
        } else if (name === 'routeTo' && args[0] === 'ticket') {
          window.location.href = '/agent/tickets/' + encodeURIComponent(args[1]) + window.location.search;
        } else {
          errors[name] = {message: 'not supported by the sandbox', name: 'Error', path: name};
        }
      });
      result.errors = errors;
    }
    send(frame, {id: data.id, result: result});
  });
  function render() {
    document.getElementById('ticket-status').textContent = ticket.custom_status + ' (' + ticket.status + ')';
    document.getElementById('ticket-subject').textContent = ticket.subject;
    var tags = document.getElementById('ticket-tags'); tags.innerHTML = '';
    ticket.tags.forEach(function (t) { var s = document.createElement('span'); s.textContent = t; s.className = 'tag'; tags.appendChild(s); });
    ticket.fields.forEach(function (f) {
      var el = document.getElementById('field-' + f.id);
      if (!el) return;
      if (el.tagName === 'SELECT') { if (!Object.prototype.hasOwnProperty.call(draft, f.id)) el.value = f.value || ''; }
      else el.textContent = f.shown == null || f.shown === '' ? '-' : String(f.shown);
    });
    var conv = document.getElementById('conversation'); conv.innerHTML = '';
    ticket.comments.forEach(function (c) {
      var d = document.createElement('div'); d.className = 'comment' + (c.public ? '' : ' internal');
      d.textContent = (c.public ? '' : '[internal note] ') + c.body; conv.appendChild(d);
    });
  }
  document.querySelectorAll('select.field').forEach(function (select) {
    select.addEventListener('change', function () {
      draft[select.dataset.fieldId] = select.value || null;
      emit('ticket.custom_field_' + select.dataset.fieldId + '.changed', {});
    });
  });
  document.getElementById('submit-ticket').addEventListener('click', function () {
    var custom = Object.keys(draft).map(function (id) { return {id: Number(id), value: draft[id]}; });
    fetch(window.location.pathname + window.location.search, {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({ticket: {custom_fields: custom}})}).then(function (r) {
        document.getElementById('submit-result').textContent = r.ok ? 'Submitted' : 'Not submitted (' + r.status + ')';
        draft = {}; poll();
      });
  });
  function poll() {
    fetch(window.location.pathname + '/state').then(function (r) { return r.json(); }).then(function (state) {
      if (state.updated_at !== ticket.updated_at) { ticket = state; render(); emit('ticket.updated', {}); }
    }).catch(function () {});
  }
  render();
  document.querySelectorAll('form.signed-load').forEach(function (form) { form.submit(); });
  setInterval(poll, 1000);
})();
"""
