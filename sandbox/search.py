"""Search, search export and the incremental exports (tickets by cursor, ticket events)."""

from __future__ import annotations

import base64
import json
import re
import shlex
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, request

from sandbox import errors
from sandbox.core import Sandbox
from sandbox.errors import ApiError
from sandbox.rules import STATUS_ORDER
from sandbox.store import iso, parse_iso

SEARCH_LIMIT = 1000
EXPORT_MAX_PAGE = 1000
INCREMENTAL_PAGE = 1000
TERM = re.compile(r"^(-?)([a-z_]+|custom_field_\d+)(:<=|:>=|:<|:>|<=|>=|:|<|>)(.+)$")
RELATIVE = re.compile(r"^(\d+)(minutes?|hours?|days?|weeks?|months?|years?)$")
UNIT_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 604800,
    "month": 2592000,
    "year": 31536000,
}
SORTS = {
    "created_at": "created_ts",
    "updated_at": "updated_ts",
    "status": "status",
    "priority": "json_extract(doc, '$.priority')",
    "ticket_type": "json_extract(doc, '$.type')",
}


def _time_value(sb: Sandbox, text: str) -> int:
    match = RELATIVE.match(text)
    if match:
        unit = match.group(2).rstrip("s")
        return sb.store.now() - int(match.group(1)) * UNIT_SECONDS[unit]
    try:
        return parse_iso(text)
    except ValueError:
        raise errors.invalid("query", f"Invalid date in search: {text}", "invalid") from None


def compile_query(sb: Sandbox, query: str, me: int = -1) -> tuple[str, list[Any], str]:
    """Zendesk search syntax (subset) → SQL WHERE over the tickets table, and the result type.
    Positive terms on the same keyword are OR-ed, as Zendesk does; everything else AND-ed."""
    try:
        tokens = shlex.split(query)
    except ValueError:
        tokens = query.split()
    result_type = "ticket"
    groups: dict[str, list[tuple[str, list[Any]]]] = {}
    clauses: list[tuple[str, list[Any]]] = []
    for token in tokens:
        match = TERM.match(token)
        if not match:
            negate = token.startswith("-")
            word = token[1:] if negate else token
            if word:
                clause = ("text LIKE ?", [f"%{word.lower()}%"])
                clauses.append((f"NOT ({clause[0]})", clause[1]) if negate else clause)
            continue
        negate, key, op, value = (
            match.group(1) == "-",
            match.group(2),
            match.group(3).lstrip(":"),
            match.group(4),
        )
        value = value.strip('"')
        if key == "type":
            result_type = value
            continue
        clause = _term(sb, key, op, str(me) if value == "me" else value)
        if negate:
            # A ticket with no value for the keyword (no group, no priority) is kept by a
            # negation in Zendesk; SQL's NOT (NULL = ?) is NULL, hence the COALESCE.
            clauses.append((f"NOT COALESCE(({clause[0]}), 0)", clause[1]))
        elif op in {":", ""}:
            groups.setdefault(key, []).append(clause)
        else:
            clauses.append(clause)
    for items in groups.values():
        clauses.append(
            ("(" + " OR ".join(c[0] for c in items) + ")", [p for c in items for p in c[1]])
        )
    where = " AND ".join(c[0] for c in clauses) or "1=1"
    return where, [p for c in clauses for p in c[1]], result_type


def _user_id(sb: Sandbox, value: str) -> int:
    if value.isdigit():
        return int(value)
    user = sb.store.user_by_email(value)
    return int(user["id"]) if user else -1


def _named_id(sb: Sandbox, kind: str, value: str) -> int:
    if value.isdigit():
        return int(value)
    for doc in sb.store.all(kind):
        if doc["name"].lower() == value.lower():
            return int(doc["id"])
    return -1


