"""Load mappings/*.toml into a Mappings object, or report every problem with file, key path and line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

from mappings.model import (
    STATUS_TAG_PREFIX,
    Mappings,
    Product,
    ResolutionGroup,
    ResolutionType,
    Status,
    Team,
)
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
    """One problem: `path` locates it by the names written in the file (`group "Redirect" ›
    type "Other" › value`); `key_path` is the same place by position (`group[7].type[1].value`)."""

    file: str
    path: str
    message: str
    line: int | None = None
    key_path: str = ""

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
    return load_mapping_texts(read_mapping_texts(directory), directory)


def read_mapping_texts(directory: Path | str | None = None) -> dict[str, str | None]:
    """{file name: TOML text, or None when the file is missing} of the four mapping files."""
    directory = Path(directory) if directory else DEFAULT_DIR
    texts: dict[str, str | None] = {}
    for name in FILES:
        try:
            texts[name] = (directory / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            texts[name] = None
    return texts


def load_mapping_texts(
    file_texts: Mapping[str, str | None], directory: Path | str | None = None
) -> Mappings:
    """`load_mappings` on file texts (e.g. a version stored in the database): the same checks and
    messages; problems name `directory / file` (just the file name when no directory is given)."""
    directory = Path(directory) if directory is not None else Path()
    problems: list[Problem] = []
    loaded: dict[str, dict[str, Any]] = {}
    raws: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    for name, schema in FILES.items():
        path = directory / name
        text = file_texts.get(name)
        if text is None:
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
        raws[name], texts[name] = raw, text
        try:
            loaded[name] = schema().load(raw)
        except ValidationError as exc:
            problems.extend(
                _problem(str(path), raw, text, key_path, message)
                for key_path, message in _flatten(exc.messages)
            )
    # References between files are checked in the same pass, on what could be read: every
    # problem is reported at once, not the basic ones first.
    problems += [
        _problem(str(directory / file), raws[file], texts[file], key_path, message)
        for file, key_path, message in _cross_check(raws)
    ]
    if problems:
        raise MappingError(problems)
    return _build(loaded)


def _problem(file: str, raw: Any, text: str, key_path: str, message: str) -> Problem:
    return Problem(file, _named(raw, key_path), message, _locate(text, key_path), key_path)


def _label(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ("name", "key", "value", "agent_label"):
            if isinstance(item.get(key), str) and item[key]:
                return str(item[key])
    return None


def _named(raw: Any, key_path: str) -> str:
    """'group[7].type[1].value' → 'group "Redirect" › type "Other (…)" › value', by the names
    the admin wrote (position where an entry has no name)."""
    node = raw
    parts: list[str] = []
    for name, index in _SEGMENT.findall(key_path):
        node = node.get(name) if isinstance(node, dict) else None
        if index:
            position = int(index)
            item = node[position] if isinstance(node, list) and position < len(node) else None
            label = _label(item)
            parts.append(f'{name} "{label}"' if label else f"{name}[{index}]")
            node = item
        else:
            parts.append(name)
    return " › ".join(parts)


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


def _entries(raw: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    items = (raw or {}).get(key)
    return [i if isinstance(i, dict) else {} for i in items] if isinstance(items, list) else []


def _cross_check(raws: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """References between files, and tags that must be unique across every Zendesk field, on
    the raw files (so they are checked even when another part of a file is invalid); a
    reference into a file that could not be read is not reported again."""
    problems: list[tuple[str, str, str]] = []
    teams_raw, products_raw = raws.get("teams.toml"), raws.get("products.toml")
    team_keys = {t.get("key") for t in _entries(teams_raw, "team")}
    product_keys = {p.get("key") for p in _entries(products_raw, "product")}
    tags: dict[str, str] = {}

    def claim(tag: Any, owner: str, file: str, key_path: str) -> None:
        if not isinstance(tag, str):
            return
        if tag in tags:
            problems.append((file, key_path, f"duplicate machine value {tag!r} (also {tags[tag]})"))
        else:
            tags[tag] = owner

    for s_index, status in enumerate(_entries(raws.get("statuses.toml"), "status")):
        value = status.get("value")
        if isinstance(value, str):
            claim(
                STATUS_TAG_PREFIX + value,
                f"status {value!r}",
                "statuses.toml",
                f"status[{s_index}].value",
            )
    for g_index, group in enumerate(_entries(raws.get("resolution_types.toml"), "group")):
        types = _entries(group, "type")
        entries = [(f"group[{g_index}].type[{i}]", t) for i, t in enumerate(types)] or [
            (f"group[{g_index}]", group)
        ]
        for base, rtype in entries:
            name = rtype.get("name")
            owner = f"{group.get('name')}::{name}" if types else str(group.get("name"))
            claim(
                rtype.get("value"),
                f"resolution type {owner!r}",
                "resolution_types.toml",
                base + ".value",
            )
            team = rtype.get("assign_team")
            if team and teams_raw is not None and team not in team_keys:
                problems.append(
                    ("resolution_types.toml", base + ".assign_team", f"unknown team {team!r}")
                )
            products = rtype.get("products") or []
            for p_index, product_key in enumerate(products if isinstance(products, list) else []):
                if products_raw is not None and product_key not in product_keys:
                    problems.append(
                        (
                            "resolution_types.toml",
                            f"{base}.products[{p_index}]",
                            f"unknown product {product_key!r}",
                        )
                    )
    for p_index, product in enumerate(_entries(products_raw, "product")):
        claim(
            product.get("value"),
            f"product {product.get('key')!r}",
            "products.toml",
            f"product[{p_index}].value",
        )
        team = product.get("team")
        if teams_raw is not None and team not in team_keys:
            problems.append(("products.toml", f"product[{p_index}].team", f"unknown team {team!r}"))
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
