"""`flask --app app worker`: inbox workers and the scheduler, without the web server."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext

import store
from logs import get_logger
from webhooks.worker import Runtime


@click.command("worker")
@click.option(
    "--workers", "-n", type=int, default=None, help="Threads (default: [service] workers)."
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    help="Also run scheduled jobs (run them in one process only when jobs must not overlap).",
)
@with_appcontext
def worker_command(workers: int | None, scheduler: bool) -> None:
    """Process the inbox (and scheduled jobs) until SIGTERM or Ctrl-C."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        store.require_current(app)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    runtime = Runtime(app, workers, scheduler=scheduler)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        get_logger("cxlayer").info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    runtime.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
