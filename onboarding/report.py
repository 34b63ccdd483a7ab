"""The adoption report: JSON (for tools) and a plain HTML page (for admins), written atomically."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autosolve.report import _atomic_write

SUMMARY_KEYS = (
    "listed",
    "changed",
    "would_change",
    "left_alone",
    "deferred",
    "conflicts",
    "errors",
    "update_many_calls",
    "api_calls",
    "who_spoke_last_primed",
    "duplicate_index_tickets",
)


def render_html(report: Mapping[str, Any]) -> str:
    esc = html.escape
    summary = "".join(
        f"<tr><th>{esc(k.replace('_', ' '))}</th><td>{esc(str(report.get(k)))}</td></tr>"
        for k in SUMMARY_KEYS
    )
    rows = "".join(
        "<tr>"
        f"<td>#{t['ticket_id']}</td><td>{esc(t['action'])}</td>"
        f"<td>{esc(str(t['before'].get('status', '')))}</td>"
        f"<td>{esc(str(t['after'].get('status', '')))}</td>"
        f"<td>{esc(t['reason'])}</td>"
        "</tr>"
        for t in report.get("tickets") or []
    )
    title = "Adoption" + (" (dry run: nothing written)" if report.get("dry_run") else "")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>"
        f"</head><body><h1>{esc(title)}</h1><p>{esc(str(report.get('started_at')))}</p>"
        f"<table>{summary}</table><h2>Tickets</h2><table><tr><th>ticket</th><th>action</th>"
        f"<th>status before</th><th>status after</th><th>why</th></tr>{rows}</table>"
        "</body></html>\n"
    )


def write_report(report: Mapping[str, Any], path: Path) -> tuple[Path, Path]:
    """JSON at `path`, HTML beside it; both rendered before either is written."""
    json_text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    html_text = render_html(report)
    html_path = path.with_suffix(".html")
    _atomic_write(path, json_text)
    _atomic_write(html_path, html_text)
    return path, html_path