def _term(sb: Sandbox, key: str, op: str, value: str) -> tuple[str, list[Any]]:
    sql_op = {"": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}[op]
    if key in ("status", "status_category"):
        if value not in STATUS_ORDER:
            raise errors.invalid("query", f"Invalid status in search: {value}", "invalid")
        if sql_op == "=":
            return "status = ?", [value]
        allowed = [
            s
            for s in STATUS_ORDER
            if _compare(STATUS_ORDER.index(s), sql_op, STATUS_ORDER.index(value))
        ]
        return "status IN (" + ",".join("?" * len(allowed)) + ")" if allowed else "0", allowed
    if key in ("created", "updated"):
        column = "created_ts" if key == "created" else "updated_ts"
        ts = _time_value(sb, value)
        if sql_op == "=" and len(value) == 10:
            return f"({column} >= ? AND {column} < ?)", [ts, ts + 86400]
        return f"{column} {sql_op} ?", [ts]
    if key in ("requester", "assignee", "submitter"):
        if value == "none":
            return f"{key}_id IS NULL" if key != "submitter" else "0", []
        column = f"{key}_id" if key != "submitter" else "json_extract(doc, '$.submitter_id')"
        return f"{column} = ?", [_user_id(sb, value)]
    if key in ("organization", "group"):
        if value == "none":
            return f"{key}_id IS NULL", []
        return f"{key}_id = ?", [_named_id(sb, key, value)]
    if key in ("tags", "tag"):
        return "tags LIKE ?", [f"% {value.lower()} %"]
    if key == "custom_status_id":
        return "custom_status_id = ?", [int(value) if value.isdigit() else -1]
    if key in ("subject", "description"):
        return f"lower(json_extract(doc, '$.{key}')) LIKE ?", [f"%{value.lower()}%"]
    if key == "priority":
        return "json_extract(doc, '$.priority') = ?", [value]
    if key == "ticket_type":
        return "json_extract(doc, '$.type') = ?", [value]
    if key == "id":
        return "id = ?", [int(value) if value.isdigit() else -1]
    if key.startswith("custom_field_"):
        return _custom_field_term(sb, int(key[len("custom_field_") :]), sql_op, value)
    raise errors.invalid("query", f"Search keyword not supported by the sandbox: {key}", "invalid")


def _custom_field_term(
    sb: Sandbox, field_id: int, sql_op: str, value: str
) -> tuple[str, list[Any]]:
    """`custom_field_<id>:value`, `:none` (no value) and, on date fields, `<`, `>`, `<=`, `>=`
    (dates are stored as YYYY-MM-DD, so text order is date order)."""
    spec = next((f for f in sb.account.ticket_fields() if int(f["id"]) == field_id), None)
    if spec is None:
        raise errors.invalid("query", f"Unknown custom field in search: {field_id}", "invalid")
    column = f"json_extract(doc, '$._cf.\"{field_id}\"')"
    if value == "none" and sql_op == "=":
        return f"({column} IS NULL OR {column} = '')", []
    if sql_op != "=":
        if spec["type"] != "date":
            raise errors.invalid(
                "query", f"Range search needs a date field; {spec['title']} is not one", "invalid"
            )
        try:
            bound = date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise errors.invalid("query", f"Invalid date in search: {value}", "invalid") from None
        return f"({column} IS NOT NULL AND {column} != '' AND {column} {sql_op} ?)", [bound]
    if spec["type"] == "checkbox":
        return f"{column} = ?", [1 if value.lower() in ("true", "1", "yes") else 0]
    return f"lower(CAST({column} AS TEXT)) = ?", [value.lower()]


def _compare(a: int, op: str, b: int) -> bool:
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"{name} must be an integer") from None


def _cursor(*parts: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def _uncursor(text: str) -> list[int]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text.encode()))
        return [int(x) for x in value]
    except (ValueError, TypeError, UnicodeDecodeError):
        raise errors.bad_request("Invalid cursor") from None


