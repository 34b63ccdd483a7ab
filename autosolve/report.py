"""The auto-solve run report: the public JSON document and a self-contained HTML page for people.

JSON interface (public; other tools read it):

    {"run_id", "as_of", "dry_run", "totals": {decision: count}, "api_calls",
     "api_calls_per_1000_examined", "api_calls_per_1000_changed", "history_learned",
     "tickets": [{"id", "decision", "reason", "team", "clock_start",
                  "business_days_elapsed", "due"}]}

- `as_of` and `clock_start` are UTC ISO-8601 with a "Z" ("2026-12-04T07:00:00Z"); `due` is a
  date ("2026-12-03"); absent values are null.
- `totals` always lists all six decisions, in the order of `triggers.autosolve.Outcome`.
- `tickets` are sorted by id. The per-1,000 rates are rounded to 0.1 and null when nothing
  was examined / changed.

Determinism: `build_report` and `dumps_report` are pure, so the same inputs give the same bytes.
Two dry runs at one as-of differ only where their inputs differ: give dry runs a run id derived
from the as-of (or diff with run_id and api_calls aside) for byte-identical files.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mappings.model import Team
from triggers import autosolve_texts as texts
from triggers.autosolve import AutoSolveDecision, Outcome

__all__ = [
    "REPORT_SCHEMA",
    "build_report",
    "calendar_corrections",
    "dumps_report",
    "render_html",
    "write_report",
]

DECISIONS = tuple(o.value for o in Outcome)

_NULLABLE_STRING = {"type": ["string", "null"]}
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cxlayer auto-solve run report",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "run_id",
        "as_of",
        "dry_run",
        "totals",
        "api_calls",
        "api_calls_per_1000_examined",
        "api_calls_per_1000_changed",
        "tickets",
    ],
    "properties": {
        "run_id": {"type": "string", "minLength": 1},
        "as_of": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"},
        "dry_run": {"type": "boolean"},
        "totals": {
            "type": "object",
            "additionalProperties": False,
            "required": list(DECISIONS),
            "properties": {d: {"type": "integer", "minimum": 0} for d in DECISIONS},
        },
        "api_calls": {"type": "integer", "minimum": 0},
        "api_calls_per_1000_examined": {"type": ["number", "null"], "minimum": 0},
        "api_calls_per_1000_changed": {"type": ["number", "null"], "minimum": 0},
        "history_learned": {"type": "integer", "minimum": 0},
        "calendar_corrections": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["team", "date", "name", "kind"],
                "properties": {
                    "team": {"type": "string"},
                    "date": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d$"},
                    "name": {"type": "string"},
                    "kind": {"enum": ["closed", "working"]},
                },
            },
        },
        "tickets": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "id",
                    "decision",
                    "reason",
                    "team",
                    "clock_start",
                    "business_days_elapsed",
                    "due",
                ],
                "properties": {
                    "id": {"type": "integer"},
                    "decision": {"enum": list(DECISIONS)},
                    "reason": {"type": "string"},
                    "team": {"type": "string"},
                    "clock_start": _NULLABLE_STRING,
                    "business_days_elapsed": {"type": ["integer", "null"], "minimum": 0},
                    "due": {"type": ["string", "null"], "pattern": r"^\d{4}-\d\d-\d\d$"},
                },
            },
        },
    },
}


def _utc(moment: datetime, name: str) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a time-zone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _per_1000(api_calls: int, tickets: int) -> float | None:
    return round(api_calls * 1000 / tickets, 1) if tickets else None


def _row(decision: AutoSolveDecision) -> dict[str, Any]:
    due: date | None = decision.due
    return {
        "id": decision.ticket_id,
        "decision": Outcome(decision.decision).value,
        "reason": decision.reason,
        "team": decision.team,
        "clock_start": _utc(decision.clock_start, "clock_start") if decision.clock_start else None,
        "business_days_elapsed": decision.business_days_elapsed,
        "due": due.isoformat() if due is not None else None,
    }


def calendar_corrections(teams: Iterable[Team]) -> list[dict[str, str]]:
    """Each team's extra closed and working dates (`mappings/teams.toml`), by team and date."""
    rows = [
        {"team": team.key, "date": day.isoformat(), "name": name, "kind": kind}
        for team in teams
        for kind, days in (("closed", team.closed), ("working", team.working))
        for day, name in days
    ]
    return sorted(rows, key=lambda r: (r["team"], r["date"]))


