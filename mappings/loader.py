"""Load mappings/*.toml into a Mappings object, or report every problem with file, key path and line."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

from mappings.model import Mappings, Product, ResolutionGroup, ResolutionType, Status, Team
from mappings.schemas import (
    ProductsFileSchema,
    ResolutionTypesFileSchema,
    StatusesFileSchema,
    TeamsFileSchema,
    parse_hours,
)

DEFAULT_DIR = Path(__file__).resolve().parent

FILES: dict[str, type[Schema]] = {
    "statuses.toml": StatusesFileSchema,
    "resolution_types.toml": ResolutionTypesFileSchema,
    "teams.toml": TeamsFileSchema,
    "products.toml": ProductsFileSchema,
}


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        if self.line:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


class MappingError(Exception):
    """Invalid mappings; `problems` lists every one of them, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid mappings:\n" + "\n".join(f"  {p}" for p in problems))


def load_mappings(directory: Path | str | None = None) -> Mappings:
    """Parse, validate and cross-check all mapping files; raise MappingError listing all problems."""
    directory = Path(directory) if directory else DEFAULT_DIR
    problems: list[Problem] = []
    loaded: dict[str, dict[str, Any]] = {}
    for name, schema in FILES.items():
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(Problem(str(path), "", "file not found"))
            continue
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # Python < 3.14 has no exc.lineno; the message ends "(at line N, column M)".
            found = re.search(r"at line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
            problems.append(Problem(str(path), "", f"malformed TOML: {exc}", line))
            continue
        try:
            loaded[name] = schema().load(raw)
        except ValidationError as exc:
            problems.extend(
                Problem(str(path), key_path, message, _locate(text, key_path))
                for key_path, message in _flatten(exc.messages)
            )
    if problems:
        raise MappingError(problems)

    mappings = _build(loaded)
    problems = [
        Problem(
            str(directory / file),
            key_path,
            message,
            _locate((directory / file).read_text(), key_path),
        )
        for file, key_path, message in _cross_check(mappings)
    ]
    if problems:
        raise MappingError(problems)
    return mappings


def _build(loaded: dict[str, dict[str, Any]]) -> Mappings:
    statuses = tuple(Status(**s) for s in loaded["statuses.toml"]["status"])
    groups = []
    for g in loaded["resolution_types.toml"]["group"]:
        entries = g["type"] or [{**{k: v for k, v in g.items() if k not in {"key", "type"}}}]
        types = tuple(
            ResolutionType(
                value=t["value"],
                group=g["name"],
                name=t["name"],
                definition=t["definition"],
                managed_by=t["managed_by"],
                requires_data_maintenance_approval=t.get(
                    "requires_data_maintenance_approval", False
                ),
                products=tuple(t.get("products") or ()),
                assign_team=t.get("assign_team"),
                reserved_for=t.get("reserved_for"),
            )
            for t in entries
        )
        groups.append(ResolutionGroup(key=g["key"], name=g["name"], types=types))
    teams_file = loaded["teams.toml"]
    teams = []
    for t in teams_file["team"]:
        start, end = parse_hours(t["hours"])
        teams.append(
            Team(
                key=t["key"],
                name=t["name"],
                zendesk_group=t["zendesk_group"],
                timezone=t["timezone"],
                days=tuple(t["days"]),
                start=start,
                end=end,
                holiday_country=t["holidays"]["country"],
                holiday_subdivision=t["holidays"].get("subdivision"),
                support=t["support"],
                closed=tuple((d["date"], d["name"]) for d in t.get("closed") or ()),
                working=tuple((d["date"], d["name"]) for d in t.get("working") or ()),
            )
        )
    products = tuple(Product(**p) for p in loaded["products.toml"]["product"])
    return Mappings(
        statuses=statuses,
        groups=tuple(groups),
        teams=tuple(teams),
        default_team=teams_file["default_team"],
        products=products,
    )


def _cross_check(m: Mappings) -> list[tuple[str, str, str]]:
    """References between files, and tags that must be unique across every Zendesk field."""
    problems: list[tuple[str, str, str]] = []
    team_keys = {t.key for t in m.teams}
    product_keys = {p.key for p in m.products}
    tags: dict[str, str] = {}

    def claim(tag: str, owner: str, file: str, key_path: str) -> None:
        if tag in tags:
            problems.append((file, key_path, f"duplicate machine value {tag!r} (also {tags[tag]})"))
        else:
            tags[tag] = owner

    for s_index, status in enumerate(m.statuses):
        claim(status.tag, f"status {status.value!r}", "statuses.toml", f"status[{s_index}].value")
    for g_index, group in enumerate(m.groups):
        leaf = len(group.types) == 1 and group.types[0].name == group.name
        for t_index, rtype in enumerate(group.types):
            base = f"group[{g_index}]" if leaf else f"group[{g_index}].type[{t_index}]"
            claim(
                rtype.value,
                f"resolution type {rtype.option_name!r}",
                "resolution_types.toml",
                base + ".value",
            )
            if rtype.assign_team and rtype.assign_team not in team_keys:
                problems.append(
                    (
                        "resolution_types.toml",
                        base + ".assign_team",
                        f"unknown team {rtype.assign_team!r}",
                    )
                )
            for p_index, product_key in enumerate(rtype.products):
                if product_key not in product_keys:
                    problems.append(
                        (
                            "resolution_types.toml",
                            f"{base}.products[{p_index}]",
                            f"unknown product {product_key!r}",
                        )
                    )
    for p_index, product in enumerate(m.products):
        claim(
            product.value, f"product {product.key!r}", "products.toml", f"product[{p_index}].value"
        )
        if product.team not in team_keys:
            problems.append(
                ("products.toml", f"product[{p_index}].team", f"unknown team {product.team!r}")
            )
    return problems


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict -> [("group[3].type[0].value", "message"), ...]."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, path))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, dict | list):
                out.extend(_flatten(item, prefix))
            else:
                out.append((prefix, str(item)))
    else:
        out.append((prefix, str(messages)))
    return out


_SEGMENT = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


def _locate(text: str, key_path: str) -> int | None:
    """Best-effort line number of a key path such as 'group[3].type[1].value' in TOML text."""
    if not key_path:
        return None
    lines = text.splitlines()
    position = 0
    table: list[str] = []
    found: int | None = None
    for name, index in _SEGMENT.findall(key_path):
        if index:
            header = re.compile(r"^\s*\[\[\s*" + re.escape(".".join([*table, name])) + r"\s*\]\]")
            seen = -1
            for number in range(position, len(lines)):
                if header.match(lines[number]):
                    seen += 1
                    if seen == int(index):
                        position = number + 1
                        found = number + 1
                        table.append(name)
                        break
            else:
                return found
        else:
            key = re.compile(r"^\s*" + re.escape(name) + r"\s*=")
            for number in range(position, len(lines)):
                if number > position and lines[number].lstrip().startswith("[["):
                    break
                if key.match(lines[number]):
                    return number + 1
            return found
    return found
