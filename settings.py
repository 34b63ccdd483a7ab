"""Settings: settings.toml overridden by CXLAYER_<SECTION>_<KEY> variables; secrets from env only.

The environment is passed in explicitly (never read at import time) so tests and the
embedded demo can build an app from a plain dict.
"""

from __future__ import annotations

import copy
import difflib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DEFAULT_SETTINGS_FILE = ROOT / "settings.toml"
ENV_PREFIX = "CXLAYER_"
# Variables of the test suite itself (e.g. CXLAYER_TEST_DATABASE_URL), never settings.
TEST_ENV_PREFIX = "CXLAYER_TEST_"

# Values that may only come from the environment. (section, key) -> kind.
SECRETS: dict[tuple[str, str], type] = {
    ("zendesk", "token"): str,
    ("zendesk", "oauth_token"): str,
    ("webhook", "secrets"): list,
    ("database", "url"): str,
    ("admin", "password_hash"): str,
    ("console", "secret_key"): str,
    ("console", "oauth_client_secret"): str,
    ("sidebar", "secret"): str,  # signs the agent sidebar's sessions
}

Settings = dict[str, dict[str, Any]]


class SettingsError(Exception):
    """Settings that cannot be used; the message names the file or variable at fault."""


def env_name(section: str, key: str) -> str:
    """The public environment variable name of a setting."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def _coerce(raw: str, like: Any, name: str) -> Any:
    """Convert an environment string to the type of the default it overrides."""
    try:
        if isinstance(like, bool):
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {raw!r}")
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
        if isinstance(like, list) or like is list:
            stripped = raw.strip()
            if stripped.startswith("["):
                value = json.loads(stripped)
                if not isinstance(value, list):
                    raise ValueError("expected a JSON list")
                return value
            return [part.strip() for part in stripped.split(",") if part.strip()]
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(
            type(like), "a comma-separated list or a JSON list"
        )
        if not isinstance(like, (bool, int, float)):  # lists may be secrets: never echoed
            raise SettingsError(f"{name} is not valid: expected {kind}") from None
        raise SettingsError(
            f"{name}={raw!r} is not valid: expected {kind} (the default is {like!r})"
        ) from None
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None,
    path: Path | str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read settings.toml, then apply environment variables, then explicit overrides."""
    path = Path(path) if path else DEFAULT_SETTINGS_FILE
    try:
        with path.open("rb") as fh:
            data: Settings = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None

    for section, key in SECRETS:
        if key in data.get(section, {}):
            raise SettingsError(
                f"{path}: [{section}] {key} is a secret; set {env_name(section, key)} "
                "in the environment instead of writing it in a file"
            )

    settings = copy.deepcopy(data)
    for (section, key), kind in SECRETS.items():
        settings.setdefault(section, {})[key] = [] if kind is list else ""

    for name, raw in (environ or {}).items():
        if not name.startswith(ENV_PREFIX) or name.startswith(TEST_ENV_PREFIX):
            continue
        section, key = _split_env_name(name, settings)
        like = list if SECRETS.get((section, key)) is list else settings[section][key]
        settings[section][key] = _coerce(raw, like, name)

    for section, values in (overrides or {}).items():
        settings.setdefault(section, {}).update(values)
    return settings


def _split_env_name(name: str, settings: Settings) -> tuple[str, str]:
    rest = name[len(ENV_PREFIX) :].lower()
    for section in sorted(settings, key=len, reverse=True):
        prefix = section + "_"
        if rest.startswith(prefix) and rest[len(prefix) :] in settings[section]:
            return section, rest[len(prefix) :]
    known = sorted(env_name(s, k) for s, keys in settings.items() for k in keys)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "see README.md, Configuration reference"
    raise SettingsError(f"{name} is not a cxlayer setting: {hint}")


def secret_values(settings: Settings) -> list[str]:
    """Every secret value in use, so the log redactor can hide them wherever they appear."""
    values: list[str] = []
    for section, key in SECRETS:
        value = settings.get(section, {}).get(key)
        if isinstance(value, list):
            values.extend(str(v) for v in value if v)
        elif value:
            values.append(str(value))
    return values


def require(settings: Settings, *names: tuple[str, str]) -> None:
    """Fail with the variable names when settings a command needs are missing."""
    missing = [env_name(s, k) for s, k in names if not settings.get(s, {}).get(k)]
    if missing:
        raise SettingsError("missing required setting(s): " + ", ".join(missing))


def require_zendesk_credentials(settings: Settings) -> None:
    """Zendesk needs an email + API token, or an OAuth token."""
    zendesk = settings["zendesk"]
    if zendesk.get("oauth_token"):
        return
    require(settings, ("zendesk", "email"), ("zendesk", "token"))