def build_report(
    run_id: str,
    as_of: datetime,
    dry_run: bool,
    decisions: Iterable[AutoSolveDecision],
    *,
    api_calls: int,
    examined: int,
    changed: int,
    learned: int = 0,
    teams: Iterable[Team] = (),
) -> dict[str, Any]:
    """The run report as a JSON-ready dict (see the module docstring); one decision per ticket.

    The three counts are keyword-only: three integers in a row are too easy to swap.
    """
    if not run_id:
        raise ValueError("run_id must not be empty")
    rows = sorted((_row(d) for d in decisions), key=lambda row: row["id"])
    for before, after in itertools.pairwise(rows):
        if before["id"] == after["id"]:
            raise ValueError(f"ticket {after['id']} has more than one decision in the report")
    totals = dict.fromkeys(DECISIONS, 0)
    for row in rows:
        totals[row["decision"]] += 1
    api_calls = _count("api_calls", api_calls)
    return {
        "run_id": run_id,
        "as_of": _utc(as_of, "as_of"),
        "dry_run": bool(dry_run),
        "totals": totals,
        "api_calls": api_calls,
        "api_calls_per_1000_examined": _per_1000(api_calls, _count("examined", examined)),
        "api_calls_per_1000_changed": _per_1000(api_calls, _count("changed", changed)),
        # Tickets whose history cxlayer had not seen, so this run read their comments.
        "history_learned": _count("learned", learned),
        # The admins' corrections to the team calendars the dates were counted on.
        "calendar_corrections": calendar_corrections(teams),
        "tickets": rows,
    }


def _json(value: object, **options: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, **options)


def dumps_report(report: Mapping[str, Any]) -> str:
    """The report's JSON text: fixed key order, UTF-8, one ticket per line, trailing newline.

    One line per ticket makes `diff` of two reports (two dates, or two runs) list exactly
    the tickets whose decision, reason or dates changed.
    """
    head = {key: value for key, value in report.items() if key != "tickets"}
    lines = ["{"]
    lines.extend(f"  {_json(key)}: {_json(value)}," for key, value in head.items())
    rows = [f"    {_json(row)}" for row in report.get("tickets", ())]
    if rows:
        lines.append('  "tickets": [')
        lines.append(",\n".join(rows))
        lines.append("  ]")
    else:
        lines.append('  "tickets": []')
    lines.append("}")
    return "\n".join(lines) + "\n"


_CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 2rem; color: #1d2733; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.meta { color: #52606d; margin: 0 0 1rem; }
.mode { display: inline-block; padding: .15rem .5rem; border-radius: 4px; font-weight: 600; }
.mode.dry { background: #fff4ce; } .mode.real { background: #fde2e1; }
.totals { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0 1.5rem; padding: 0; }
.totals li { list-style: none; border: 1px solid #d5dbe1; border-radius: 6px;
             padding: .5rem .9rem; min-width: 7rem; }
.totals .n { display: block; font-size: 1.5rem; font-weight: 700; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem;
         border-bottom: 1px solid #e4e7eb; }
th { background: #f5f7fa; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.d-solve { color: #a61b1b; font-weight: 600; } .d-remind { color: #8a5a00; font-weight: 600; }
.d-conflict { color: #6b2fa0; font-weight: 600; } .d-exempt, .d-waiting_on_us { color: #3e4c59; }
"""


def _text(value: object) -> str:
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


def _rate(value: object) -> str:
    return texts.REPORT_NOT_APPLICABLE if value is None else _text(value)


def _css_class(decision: str) -> str:
    # Decision values come from a known list; anything else (a hand-edited file) gets no style.
    return f"d-{decision}" if decision in DECISIONS else "d-unknown"


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained page (inline CSS, no scripts or external assets); all text escaped."""
    run_id = str(report["run_id"])
    title = texts.REPORT_TITLE.format(run_id=run_id)
    mode = (
        f'<span class="mode dry">{_text(texts.REPORT_DRY_RUN)}</span>'
        if report["dry_run"]
        else f'<span class="mode real">{_text(texts.REPORT_REAL_RUN)}</span>'
    )
    meta = " · ".join(
        (
            texts.REPORT_AS_OF.format(as_of=report["as_of"]),
            texts.REPORT_API_CALLS.format(api_calls=report["api_calls"]),
            texts.REPORT_PER_1000_EXAMINED.format(
                value=_rate(report.get("api_calls_per_1000_examined"))
            ),
            texts.REPORT_PER_1000_CHANGED.format(
                value=_rate(report.get("api_calls_per_1000_changed"))
            ),
            texts.REPORT_LEARNED.format(count=report.get("history_learned", 0)),
        )
    )
    totals = "".join(
        f'<li class="{_css_class(str(decision))}"><span class="n">{_text(count)}</span>'
        f"{_text(texts.DECISION_LABELS.get(str(decision), decision))}</li>"
        for decision, count in report["totals"].items()
    )
    corrections = "".join(
        f"<li>{_text(texts.REPORT_CALENDAR_ROW.format(**row))}</li>"
        for row in report.get("calendar_corrections") or ()
    )
    calendars = (
        f"<h2>{_text(texts.REPORT_CALENDARS)}</h2>\n<ul>{corrections}</ul>\n" if corrections else ""
    )
    head = "".join(f"<th>{_text(c)}</th>" for c in texts.REPORT_COLUMNS)
    rows = []
    for ticket in report["tickets"]:
        decision = str(ticket["decision"])
        label = texts.DECISION_LABELS.get(decision, decision)
        rows.append(
            "<tr>"
            f'<td class="num">{_text(ticket["id"])}</td>'
            f'<td class="{_css_class(decision)}">{_text(label)}</td>'
            f"<td>{_text(ticket['reason'])}</td>"
            f"<td>{_text(ticket['team'])}</td>"
            f"<td>{_text(ticket['clock_start'])}</td>"
            f'<td class="num">{_text(ticket["business_days_elapsed"])}</td>'
            f"<td>{_text(ticket['due'])}</td>"
            "</tr>"
        )
    body = (
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
        if rows
        else f"<p>{_text(texts.REPORT_NO_TICKETS)}</p>"
    )
    drift = report.get("drift") or []
    if drift:
        items = "".join(f"<li>#{_text(d['id'])}: {_text(d.get('status'))}</li>" for d in drift)
        body += f"\n<h2>{_text(texts.REPORT_DRIFT)}</h2>\n<ul>{items}</ul>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_text(title)}</h1>\n"
        f'<p class="meta">{mode} {_text(meta)}</p>\n'
        f'<ul class="totals">{totals}</ul>\n'
        f"{calendars}{body}\n</body>\n</html>\n"
    )


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a crash never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: Mapping[str, Any], path: Path | str) -> tuple[Path, Path]:
    """Write the JSON to `path` and the HTML page beside it (same name, .html).

    Both texts are rendered before either file is written, and each file is replaced
    atomically, so bad input or a crash never leaves a truncated report. Returns both paths.
    """
    json_path = Path(path)
    if json_path.suffix.lower() == ".html":
        raise ValueError(f"report path {json_path} is the HTML name; give the .json path")
    html_path = json_path.with_suffix(".html")
    json_text = dumps_report(report)
    html_text = render_html(report)  # both rendered before either is written
    _atomic_write(json_path, json_text)
    _atomic_write(html_path, html_text)
    return json_path, html_path