def register(
    app: Flask,
    sb: Sandbox,
    json_response: Callable[..., Response],
    base_url: Callable[[], str],
    present_ticket: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    store = sb.store

    def as_result(doc: dict[str, Any]) -> dict[str, Any]:
        return {**present_ticket(doc), "result_type": "ticket"}

    def order_clause() -> str:
        column = SORTS.get(request.args.get("sort_by", ""), "id")
        direction = (
            "DESC"
            if request.args.get("sort_order", "desc" if column != "id" else "asc") == "desc"
            else "ASC"
        )
        return f"{column} {direction}, id {direction}"

    @app.get("/api/v2/search")
    def search() -> Response:
        query = request.args.get("query", "")
        where, params, result_type = compile_query(sb, query, int(g.user["id"]))
        per_page = max(1, min(int_arg("per_page", 100), 100))
        page = max(1, int_arg("page", 1))
        if page * per_page > SEARCH_LIMIT:
            raise ApiError(422, "invalid", errors.SEARCH_LIMIT_DESCRIPTION)
        if result_type != "ticket":
            return json_response(
                {
                    "results": [],
                    "facets": None,
                    "next_page": None,
                    "previous_page": None,
                    "count": 0,
                }
            )
        with store.tx() as db:
            # `where` is built from fixed fragments; every value is a bound parameter.
            count_sql = f"SELECT COUNT(*) FROM tickets WHERE {where}"  # noqa: S608
            count = int(db.execute(count_sql, params).fetchone()[0])
            rows = db.execute(
                f"SELECT doc FROM tickets WHERE {where} ORDER BY {order_clause()} LIMIT ? OFFSET ?",  # noqa: S608 -- as in search()
                (*params, per_page, (page - 1) * per_page),
            ).fetchall()
        url = base_url() + "/api/v2/search.json"
        keep = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}

        def link(n: int) -> str:
            return url + "?" + urlencode({**keep, "page": n, "per_page": per_page})

        # Like Zendesk, next_page is offered past the limit; following it answers 422.
        has_next = page * per_page < count
        return json_response(
            {
                "results": [as_result(json.loads(r["doc"])) for r in rows],
                "facets": None,
                "next_page": link(page + 1) if has_next else None,
                "previous_page": link(page - 1) if page > 1 else None,
                "count": count,
            }
        )

    @app.get("/api/v2/search/count")
    def search_count() -> Response:
        where, params, _ = compile_query(sb, request.args.get("query", ""), int(g.user["id"]))
        with store.tx() as db:
            count_sql = f"SELECT COUNT(*) FROM tickets WHERE {where}"  # noqa: S608 -- as in search()
            count = int(db.execute(count_sql, params).fetchone()[0])
        return json_response({"count": count})

    @app.get("/api/v2/search/export")
    def search_export() -> Response:
        query = request.args.get("query", "")
        kind = request.args.get("filter[type]")
        if not kind:
            raise errors.bad_request("filter[type] is required for search export")
        size = int_arg("page[size]", 100)
        if not 1 <= size <= EXPORT_MAX_PAGE:
            raise errors.bad_request(f"page[size] must be between 1 and {EXPORT_MAX_PAGE}")
        after = _uncursor(request.args["page[after]"])[0] if request.args.get("page[after]") else 0
        where, params, _ = compile_query(sb, query, int(g.user["id"]))
        rows: list[Any] = []
        if kind == "ticket":
            with store.tx() as db:
                rows = db.execute(
                    f"SELECT id, doc FROM tickets WHERE ({where}) AND id > ? ORDER BY id LIMIT ?",  # noqa: S608 -- as in search()
                    (*params, after, size + 1),
                ).fetchall()
        has_more = len(rows) > size
        rows = rows[:size]
        cursor = _cursor(int(rows[-1]["id"])) if rows else None
        nxt = None
        if has_more:
            nxt = (
                base_url()
                + "/api/v2/search/export.json?"
                + urlencode(
                    {
                        "query": query,
                        "filter[type]": kind,
                        "page[size]": size,
                        "page[after]": cursor,
                    }
                )
            )
        return json_response(
            {
                "results": [as_result(json.loads(r["doc"])) for r in rows],
                "facets": None,
                "meta": {"has_more": has_more, "after_cursor": cursor, "before_cursor": None},
                "links": {"next": nxt, "prev": None},
            }
        )

    @app.get("/api/v2/incremental/tickets/cursor")
    def incremental_tickets() -> Response:
        size = max(1, min(int_arg("per_page", INCREMENTAL_PAGE), INCREMENTAL_PAGE))
        if request.args.get("cursor"):
            parts = _uncursor(request.args["cursor"])
            if len(parts) != 2:
                raise errors.bad_request("Invalid cursor")
            ts, last_id = parts
        elif request.args.get("start_time") is not None:
            start = int_arg("start_time", 0)
            if start > int(time.time()) + 60 + store.clock_offset:
                raise errors.bad_request("start_time cannot be in the future")
            ts, last_id = start, -1
        else:
            raise errors.bad_request("start_time or cursor is required")
        with store.tx() as db:
            rows = db.execute(
                "SELECT id, updated_ts, doc FROM tickets WHERE (updated_ts > ?) OR (updated_ts = ? AND id > ?)"
                " ORDER BY updated_ts, id LIMIT ?",
                (ts, ts, last_id, size + 1),
            ).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        if rows:
            after = _cursor(int(rows[-1]["updated_ts"]), int(rows[-1]["id"]))
        else:
            after = _cursor(ts, last_id)
        include = request.args.get("include", "")
        url = base_url() + "/api/v2/incremental/tickets/cursor.json?"
        extra = {"include": include} if include else {}
        docs = [json.loads(r["doc"]) for r in rows]
        payload: dict[str, Any] = {
            "tickets": [present_ticket(d) for d in docs],
            "after_cursor": after,
            "before_cursor": _cursor(int(rows[0]["updated_ts"]), int(rows[0]["id"]) - 1)
            if rows
            else None,
            "after_url": url + urlencode({"cursor": after, **extra}),
            "before_url": None,
            "end_of_stream": not more,
        }
        if "metric_sets" in include.split(","):
            payload["metric_sets"] = [sb.account.present_metrics(d, base_url()) for d in docs]
        return json_response(payload)

    @app.get("/api/v2/incremental/ticket_events")
    def incremental_events() -> Response:
        if request.args.get("start_time") is None:
            raise errors.bad_request("start_time is required")
        start = int_arg("start_time", 0)
        include = request.args.get("include", "")
        with_comments = "comment_events" in include.split(",")
        with store.tx() as db:
            rows = db.execute(
                "SELECT ts, doc FROM audits WHERE ts >= ? ORDER BY ts, id LIMIT ?",
                (start, INCREMENTAL_PAGE),
            ).fetchall()
            end_of_stream = len(rows) < INCREMENTAL_PAGE
            if not end_of_stream:
                # Finish the last second on this page, so the next page can start after it:
                # a burst of more than a page of events in one second cannot loop a client.
                last = int(rows[-1]["ts"])
                rows = [r for r in rows if int(r["ts"]) < last] + db.execute(
                    "SELECT ts, doc FROM audits WHERE ts = ? ORDER BY id", (last,)
                ).fetchall()
        events = [_as_event(json.loads(r["doc"]), int(r["ts"]), with_comments) for r in rows]
        end_time = int(rows[-1]["ts"]) if rows else start
        # At the end of the stream, resume at end_time as Zendesk does (events still arriving in
        # that second are not lost; the client may see a few again).
        resume = end_time if end_of_stream else end_time + 1
        nxt = (
            base_url()
            + "/api/v2/incremental/ticket_events.json?"
            + urlencode({"start_time": resume, **({"include": include} if include else {})})
        )
        return json_response(
            {
                "ticket_events": events,
                "next_page": nxt,
                "count": len(events),
                "end_of_stream": end_of_stream,
                "end_time": end_time,
            }
        )


