"""Sandbox test fixtures: the sandbox itself (from sandbox.testing) and the OAS response validator."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from sandbox.testing import sandbox, sandbox_zenpy  # noqa: F401 -- re-exported fixtures

OAS_PATH = Path(__file__).resolve().parents[3] / "shared" / "zendesk" / "oas.yaml"

# Properties that real Zendesk answers as null although the OAS does not mark them nullable
# (e.g. an unassigned ticket's assignee_id). Kept explicit and short so the rest stays strict.
KNOWN_NULLABLE: dict[str, tuple[str, ...]] = {
    "TicketObject": (
        "assignee_id",
        "group_id",
        "organization_id",
        "type",
        "priority",
        "external_id",
        "problem_id",
        "forum_topic_id",
        "recipient",
        "satisfaction_rating",
        "ticket_form_id",
        "brand_id",
        "custom_status_id",
    ),
    "TicketMetricObject": (
        "assignee_updated_at",
        "initially_assigned_at",
        "assigned_at",
        "solved_at",
        "latest_comment_added_at",
        "requester_updated_at",
    ),
    "TicketFieldObject": ("agent_description", "creator_user_id", "creator_app_name"),
    "SearchResultObject": ("name", "default", "deleted"),
    # Durations are {"calendar": null, "business": null} until they apply (not solved yet).
    "TicketMetricTimeObject": ("calendar", "business"),
    "UserForAdmin": ("default_group_id", "signature", "last_login_at"),
}


# Custom field values are strings, booleans (checkbox), lists (multiselect), numbers or null in
# Zendesk's answers; the OAS says string. Any JSON value is accepted at these paths.
ANY_VALUE: dict[str, tuple[str, ...]] = {"TicketObject": ("custom_fields.items.value",)}


def _loosen(schema: dict[str, Any], dotted: str) -> None:
    node = schema
    for part in dotted.split("."):
        node = node["items"] if part == "items" else node["properties"][part]
    for key in ("type", "format", "enum"):
        node.pop(key, None)


def _convert(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out or "allOf" in out or "oneOf" in out or "anyOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class OAS:
    """Zendesk's OpenAPI description, loaded once per test session."""

    def __init__(self, path: Path) -> None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with path.open(encoding="utf-8") as handle:
            self.doc: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 -- a safe loader
        schemas = copy.deepcopy(self.doc["components"]["schemas"])
        for name, props in KNOWN_NULLABLE.items():
            for prop in props:
                spec = schemas[name].setdefault("properties", {}).setdefault(prop, {})
                spec["nullable"] = True
        for name, paths in ANY_VALUE.items():
            for dotted in paths:
                _loosen(schemas[name], dotted)
        self.root = {"components": {"schemas": _convert(schemas)}}

    def response_schema(self, method: str, path: str, status: int) -> dict[str, Any]:
        """The JSON schema the OAS documents for `method path` answering `status`."""
        template = self._template(path)
        responses = self.doc["paths"][template][method.lower()]["responses"]
        response = responses.get(str(status))
        if response is None:
            raise AssertionError(f"OAS documents no {status} for {method} {template}")
        if "$ref" in response:
            response = self.doc["components"]["responses"][response["$ref"].split("/")[-1]]
        schema = response["content"]["application/json"]["schema"]
        return _convert(schema)  # type: ignore[no-any-return]

    def _template(self, path: str) -> str:
        path = path.split("?", maxsplit=1)[0].removesuffix(".json")
        if path in self.doc["paths"]:
            return path
        for template in self.doc["paths"]:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path) and "{" in template:
                return template
        raise AssertionError(f"OAS has no path matching {path}")

    def validate_object(self, schema_name: str, body: Any) -> None:
        """For the few places where the OAS itself is wrong about the envelope."""
        schema = {**self.root, "$ref": f"#/components/schemas/{schema_name}"}
        jsonschema.Draft7Validator(schema).validate(body)

    def validate(self, method: str, path: str, status: int, body: Any) -> None:
        schema = {**self.root, **self.response_schema(method, path, status)}
        jsonschema.Draft7Validator(schema).validate(body)


@pytest.fixture(scope="session")
def oas() -> OAS:
    return OAS(OAS_PATH)


@pytest.fixture
def checked(oas: OAS) -> Callable[[requests.Response], Any]:
    """Validate a response against the OAS for its own method, path and status; return its JSON."""

    def check(response: requests.Response) -> Any:
        request = response.request
        path = requests.utils.urlparse(str(request.url)).path
        body = response.json()
        oas.validate(str(request.method), path, response.status_code, body)
        return body

    return check
