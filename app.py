"""cxlayer's Flask app factory: `flask --app app ...` and `gunicorn 'app:create_app()'` start here."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

import autosolve
import console
import duplicates
import mappings
import onboarding
import service
import sidebar
import store
import sync
import webhooks
from logs import configure_logging, get_logger
from settings import ROOT, SettingsError, load_settings, secret_values
from webhooks import handler as event_handler


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `overrides` may carry ENVIRON (instead of os.environ), SETTINGS_FILE,
    SETTINGS ({section: {key: value}}) and any Flask config key; tests use it instead of env vars.

    Started as a process (`flask --app app ...`, gunicorn: no overrides), a configuration or
    mapping error is one line on stderr and exit status 1, never a traceback.
    """
    if overrides is not None:
        return _create_app(overrides)
    try:
        return _create_app(None)
    except (SettingsError, mappings.MappingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _create_app(overrides: Mapping[str, Any] | None) -> Flask:
    config = dict(overrides or {})
    environ: Mapping[str, str] = config.pop("ENVIRON") if "ENVIRON" in config else os.environ
    settings = load_settings(
        environ, config.pop("SETTINGS_FILE", None), config.pop("SETTINGS", None)
    )
    configure_logging(settings["logging"]["level"], secret_values(settings))

    app = Flask(__name__, instance_path=str(config.pop("INSTANCE_PATH", ROOT / "instance")))
    app.config["CXLAYER"] = settings
    app.config.update(config)

    mappings.init_app(app)
    store.init_app(app)
    sync.init_app(app)
    webhooks.init_app(app)
    event_handler.init_app(app)
    service.init_app(app)
    autosolve.init_app(app)  # before duplicates: its deciders keep who spoke last current
    duplicates.init_app(app)
    sidebar.init_app(app)
    onboarding.init_app(app)
    console.init_app(app)  # last: its mapping versions become the mappings in force
    app.add_url_rule("/healthz", "healthz", healthz)
    get_logger("cxlayer").debug("app created")
    return app


def healthz() -> ResponseReturnValue:
    """Liveness for load balancers and `make run`; mappings were validated at start."""
    mappings.current_mappings()
    return jsonify(status="ok")
