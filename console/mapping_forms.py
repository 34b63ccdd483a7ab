"""The mapping edit forms: a team's calendar as fields, each file as TOML text; both are
validated by the same loader as `mappings validate`, and each problem is shown beside the
field its key path names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import tomlkit
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from mappings import Problem

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TeamForm(FlaskForm):
    name = StringField("Name")
    zendesk_group = StringField("Zendesk group")
    timezone = StringField("Time zone")
    days = SelectMultipleField(
        "Working days",
        choices=[SelectChoice(d, d.capitalize()) for d in DAYS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    hours = StringField("Hours")
    holiday_country = StringField("Holiday country")
    holiday_subdivision = StringField("Holiday subdivision", validators=[Optional()])
    support = BooleanField("Runs the support desk")
    closed = TextAreaField("Extra closed dates", validators=[Optional()], render_kw={"rows": 3})
    working = TextAreaField("Extra working dates", validators=[Optional()], render_kw={"rows": 3})
    summary = StringField("What changed (for the history)")


# The extra closed/working dates (teams.toml `closed` / `working`) are edited one per line as
# "YYYY-MM-DD name", e.g. "2026-12-24 Company closure".
CALENDAR_KEYS = ("closed", "working")


def calendar_lines(entries: Any) -> str:
    """A `closed`/`working` list as the form's lines."""
    out = []
    for entry in entries or ():
        day = entry.get("date", "")
        text = day.isoformat() if hasattr(day, "isoformat") else str(day)
        out.append(f"{text} {entry.get('name', '')}".rstrip())
    return "\n".join(out)


def calendar_entries(text: str) -> Any:
    """The form's lines as a TOML array of inline tables, one per non-blank line. A date that
    is not YYYY-MM-DD is kept as text, so the loader reports it with the CLI's message."""
    array = tomlkit.array()
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        day, _, name = line.strip().partition(" ")
        entry = tomlkit.inline_table()
        try:
            entry["date"] = date.fromisoformat(day.strip().rstrip(":,"))
        except ValueError:
            entry["date"] = day
        entry["name"] = name.strip().lstrip(":,-").strip()
        array.append(entry)
    if len(array) > 1:
        array.multiline(True)
    return array


# Which form field shows a problem whose key path ends with this key of a team entry.
TEAM_FIELD_OF_KEY = {
    "name": "name",
    "zendesk_group": "zendesk_group",
    "timezone": "timezone",
    "days": "days",
    "hours": "hours",
    "holidays": "holiday_country",
    "holidays.country": "holiday_country",
    "holidays.subdivision": "holiday_subdivision",
    "support": "support",
    "closed": "closed",
    "working": "working",
}


class FileForm(FlaskForm):
    text = TextAreaField("TOML")
    summary = StringField("What changed (for the history)")


def team_index(teams_text: str, key: str) -> int | None:
    document = tomlkit.parse(teams_text)
    for index, team in enumerate(document.get("team", [])):
        if team.get("key") == key:
            return index
    return None


def team_values(teams_text: str, index: int) -> dict[str, Any]:
    team = tomlkit.parse(teams_text)["team"][index]
    holidays = team.get("holidays") or {}
    return {
        "name": team.get("name", ""),
        "zendesk_group": team.get("zendesk_group", ""),
        "timezone": team.get("timezone", ""),
        "days": list(team.get("days", [])),
        "hours": team.get("hours", ""),
        "holiday_country": holidays.get("country", ""),
        "holiday_subdivision": holidays.get("subdivision", "") or "",
        "support": bool(team.get("support", True)),
        "closed": calendar_lines(team.get("closed")),
        "working": calendar_lines(team.get("working")),
    }


def edit_team(teams_text: str, index: int, form: TeamForm) -> str:
    """teams.toml with entry `index` changed to the form's values (comments kept)."""
    document = tomlkit.parse(teams_text)
    team = document["team"][index]
    wanted: dict[str, Any] = {
        "name": form.name.data or "",
        "zendesk_group": form.zendesk_group.data or "",
        "timezone": form.timezone.data or "",
        "days": list(form.days.data or []),
        "hours": form.hours.data or "",
    }
    for key, value in wanted.items():  # untouched keys keep their spelling in the file
        if team.get(key) != value:
            team[key] = value
    holidays = {"country": form.holiday_country.data or ""}
    if form.holiday_subdivision.data:
        holidays["subdivision"] = form.holiday_subdivision.data
    if dict(team.get("holidays") or {}) != holidays:
        table = tomlkit.inline_table()
        table.update(holidays)
        team["holidays"] = table
    if form.support.data:
        if "support" in team:
            del team["support"]
    else:
        team["support"] = False
    for key in CALENDAR_KEYS:
        text = getattr(form, key).data or ""
        if text.strip() == calendar_lines(team.get(key)).strip():
            continue  # unchanged: the file keeps its spelling
        if text.strip():
            team[key] = calendar_entries(text)
        elif key in team:
            del team[key]
    return tomlkit.dumps(document)


_LINE = re.compile(r"^(?:closed|working)\[(\d+)\]")


