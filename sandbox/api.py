"""The HTTP layer: Zendesk's /api/v2 routes, auth, rate limits, faults, and /sandbox/ controls."""

from __future__ import annotations

import base64
import json
import socket
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox import apps, errors, search
from sandbox.account import ADMIN_EMAIL, API_TOKEN, OAUTH_TOKEN, Change
from sandbox.core import Sandbox
from sandbox.errors import ApiError
from sandbox.jobs import failure, present_job
from sandbox.oauth import OAuthGrants, register_oauth
from sandbox.rules import new_webhook, present_webhook, validate_trigger
from sandbox.search import int_arg
from sandbox.seed import seed_account
from sandbox.store import iso

MAX_BATCH = 100
FAULT_ERRORS = {
    429: "APIRateLimitExceeded",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
MAX_PER_PAGE = 100


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":")),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def base_url() -> str:
    """Absolute links on the address the client used (behind a proxy: its forwarded scheme)."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    return f"{scheme}://{request.host}"


def body(key: str, kind: type = dict) -> Any:
    """The wrapped object of a Zendesk request body, e.g. {"ticket": {...}} → {...}."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get(key), kind):
        shape = "an object" if kind is dict else "a list"
        raise errors.bad_request(f"Request body must be a JSON object whose '{key}' is {shape}")
    return data[key]


def ids_arg() -> list[str]:
    raw = request.args.get("ids", "")
    ids = [x.strip() for x in raw.split(",") if x.strip()]
    if not all(x.isdigit() or len(x) == 32 for x in ids):  # ticket/user ids, or job ids
        raise errors.bad_request("ids must be a comma-separated list of ids")
    return ids


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode()[1:])
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request("Invalid cursor") from None


def paginate(
    key: str,
    fetch: Callable[[int, int], list[Any]],
    total: Callable[[], int],
    present: Callable[[Any], Any],
    cursor: bool = False,
) -> Response:
    """Cursor pagination (`page[size]`, `page[after]`) or offset pagination (`page`, `per_page`),
    with absolute links on the sandbox's own address, as Zendesk's list endpoints do."""
    args = request.args
    url = base_url() + request.path + ".json"
    if cursor or "page[size]" in args or "page[after]" in args or "page[before]" in args:
        size = max(1, min(int_arg("page[size]", MAX_PER_PAGE), MAX_PER_PAGE))
        offset = 0
        if args.get("page[after]"):
            offset = _decode_cursor(args["page[after]"])
        elif args.get("page[before]"):
            offset = max(0, _decode_cursor(args["page[before]"]) - size)
        items = fetch(offset, size + 1)
        has_more = len(items) > size
        items = items[:size]
        after = _encode_cursor(offset + len(items)) if items else None
        before = _encode_cursor(offset) if items else None
        return json_response(
            {
                key: [present(i) for i in items],
                "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
                "links": {
                    "next": f"{url}?page%5Bsize%5D={size}&page%5Bafter%5D={after}"
                    if has_more
                    else None,
                    "prev": f"{url}?page%5Bsize%5D={size}&page%5Bbefore%5D={before}"
                    if offset
                    else None,
                },
            }
        )
    per_page = max(1, min(int_arg("per_page", MAX_PER_PAGE), MAX_PER_PAGE))
    page = max(1, int_arg("page", 1))
    count = total()
    items = fetch((page - 1) * per_page, per_page)
    extra = "".join(f"&{k}={v}" for k, v in args.items() if k not in ("page", "per_page"))
    return json_response(
        {
            key: [present(i) for i in items],
            "count": count,
            "next_page": f"{url}?page={page + 1}&per_page={per_page}{extra}"
            if page * per_page < count
            else None,
            "previous_page": f"{url}?page={page - 1}&per_page={per_page}{extra}"
            if page > 1
            else None,
        }
    )


def paginate_list(
    key: str, items: list[Any], present: Callable[[Any], Any], cursor: bool = False
) -> Response:
    return paginate(key, lambda o, n: items[o : o + n], lambda: len(items), present, cursor)


