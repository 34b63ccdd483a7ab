"""`flask --app app serve`: the single-process deployment (web app; workers join it later)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from logs import get_logger
from mappings import current_mappings


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default: [service] host).")
@click.option("--port", default=None, type=int, help="Port (default: [service] port).")
@with_appcontext
def serve_command(host: str | None, port: int | None) -> None:
    """Run the service in one process with a production WSGI server (waitress)."""
    import waitress  # noqa: PLC0415 - only this command needs the server

    current_mappings()  # refuse to start on invalid mappings, with the reasons
    service = current_app.config["CXLAYER"]["service"]
    host = host or service["host"]
    port = port or service["port"]
    get_logger("cxlayer").info("serving", url=f"http://{host}:{port}")
    waitress.serve(current_app._get_current_object(), host=host, port=port, threads=8)  # type: ignore[attr-defined]
