"""`make run`'s launcher as operators stop it: a plain `kill` stops the sandbox and the service
with it, and a second `make run` while the first still runs refuses, naming the process, and
deletes nothing. Started the way a background job of a non-interactive shell starts it (SIGINT
inherited as ignored), so nothing here depends on inherited signal handlers."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from demo.launcher import port_holder
from tests.desk import AS_BACKGROUND_JOB, Demo, running_demo

pytestmark = pytest.mark.integration


def test_a_busy_port_is_refused_naming_its_process_and_nothing_is_deleted(tmp_path: Path) -> None:
    instance = tmp_path / "demo"
    instance.mkdir()
    (instance / "cxlayer.sqlite3").write_text("previous run's data")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        returncode, output = Demo(instance, sandbox_port=port, seed_size=5).finish()
    assert returncode == 1
    assert f"sandbox port {port} is held by pid {os.getpid()}" in output
    assert "Traceback" not in output
    assert (instance / "cxlayer.sqlite3").read_text() == "previous run's data"


def test_plain_kill_stops_the_sandbox_and_the_service_and_a_second_run_refuses(
    tmp_path: Path,
) -> None:
    instance = tmp_path / "demo"
    with running_demo(instance, seed_size=5) as demo:
        size = demo.database.stat().st_size

        second = Demo(instance, sandbox_port=demo.sandbox_port, port=demo.port, seed_size=5)
        returncode, output = second.finish()
        assert returncode == 1
        assert f"port {demo.sandbox_port} is held by pid" in output
        # not deleted under it
        assert demo.database.exists() and demo.database.stat().st_size >= size

        returncode = demo.stop(signal.SIGTERM)  # `kill PID`
        output = demo.output()
    assert returncode == 0, output[-4000:]
    assert port_holder(demo.sandbox_port) is None, output[-4000:]
    assert port_holder(demo.port) is None, output[-4000:]


def test_killing_the_parent_as_when_make_is_killed_stops_everything(tmp_path: Path) -> None:
    """`make run` then `kill <make's pid>`: make does not forward the signal to the launcher."""
    make = [*AS_BACKGROUND_JOB, "bash", "-c", '"$@" & wait', "make"]
    with running_demo(tmp_path / "demo", seed_size=5, prefix=make) as demo:
        demo.process.kill()  # the launcher's parent dies without a word
        demo.process.wait()
        deadline = time.monotonic() + 60
        while port_holder(demo.sandbox_port) or port_holder(demo.port):
            assert time.monotonic() < deadline, "the sandbox or the service outlived make"
            time.sleep(0.5)