def _as_event(audit: dict[str, Any], ts: int, with_comments: bool) -> dict[str, Any]:
    """An audit in the shape of the incremental ticket event export."""
    children: list[dict[str, Any]] = []
    for event in audit["events"]:
        common = {"id": event["id"], "via": "Web service", "via_reference_id": None}
        if event["type"] == "Comment":
            if with_comments:
                children.append(
                    {
                        **common,
                        "event_type": "Comment",
                        "comment_present": True,
                        "comment_public": event["public"],
                        "author_id": event["author_id"],
                        "body": event["body"],
                        "html_body": event["html_body"],
                        "plain_body": event["plain_body"],
                        "public": event["public"],
                        "attachments": [],
                        "audit_id": audit["id"],
                        "created_at": event["created_at"],
                        "type": "Comment",
                    }
                )
            continue
        child = {**common, "event_type": event["type"], event["field_name"]: event["value"]}
        if "previous_value" in event:
            child["previous_value"] = event["previous_value"]
        children.append(child)
    return {
        "id": audit["id"],
        "ticket_id": audit["ticket_id"],
        "timestamp": ts,
        "created_at": iso(ts),
        "updater_id": audit["author_id"],
        "via": "Web service",
        "system": {},
        "metadata": {},
        "event_type": "Audit",
        "child_events": children,
        "merged_ticket_ids": [],
    }
