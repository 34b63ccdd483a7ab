"""cxlayer's Flask app factory: `flask --app app ...` and `gunicorn 'app:create_app()'` start here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

import autosolve
import duplicates
import mappings
import service
import sidebar
import store
import sync
import webhooks
from logs import configure_logging, get_logger
from settings import ROOT, load_settings, secret_values
from webhooks import handler as event_handler


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `overrides` may carry ENVIRON (instead of os.environ), SETTINGS_FILE,
    SETTINGS ({section: {key: value}}) and any Flask config key; tests use it instead of env vars.
    """
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
    app.add_url_rule("/healthz", "healthz", healthz)
    get_logger("cxlayer").debug("app created")
    return app


def healthz() -> ResponseReturnValue:
    """Liveness for load balancers and `make run`; mappings were validated at start."""
    mappings.current_mappings()
    return jsonify(status="ok")