def team_problems(problems: list[Problem], index: int) -> tuple[dict[str, list[str]], list[str]]:
    """Problems of teams.toml entry `index` by form field; the rest, as the CLI prints them."""
    prefix = f"team[{index}]."
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for problem in problems:
        name = problem.file.rsplit("/", 1)[-1]
        where = problem.key_path or problem.path  # by position, as the form's fields are named
        if name == "teams.toml" and where.startswith(prefix):
            key = where[len(prefix) :]
            line = _LINE.match(key)
            key = key.split("[", 1)[0]
            field = TEAM_FIELD_OF_KEY.get(key) or TEAM_FIELD_OF_KEY.get(key.split(".", 1)[0])
            if field:
                message = problem.message
                if field in CALENDAR_KEYS and line:  # which line of the text area
                    message = f"line {int(line[1]) + 1}: {message}"
                by_field.setdefault(field, []).append(message)
                continue
        other.append(str(problem))
    return by_field, other


# ------------------------------------------------------------------ every file as fields
# Each `[[entry]]` of a mapping file becomes a fieldset, each of its values a field named by its
# key path (the path `mappings validate` prints, e.g. "group[2].type[0].definition"), so a
# problem is shown beside the field it names. Lists are edited comma-separated.

_SEGMENT = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


@dataclass
class EntryField:
    path: str
    key: str
    kind: str  # str | bool | int | float | list
    value: Any

    @property
    def dom_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]+", "-", self.path).strip("-")

    @property
    def text(self) -> str:
        if self.kind == "list":
            return ", ".join(str(v) for v in self.value)
        return "" if self.value is None else str(self.value)


@dataclass
class Entry:
    path: str  # "" for the file's top-level values
    title: str
    fields: list[EntryField] = field(default_factory=list)


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return "list"
    return None


def _scalars(table: Any, prefix: str) -> tuple[list[EntryField], list[tuple[str, Any]]]:
    """Editable values of a table (inline tables flattened) and its arrays of tables."""
    found: list[EntryField] = []
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            inner, deeper = _scalars(value, path)
            found.extend(inner)
            nested.extend(deeper)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested.append((path, value))
        else:
            kind = _kind(value)
            if kind:
                found.append(EntryField(path, path.rsplit(".", 1)[-1], kind, value))
    return found, nested


def _title(item: Any, fallback: str) -> str:
    for key in ("name", "agent_label", "key", "value"):
        if isinstance(item.get(key), str) and item.get(key):
            return str(item[key])
    return fallback


def file_entries(text: str) -> list[Entry]:
    """The file's values as fieldsets: top-level values first, then each entry, its own
    entries (a group's types) right after it."""
    document = tomlkit.parse(text).unwrap()
    top, arrays = _scalars(document, "")
    entries = [Entry("", "File settings", top)] if top else []

    def walk(path: str, items: list[Any]) -> None:
        for index, item in enumerate(items):
            prefix = f"{path}[{index}]"
            values, deeper = _scalars(item, prefix)
            entries.append(Entry(prefix, _title(item, prefix), values))
            for inner_path, inner_items in deeper:
                walk(inner_path, inner_items)

    for path, items in arrays:
        walk(path, items)
    return entries


def _parent(document: Any, path: str) -> tuple[Any, str]:
    node = document
    segments = _SEGMENT.findall(path)
    for name, index in segments[:-1]:
        node = node[name]
        if index:
            node = node[int(index)]
    return node, segments[-1][0]


def _parsed(kind: str, raw: str) -> Any:
    raw = raw.strip()
    if kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind in ("int", "float"):
        try:
            return int(raw) if kind == "int" else float(raw)
        except ValueError:
            return raw  # left to the schema, which names the problem as the CLI does
    return raw


def edit_file(text: str, form: Mapping[str, str], checked: set[str], shown: set[str]) -> str:
    """The file with every field's posted value (`form["f:<path>"]`; a boolean shown on the
    page is true when in `checked`); values that did not change keep their spelling."""
    document = tomlkit.parse(text)
    for entry in file_entries(text):
        for item in entry.fields:
            if item.kind == "bool":
                if item.path not in shown:
                    continue
                value: Any = item.path in checked
            else:
                posted = form.get("f:" + item.path)
                if posted is None:
                    continue
                value = _parsed(item.kind, posted)
            if value != item.value:
                parent, key = _parent(document, item.path)
                parent[key] = value
    return tomlkit.dumps(document)


def file_problems(
    problems: list[Problem], name: str, entries: list[Entry]
) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """Problems by field path, by entry path, and the rest (as the CLI prints them)."""
    fields = {f.path for e in entries for f in e.fields}
    entry_paths = {e.path for e in entries}
    by_field: dict[str, list[str]] = {}
    by_entry: dict[str, list[str]] = {}
    other: list[str] = []
    for problem in problems:
        where = problem.key_path or problem.path  # by position, as the form's fields are named
        if problem.file.rsplit("/", 1)[-1] == name:
            path = re.sub(r"\[\d+\]$", "", where) if where not in fields else where
            if path in fields:
                by_field.setdefault(path, []).append(problem.message)
                continue
            owner = next(
                (
                    p
                    for p in sorted(entry_paths, key=len, reverse=True)
                    if p and where.startswith(p)
                ),
                None,
            )
            if owner:
                by_entry.setdefault(owner, []).append(f"{problem.path}: {problem.message}")
                continue
        other.append(str(problem))
    return by_field, by_entry, other
