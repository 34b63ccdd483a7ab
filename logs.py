"""Structured logging, configured once before the app: JSON off a terminal, console on one.

Context (ticket id, invocation id, run id) is bound with structlog's contextvars, and a
redacting processor removes secrets by key name and by value before anything is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(token|secret|password|authorization|api[_-]?key|signature)", re.I)
# Credentials in URLs (postgresql://user:pw@host) and HTTP auth headers inside strings.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)(?=@)", re.I)
_AUTH_HEADER = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]+", re.I)


class SecretRedactor:
    """structlog processor: secrets never reach a log line."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: list[str] = []
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        for value in values:
            # Very short values would redact ordinary words; secrets are never that short.
            if value and len(value) >= 6 and value not in self.values:
                self.values.append(value)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.values:
                value = value.replace(secret, REDACTED)
            value = _URL_PASSWORD.sub(lambda m: m.group("scheme") + REDACTED, value)
            return _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        if isinstance(value, dict):
            return {
                k: REDACTED if _is_secret_key(k, v) else self._scrub(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v) for v in value)
        return value

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            value = event_dict[key]
            event_dict[key] = REDACTED if _is_secret_key(key, value) else self._scrub(value)
        return event_dict


def _is_secret_key(key: Any, value: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and bool(value)


redactor = SecretRedactor()


def configure_logging(
    level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Configure structlog and the stdlib root logger; safe to call again (tests, CLI)."""
    redactor.add(secrets)
    stream = stream or sys.stdout
    renderer: Any
    if stream.isatty():
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redactor,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redactor,  # again: a stack trace may quote a secret
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (werkzeug, apscheduler, zenpy, alembic) log through the stdlib: same pipeline.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # format_exc_info: a library's logged exception keeps its stack trace.
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redactor,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("zenpy").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
