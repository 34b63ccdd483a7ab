"""`flask --app app serve`: the single-process deployment (web app, inbox workers, scheduler)."""

from __future__ import annotations

import signal
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

import store
from logs import get_logger
from mappings import current_mappings
from webhooks.worker import Runtime


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default: [service] host).")
@click.option("--port", default=None, type=int, help="Port (default: [service] port).")
@with_appcontext
def serve_command(host: str | None, port: int | None) -> None:
    """Run the web app, the inbox workers and the scheduler in one process (waitress)."""
    import waitress  # noqa: PLC0415 - only this command needs the server

    current_mappings()  # refuse to start on invalid mappings, with the reasons
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        store.require_current(app)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    service = app.config["CXLAYER"]["service"]
    host = host or service["host"]
    port = service["port"] if port is None else port  # 0 picks a free port
    max_body = int(app.config["CXLAYER"].get("webhook", {}).get("max_body_bytes", 262_144))
    # Slow or half-open clients must not starve the others: waitress reads requests in its
    # event loop (a thread serves a request only once it is fully read), accepts up to
    # connection_limit connections and closes one that stalls for channel_timeout seconds.
    # On the internet, put a reverse proxy in front anyway (README, "Operations").
    server = waitress.create_server(
        app,
        host=host,
        port=port,
        threads=int(service.get("threads", 8)),
        connection_limit=int(service.get("connection_limit", 1000)),
        channel_timeout=int(service.get("channel_timeout", 30)),
        cleanup_interval=max(1, min(30, int(service.get("channel_timeout", 30)) // 2)),
        max_request_header_size=65_536,
        max_request_body_size=max_body + 65_536,  # the endpoint answers 413 itself
        ident="cxlayer",
    )
    runtime = Runtime(app)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        # waitress's loop ends on SystemExit and shuts its threads down; workers stop below.
        get_logger("cxlayer").info("stopping", signal=signal.Signals(signum).name)
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    runtime.start()
    try:
        actual_port = getattr(server, "effective_port", port)
        get_logger("cxlayer").info("serving", url=f"http://{host}:{actual_port}")
        server.run()
    finally:
        server.close()
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        get_logger("cxlayer").info("stopped")