def _authenticate(sb: Sandbox, grants: OAuthGrants | None = None) -> dict[str, Any] | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
        granted = grants.user_id(token) if grants is not None else None
        if granted is not None:  # a token of the authorization code flow: that user, that role
            return sb.store.get_user(granted)
        if token != OAUTH_TOKEN:
            return None
        # Zendesk lets an OAuth client act as another user (tests use it to speak as a requester).
        behalf = request.headers.get("X-On-Behalf-Of")
        if behalf:
            return sb.store.user_by_email(behalf)
        return sb.account.admin()
    if header.startswith("Basic "):
        try:
            user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        email, _, kind = user.partition("/")
        if kind == "token" and secret == API_TOKEN:
            return sb.store.user_by_email(email) if email.lower() == ADMIN_EMAIL else None
    return None


class StripJsonSuffix:
    """zenpy calls `/api/v2/tickets/1.json`; Zendesk answers both spellings."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.endswith(".json"):
            environ["PATH_INFO"] = path[:-5]
        return self.app(environ, start_response)


def create_app(sb: Sandbox) -> Flask:
    app = Flask("sandbox")
    app.config["JSON_SORT_KEYS"] = False
    app.wsgi_app = StripJsonSuffix(app.wsgi_app)  # type: ignore[method-assign]
    account = sb.account
    store = sb.store
    grants = OAuthGrants()
    register_oauth(app, sb, grants)

    def endpoint_name() -> str:
        rule = request.url_rule.rule if request.url_rule else "<unmatched>"
        return f"{request.method} {rule}"

    @app.before_request
    def gatekeeper() -> Response | None:
        if request.path.startswith(("/sandbox/", "/oauth/", "/agent/")):
            return None  # controls, OAuth, and the agent interface (sandbox/apps.py): no API auth
        g.counted = endpoint_name()
        faults = sb.faults
        if faults.applies(request.path, request.method):
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            if faults.drop_rate and faults.rng.random() < faults.drop_rate:
                # Read the whole request first: the drop then always looks like "sent, but no
                # answer" to the client, never a failed send (which depends on timing).
                request.get_data()
                sock = request.environ.get("werkzeug.socket")
                if isinstance(sock, socket.socket):
                    # Closing without an answer is what a dropped connection looks like
                    # to the client; werkzeug treats the failed write as a dropped client.
                    sock.shutdown(socket.SHUT_RDWR)
                return Response(b"", status=500)
            if faults.take_error():
                return json_response(
                    {
                        "error": FAULT_ERRORS.get(faults.status, "Error"),
                        "description": "Injected fault",
                    },
                    faults.status,
                    {"Retry-After": "1"} if faults.status in (429, 503) else None,
                )
        user = _authenticate(sb, grants)
        if user is None:
            return json_response(errors.UNAUTHORIZED, 401)
        sb.run_automations()
        g.user = user
        allowed, remaining, reset = sb.limiter.hit()
        g.rate = (remaining, reset)
        if not allowed:
            return json_response(
                {"error": "APIRateLimitExceeded", "description": errors.RATE_LIMITED_DESCRIPTION},
                429,
                {"Retry-After": str(reset)},
            )
        return None

    @app.after_request
    def account_for(response: Response) -> Response:
        counted = g.get("counted")
        if counted:
            sb.stats.count(counted, response.status_code)
            remaining, reset = g.get("rate", (0, 60))
            response.headers["X-Rate-Limit"] = str(sb.limiter.rpm)
            response.headers["X-Rate-Limit-Remaining"] = str(remaining)
            response.headers["ratelimit-limit"] = str(sb.limiter.rpm)
            response.headers["ratelimit-remaining"] = str(remaining)
            response.headers["ratelimit-reset"] = str(reset)
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return json_response(exc.body(), exc.status, exc.headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        # Input of a shape no check anticipated: the transaction was rolled back, so nothing is
        # half-done; the traceback goes to stderr so a sandbox bug is still visible.
        traceback.print_exception(exc)
        if isinstance(exc, (TypeError, ValueError, KeyError, AttributeError)):
            return json_response(
                {"error": "InvalidValue", "description": f"Invalid request: {exc!r}"}, 400
            )
        return json_response({"error": "InternalError", "description": repr(exc)}, 500)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 404:
            return json_response({"error": "InvalidEndpoint", "description": "Not found"}, 404)
        return json_response({"error": exc.name, "description": exc.description}, exc.code or 500)

    def actor_id() -> int:
        return int(g.user["id"])

    # ------------------------------------------------------------------ tickets
    def present_ticket(doc: dict[str, Any]) -> dict[str, Any]:
        return account.present_ticket(doc, base_url())

    def present_audit(audit: dict[str, Any]) -> dict[str, Any]:
        return audit

    def ticket_answer(change: Change, status: int) -> Response:
        return json_response(
            {"ticket": present_ticket(change.after), "audit": present_audit(change.audit)}, status
        )

    def tickets_page(offset: int, limit: int) -> list[Any]:
        """Tickets in id order: the list behind both /tickets and /ticket_metrics."""
        with store.tx() as db:
            rows = db.execute(
                "SELECT doc FROM tickets ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [json.loads(r["doc"]) for r in rows]

    def tickets_total() -> int:
        with store.tx() as db:
            return int(db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])

    @app.get("/api/v2/tickets")
    def list_tickets() -> Response:
        return paginate("tickets", tickets_page, tickets_total, present_ticket)

    @app.post("/api/v2/tickets")
    def create_ticket() -> Response:
        return ticket_answer(account.create_ticket(body("ticket"), actor_id()), 201)

    @app.get("/api/v2/tickets/show_many")
    def show_many_tickets() -> Response:
        found = [store.get_ticket(i) for i in ids_arg()[:MAX_BATCH]]
        return json_response({"tickets": [present_ticket(t) for t in found if t is not None]})

    @app.get("/api/v2/tickets/<int:ticket_id>")
    def show_ticket(ticket_id: int) -> Response:
        return json_response({"ticket": present_ticket(account.ticket(ticket_id))})

    @app.put("/api/v2/tickets/<int:ticket_id>")
    def update_ticket(ticket_id: int) -> Response:
        return ticket_answer(account.update_ticket(ticket_id, body("ticket"), actor_id()), 200)

    @app.get("/api/v2/tickets/<int:ticket_id>/comments")
    def ticket_comments(ticket_id: int) -> Response:
        account.ticket(ticket_id)
        items = store.comments(ticket_id)
        if request.args.get("sort_order") == "desc":
            items.reverse()
        answer = paginate_list("comments", items, lambda c: c)
        if "users" not in (request.args.get("include") or "").split(","):
            return answer
        # `include=users` side-loads the page's comment authors (Zendesk's List Comments).
        page = answer.get_json()
        authors = sorted({int(c["author_id"]) for c in page["comments"]})
        found = [store.get_user(i) for i in authors]
        page["users"] = [present_user(u) for u in found if u]
        return json_response(page)

    @app.get("/api/v2/tickets/<int:ticket_id>/audits")
    def ticket_audits(ticket_id: int) -> Response:
        account.ticket(ticket_id)
        return paginate_list("audits", store.audits(ticket_id), present_audit)

    @app.get("/api/v2/tickets/<int:ticket_id>/metrics")
    def ticket_metric(ticket_id: int) -> Response:
        return json_response(
            {"ticket_metric": account.present_metrics(account.ticket(ticket_id), base_url())}
        )

    @app.get("/api/v2/ticket_metrics")
    def list_ticket_metrics() -> Response:
        return paginate(
            "ticket_metrics",
            tickets_page,
            tickets_total,
            lambda t: account.present_metrics(t, base_url()),
        )

    @app.get("/api/v2/ticket_metrics/<int:metric_id>")
    def show_ticket_metric(metric_id: int) -> Response:
        doc = account.ticket(metric_id - 9_500_000)
        return json_response({"ticket_metric": account.present_metrics(doc, base_url())})

    @app.put("/api/v2/tickets/update_many")
    def update_many() -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise errors.bad_request("Request body must be a JSON object")
        ids = ids_arg()
        items: list[tuple[Any, dict[str, Any]]]
        if ids:
            ticket = data.get("ticket")
            if not isinstance(ticket, dict):
                raise errors.bad_request("With ?ids= the body must hold one 'ticket' object")
            items = [(i, dict(ticket)) for i in ids]
        else:
            tickets = data.get("tickets")
            if not isinstance(tickets, list) or not all(
                isinstance(t, dict) and t.get("id") for t in tickets
            ):
                raise errors.bad_request("The body must hold a 'tickets' list of objects with ids")
            items = [(t["id"], {k: v for k, v in t.items() if k != "id"}) for t in tickets]
        if len(items) > MAX_BATCH:
            raise ApiError(400, "TooManyValues", errors.TOO_MANY_VALUES_DESCRIPTION)
        user = actor_id()

        def work(report: Callable[[dict[str, Any]], None]) -> None:
            for ticket_id, changes in items:
                try:
                    account.update_ticket(ticket_id, changes, user)
                except ApiError as exc:
                    report(failure(_as_int(ticket_id), exc))
                else:
                    report(
                        {
                            "id": _as_int(ticket_id),
                            "action": "update",
                            "success": True,
                            "status": "Updated",
                        }
                    )

        job = sb.jobs.submit("bulk_update", len(items), work)
        return json_response({"job_status": present_job(job, base_url())})

    @app.post("/api/v2/tickets/<int:ticket_id>/merge")
    def merge_tickets(ticket_id: int) -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("ids"), list) or not data["ids"]:
            raise errors.bad_request("The body must hold a non-empty 'ids' list")
        if not all(isinstance(i, int) or (isinstance(i, str) and i.isdigit()) for i in data["ids"]):
            raise errors.bad_request("'ids' must be ticket ids")
        if account.ticket(ticket_id)["status"] == "closed":
            raise errors.invalid("status", errors.CLOSED_PREVENTS_UPDATE, "ClosedTicket")
        for source in data["ids"]:
            account.ticket(source)
        user = actor_id()

        def work(report: Callable[[dict[str, Any]], None]) -> None:
            account.merge(ticket_id, data, user)
            for source in data["ids"]:
                report(
                    {
                        "id": _as_int(source),
                        "action": "merge",
                        "success": True,
                        "status": "Merged",
                    }
                )

        job = sb.jobs.submit("merge", len(data["ids"]), work)
        return json_response({"job_status": present_job(job, base_url())})

    def create_many_job(*, imported: bool) -> Response:
        """tickets/create_many and imports/tickets/create_many: one job creating each ticket."""
        tickets = body("tickets", list)
        if not all(isinstance(t, dict) for t in tickets):
            raise errors.bad_request("'tickets' must be a list of objects")
        if len(tickets) > MAX_BATCH:
            raise ApiError(400, "TooManyValues", errors.TOO_MANY_VALUES_DESCRIPTION)
        user = actor_id()

        def work(report: Callable[[dict[str, Any]], None]) -> None:
            for index, item in enumerate(tickets):
                try:
                    change = account.create_ticket(item, user, imported=imported)
                except ApiError as exc:
                    # Zendesk reports failed creations by position: there is no id yet.
                    report({**failure(None, exc, "create"), "index": index})
                else:
                    report({"index": index, "id": change.after["id"]})

        job = sb.jobs.submit("bulk_import" if imported else "bulk_create", len(tickets), work)
        return json_response({"job_status": present_job(job, base_url())})

    @app.post("/api/v2/tickets/create_many")
    def create_many() -> Response:
        return create_many_job(imported=False)

    @app.post("/api/v2/imports/tickets")
    def import_ticket() -> Response:
        change = account.create_ticket(body("ticket"), actor_id(), imported=True)
        return json_response({"ticket": present_ticket(change.after)}, 201)

    @app.post("/api/v2/imports/tickets/create_many")
    def import_many() -> Response:
        return create_many_job(imported=True)

    # --------------------------------------------------------------------- jobs
    @app.get("/api/v2/job_statuses/<job_id>")
    def show_job(job_id: str) -> Response:
        job = store.get("job_status", job_id)
        if job is None:
            raise errors.not_found()
        return json_response({"job_status": present_job(job, base_url())})

    @app.get("/api/v2/job_statuses/show_many")
    def show_many_jobs() -> Response:
        jobs = [store.get("job_status", i) for i in ids_arg()]
        return json_response({"job_statuses": [present_job(j, base_url()) for j in jobs if j]})

    @app.get("/api/v2/job_statuses")
    def list_jobs() -> Response:
        jobs = list(reversed(store.all("job_status")))
        return paginate_list("job_statuses", jobs, lambda j: present_job(j, base_url()))

    # ------------------------------------------------------ users, orgs, groups
    def with_url(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        plural = {"organization": "organizations", "group": "groups", "user": "users"}[kind]

        def present(doc: dict[str, Any]) -> dict[str, Any]:
            return {**doc, "url": f"{base_url()}/api/v2/{plural}/{doc['id']}.json"}

        return present

    present_user = with_url("user")

    @app.get("/api/v2/users")
    def list_users() -> Response:
        roles = request.args.getlist("role[]") or request.args.getlist("role")

        def fetch(offset: int, limit: int) -> list[Any]:
            sql = "SELECT doc FROM users"
            params: list[Any] = []
            if roles:
                sql += " WHERE role IN (" + ",".join("?" * len(roles)) + ")"
                params.extend(roles)
            with store.tx() as db:
                rows = db.execute(
                    sql + " ORDER BY id LIMIT ? OFFSET ?", (*params, limit, offset)
                ).fetchall()
            return [json.loads(r["doc"]) for r in rows]

        def total() -> int:
            return len(fetch(0, 10**9))

        return paginate("users", fetch, total, present_user)

    @app.post("/api/v2/users")
    def create_user() -> Response:
        return json_response({"user": present_user(account.create_user(body("user")))}, 201)

    @app.get("/api/v2/users/me")
    def me() -> Response:
        return json_response({"user": present_user(g.user)})

    @app.get("/api/v2/users/show_many")
    def show_many_users() -> Response:
        found = [store.get_user(i) for i in ids_arg()[:MAX_BATCH]]
        return json_response({"users": [present_user(u) for u in found if u]})

    @app.get("/api/v2/users/search")
    def search_users() -> Response:
        query = (request.args.get("query") or request.args.get("email") or "").strip().lower()
        with store.tx() as db:
            rows = db.execute(
                "SELECT doc FROM users WHERE email = ? OR lower(json_extract(doc, '$.name')) LIKE ? ORDER BY id",
                (query.removeprefix("email:"), f"%{query}%"),
            ).fetchall()
        return paginate_list("users", [json.loads(r["doc"]) for r in rows], present_user)

    @app.get("/api/v2/users/<int:user_id>")
    def show_user(user_id: int) -> Response:
        return json_response({"user": present_user(account.user(user_id))})

    @app.put("/api/v2/users/<int:user_id>")
    def update_user(user_id: int) -> Response:
        return json_response({"user": present_user(account.update_user(user_id, body("user")))})

    def named_routes(kind: str, plural: str) -> None:
        present = with_url(kind)

        def list_all() -> Response:
            return paginate_list(plural, store.all(kind), present)

        def create() -> Response:
            return json_response({kind: present(account.create_named(kind, body(kind)))}, 201)

        def show_many() -> Response:
            found = [store.get(kind, i) for i in ids_arg()[:MAX_BATCH]]
            return json_response({plural: [present(o) for o in found if o]})

        def show(obj_id: int) -> Response:
            doc = store.get(kind, obj_id)
            if doc is None:
                raise errors.not_found()
            return json_response({kind: present(doc)})

        def update(obj_id: int) -> Response:
            return json_response({kind: present(account.update_named(kind, obj_id, body(kind)))})

        def delete(obj_id: int) -> Response:
            if not store.delete(kind, obj_id):
                raise errors.not_found()
            return Response(status=204)

        app.add_url_rule(f"/api/v2/{plural}", f"list_{plural}", list_all, methods=["GET"])
        app.add_url_rule(f"/api/v2/{plural}", f"create_{plural}", create, methods=["POST"])
        app.add_url_rule(
            f"/api/v2/{plural}/show_many", f"show_many_{plural}", show_many, methods=["GET"]
        )
        app.add_url_rule(f"/api/v2/{plural}/<int:obj_id>", f"show_{plural}", show, methods=["GET"])
        app.add_url_rule(
            f"/api/v2/{plural}/<int:obj_id>", f"update_{plural}", update, methods=["PUT"]
        )
        app.add_url_rule(
            f"/api/v2/{plural}/<int:obj_id>", f"delete_{plural}", delete, methods=["DELETE"]
        )

    named_routes("organization", "organizations")
    named_routes("group", "groups")

    @app.get("/api/v2/group_memberships")
    def list_group_memberships() -> Response:
        return paginate_list("group_memberships", store.all("group_membership"), lambda m: m)

    @app.post("/api/v2/group_memberships")
    def create_group_membership() -> Response:
        data = body("group_membership")
        account.user(data.get("user_id"))
        if store.get("group", data.get("group_id")) is None:
            raise errors.invalid("group_id", "Group: is not valid")
        return json_response(
            {
                "group_membership": account.add_group_membership(
                    int(data["user_id"]), int(data["group_id"])
                )
            },
            201,
        )

    # ---------------------------------------------------------- custom statuses
    def present_status(doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    @app.get("/api/v2/custom_statuses")
    def list_custom_statuses() -> Response:
        items = store.all("custom_status")
        categories = request.args.get("status_categories")
        if categories:
            wanted = set(categories.split(","))
            items = [s for s in items if s["status_category"] in wanted]
        if request.args.get("active") is not None:
            active = request.args["active"] == "true"
            items = [s for s in items if s["active"] == active]
        if request.args.get("default") is not None:
            default = request.args["default"] == "true"
            items = [s for s in items if s["default"] == default]
        return json_response({"custom_statuses": [present_status(s) for s in items]})

    @app.post("/api/v2/custom_statuses")
    def create_custom_status() -> Response:
        return json_response(
            {"custom_status": account.create_custom_status(body("custom_status"))}, 201
        )

    @app.put("/api/v2/custom_status/default")
    def set_default_custom_statuses() -> Response:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict) or "ids" not in payload:
            raise errors.bad_request("ids is required")
        account.set_default_statuses(payload["ids"])
        return json_response({})

    @app.get("/api/v2/custom_statuses/<int:status_id>")
    def show_custom_status(status_id: int) -> Response:
        doc = account.custom_status(status_id)
        if doc is None:
            raise errors.not_found()
        return json_response({"custom_status": doc})

    @app.put("/api/v2/custom_statuses/<int:status_id>")
    def update_custom_status(status_id: int) -> Response:
        return json_response(
            {"custom_status": account.update_custom_status(status_id, body("custom_status"))}
        )

    # ------------------------------------------------------------ ticket fields
    def present_field(doc: dict[str, Any]) -> dict[str, Any]:
        out = {**doc, "url": f"{base_url()}/api/v2/ticket_fields/{doc['id']}.json"}
        if "custom_field_options" in out:
            out["custom_field_options"] = [
                {
                    **o,
                    "url": f"{base_url()}/api/v2/ticket_fields/{doc['id']}/options/{o['id']}.json",
                }
                for o in out["custom_field_options"]
            ]
        return out

    @app.get("/api/v2/ticket_fields")
    def list_ticket_fields() -> Response:
        return paginate_list("ticket_fields", account.ticket_fields(), present_field)

    @app.post("/api/v2/ticket_fields")
    def create_ticket_field() -> Response:
        return json_response(
            {"ticket_field": present_field(account.create_ticket_field(body("ticket_field")))}, 201
        )

    @app.get("/api/v2/ticket_fields/<int:field_id>")
    def show_ticket_field(field_id: int) -> Response:
        doc = store.get("ticket_field", field_id)
        if doc is None:
            raise errors.not_found()
        return json_response({"ticket_field": present_field(doc)})

    @app.put("/api/v2/ticket_fields/<int:field_id>")
    def update_ticket_field(field_id: int) -> Response:
        return json_response(
            {
                "ticket_field": present_field(
                    account.update_ticket_field(field_id, body("ticket_field"))
                )
            }
        )

    @app.delete("/api/v2/ticket_fields/<int:field_id>")
    def delete_ticket_field(field_id: int) -> Response:
        account.delete_ticket_field(field_id)
        return Response(status=204)

    @app.get("/api/v2/ticket_fields/<int:field_id>/options")
    def list_field_options(field_id: int) -> Response:
        doc = store.get("ticket_field", field_id)
        if doc is None:
            raise errors.not_found()
        return paginate_list(
            "custom_field_options",
            present_field(doc).get("custom_field_options") or [],
            lambda o: o,
        )

    # ----------------------------------------------------------------- webhooks
    @app.get("/api/v2/webhooks")
    def list_webhooks() -> Response:
        items = store.all("webhook")
        # The webhooks API only paginates by cursor.
        return paginate_list("webhooks", items, present_webhook, cursor=True)

    @app.post("/api/v2/webhooks")
    def create_webhook() -> Response:
        doc = new_webhook(account, body("webhook"), actor_id())
        store.put("webhook", doc)
        return json_response({"webhook": present_webhook(doc)}, 201)

    def get_webhook(webhook_id: str) -> dict[str, Any]:
        doc = store.get("webhook", webhook_id)
        if doc is None:
            raise errors.not_found()
        return doc

    @app.get("/api/v2/webhooks/<webhook_id>")
    def show_webhook(webhook_id: str) -> Response:
        return json_response({"webhook": present_webhook(get_webhook(webhook_id))})

    @app.route("/api/v2/webhooks/<webhook_id>", methods=["PUT", "PATCH"])
    def update_webhook(webhook_id: str) -> Response:
        doc = get_webhook(webhook_id)
        data = body("webhook")
        if request.method == "PUT":
            fresh = new_webhook(
                account, {**data, "signing_secret": doc["signing_secret"]}, actor_id()
            )
            fresh.update(id=doc["id"], created_at=doc["created_at"], created_by=doc["created_by"])
            doc = fresh
        else:
            for key in (
                "name",
                "description",
                "status",
                "endpoint",
                "http_method",
                "request_format",
                "subscriptions",
                "authentication",
                "custom_headers",
            ):
                if key in data:
                    doc[key] = data[key]
            doc["updated_at"] = iso(store.now())
        store.put("webhook", doc)
        return Response(status=204)

    @app.delete("/api/v2/webhooks/<webhook_id>")
    def delete_webhook(webhook_id: str) -> Response:
        get_webhook(webhook_id)
        store.delete("webhook", webhook_id)
        return Response(status=204)

    @app.get("/api/v2/webhooks/<webhook_id>/signing_secret")
    def webhook_secret(webhook_id: str) -> Response:
        return json_response({"signing_secret": get_webhook(webhook_id)["signing_secret"]})

    @app.post("/api/v2/webhooks/<webhook_id>/signing_secret")
    def reset_webhook_secret(webhook_id: str) -> Response:
        doc = get_webhook(webhook_id)
        doc["signing_secret"] = new_webhook(account, {"name": "x", "endpoint": "x"}, 0)[
            "signing_secret"
        ]
        store.put("webhook", doc)
        return json_response({"signing_secret": doc["signing_secret"]}, 201)

    # ----------------------------------------------------------------- triggers
    def present_trigger(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "url": f"{base_url()}/api/v2/triggers/{doc['id']}.json"}

    def sorted_triggers(active_only: bool = False) -> list[dict[str, Any]]:
        items = [t for t in store.all("trigger") if t["active"] or not active_only]
        return sorted(items, key=lambda t: (t["position"], t["id"]))

    @app.get("/api/v2/triggers")
    def list_triggers() -> Response:
        items = sorted_triggers()
        if request.args.get("active") is not None:
            active = request.args["active"] == "true"
            items = [t for t in items if t["active"] == active]
        return paginate_list("triggers", items, present_trigger)

    @app.get("/api/v2/triggers/active")
    def list_active_triggers() -> Response:
        return paginate_list("triggers", sorted_triggers(True), present_trigger)

    @app.post("/api/v2/triggers")
    def create_trigger() -> Response:
        data = body("trigger")
        if not data.get("title"):
            raise errors.invalid("title", "Title: cannot be blank", "BlankValue")
        validate_trigger(account, data)
        now = iso(store.now())
        with store.tx():
            trigger_id = store.next_id("trigger")
            doc = {
                "id": trigger_id,
                "title": data["title"],
                "raw_title": data["title"],
                "description": data.get("description") or "",
                "active": bool(data.get("active", True)),
                "position": int(data.get("position") or (len(store.all("trigger")) + 1)),
                "conditions": {
                    "all": data["conditions"].get("all") or [],
                    "any": data["conditions"].get("any") or [],
                },
                "actions": data["actions"],
                "category_id": str(data.get("category_id") or "1"),
                "default": False,
                "created_at": now,
                "updated_at": now,
            }
            store.put("trigger", doc)
        return json_response({"trigger": present_trigger(doc)}, 201)

    def get_trigger(trigger_id: int) -> dict[str, Any]:
        doc = store.get("trigger", trigger_id)
        if doc is None:
            raise errors.not_found()
        return doc

    @app.get("/api/v2/triggers/<int:trigger_id>")
    def show_trigger(trigger_id: int) -> Response:
        return json_response({"trigger": present_trigger(get_trigger(trigger_id))})

    @app.put("/api/v2/triggers/<int:trigger_id>")
    def update_trigger(trigger_id: int) -> Response:
        doc = get_trigger(trigger_id)
        data = body("trigger")
        merged = {
            **doc,
            **{
                k: v
                for k, v in data.items()
                if k
                in (
                    "title",
                    "description",
                    "active",
                    "position",
                    "conditions",
                    "actions",
                    "category_id",
                )
            },
        }
        validate_trigger(account, merged)
        merged["raw_title"] = merged["title"]
        merged["conditions"] = {
            "all": merged["conditions"].get("all") or [],
            "any": merged["conditions"].get("any") or [],
        }
        merged["updated_at"] = iso(store.now())
        store.put("trigger", merged)
        return json_response({"trigger": present_trigger(merged)})

    @app.delete("/api/v2/triggers/<int:trigger_id>")
    def delete_trigger(trigger_id: int) -> Response:
        get_trigger(trigger_id)
        store.delete("trigger", trigger_id)
        return Response(status=204)

    search.register(app, sb, json_response, base_url, present_ticket)
    apps.register(app, sb, json_response)
    register_admin(app, sb)
    return app


def _as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def register_admin(app: Flask, sb: Sandbox) -> None:
    """/sandbox/ controls for tests and benchmarks: never counted, limited or faulted."""

    def data() -> dict[str, Any]:
        payload = request.get_json(silent=True)
        return payload if isinstance(payload, dict) else {}

    @app.get("/sandbox/stats")
    def stats() -> Response:
        return json_response(sb.stats.snapshot())

    @app.post("/sandbox/stats/reset")
    def reset_stats() -> Response:
        sb.stats.reset()
        return json_response(sb.stats.snapshot())

    @app.route("/sandbox/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "DELETE":
            sb.faults.update(
                {
                    "error_rate": 0,
                    "latency_ms": 0,
                    "drop_rate": 0,
                    "paths": [],
                    "status": 503,
                    "methods": [],
                    "times": None,
                }
            )
        elif request.method == "POST":
            sb.faults.update(data())
        return json_response(sb.faults.as_dict())

    @app.route("/sandbox/limits", methods=["GET", "POST"])
    def limits() -> Response:
        payload = data()
        if "rpm" in payload:
            sb.limiter.rpm = int(payload["rpm"])
            sb.limiter.clear()
        if "ticket_update_limit" in payload:
            sb.account.ticket_update_limit = int(payload["ticket_update_limit"])
        return json_response(
            {"rpm": sb.limiter.rpm, "ticket_update_limit": sb.account.ticket_update_limit}
        )

    @app.post("/sandbox/jobs")
    def jobs() -> Response:
        payload = data()
        if "paused" in payload:
            sb.jobs.pause(bool(payload["paused"]))
        if "delay_seconds" in payload:
            sb.jobs.delay_seconds = float(payload["delay_seconds"])
        return json_response({"active": sb.jobs.active_count()})

    @app.post("/sandbox/clock")
    def clock() -> Response:
        sb.store.clock_offset += float(data().get("advance_seconds", 0))
        sb.run_automations(force=True)
        return json_response({"now": iso(sb.store.now())})

    @app.route("/sandbox/webhooks", methods=["GET", "POST"])
    def deliveries() -> Response:
        payload = data()
        if "backoff_seconds" in payload:
            sb.deliverer.backoff_seconds = float(payload["backoff_seconds"])
        if "timeout_seconds" in payload:
            sb.deliverer.timeout = float(payload["timeout_seconds"])
        if request.args.get("wait"):
            sb.deliverer.wait_idle(float(request.args["wait"]))
        return json_response({"deliveries": sb.deliverer.public_log()})

    @app.post("/sandbox/seed")
    def seed() -> Response:
        payload = data()
        summary = seed_account(
            sb.account, int(payload.get("size", 200)), int(payload.get("random_seed", 1))
        )
        return json_response(summary)
