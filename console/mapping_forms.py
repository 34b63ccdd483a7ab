"""The mapping edit forms: a team's calendar as fields, each file as TOML text; both are
validated by the same loader as `mappings validate`, and each problem is shown beside the
field its key path names."""

from __future__ import annotations

from typing import Any

import tomlkit
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
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
        choices=[(d, d.capitalize()) for d in DAYS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    hours = StringField("Hours")
    holiday_country = StringField("Holiday country")
    holiday_subdivision = StringField("Holiday subdivision", validators=[Optional()])
    support = BooleanField("Runs the support desk")
    summary = StringField("What changed (for the history)")


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
    return tomlkit.dumps(document)


def team_problems(problems: list[Problem], index: int) -> tuple[dict[str, list[str]], list[str]]:
    """Problems of teams.toml entry `index` by form field; the rest, as the CLI prints them."""
    prefix = f"team[{index}]."
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for problem in problems:
        name = problem.file.rsplit("/", 1)[-1]
        if name == "teams.toml" and problem.path.startswith(prefix):
            key = problem.path[len(prefix) :]
            key = key.split("[", 1)[0]
            field = TEAM_FIELD_OF_KEY.get(key) or TEAM_FIELD_OF_KEY.get(key.split(".", 1)[0])
            if field:
                by_field.setdefault(field, []).append(problem.message)
                continue
        other.append(str(problem))
    return by_field, other
