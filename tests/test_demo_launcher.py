"""`make run`'s launcher as operators stop it: a plain `kill` stops the sandbox and the service
with it, and a second `make run` while the first still runs refuses, naming the process, and
deletes nothing. Started the way a background job of a non-interactive shell starts it (SIGINT
inherited as ignored), so nothing here depends on inherited signal handlers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from demo.launcher import port_holder
from sandbox.testing import free_port
from settings import ROOT
from tests.desk import AS_BACKGROUND_JOB

pytestmark = pytest.mark.integration


def _launch(instance: Path, sandbox_port: int, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *AS_BACKGROUND_JOB,
            sys.executable,
            "-m",
            "demo",
            "--sandbox-port",
            str(sandbox_port),
            "--port",
            str(port),
            "--seed-size",
            "5",
            "--instance",
            str(instance),
            "--no-tour",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_busy_port_is_refused_naming_its_process_and_nothing_is_deleted(tmp_path: Path) -> None:
    instance = tmp_path / "demo"
    instance.mkdir()
    (instance / "cxlayer.sqlite3").write_text("previous run's data")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        process = _launch(instance, port, free_port())
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"sandbox port {port} is held by pid {os.getpid()}" in output
    assert "Traceback" not in output
    assert (instance / "cxlayer.sqlite3").read_text() == "previous run's data"


def test_plain_kill_stops_the_sandbox_and_the_service_and_a_second_run_refuses(
    tmp_path: Path,
) -> None:
    sandbox_port, port = free_port(), free_port()
    instance = tmp_path / "demo"
    process = _launch(instance, sandbox_port, port)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "demo did not start"
            time.sleep(0.3)
        database = instance / "cxlayer.sqlite3"
        size = database.stat().st_size

        second = _launch(instance, sandbox_port, port)
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"port {sandbox_port} is held by pid" in output
        assert database.exists() and database.stat().st_size >= size  # not deleted under it

        process.terminate()  # `kill PID`
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output[-4000:]
    assert port_holder(sandbox_port) is None, output[-4000:]
    assert port_holder(port) is None, output[-4000:]


def test_killing_the_parent_as_when_make_is_killed_stops_everything(tmp_path: Path) -> None:
    """`make run` then `kill <make's pid>`: make does not forward the signal to the launcher."""
    sandbox_port, port = free_port(), free_port()
    parent = subprocess.Popen(
        [
            *AS_BACKGROUND_JOB,
            "bash",
            "-c",
            '"$@" & wait',
            "make",
            sys.executable,
            "-m",
            "demo",
            "--sandbox-port",
            str(sandbox_port),
            "--port",
            str(port),
            "--seed-size",
            "5",
            "--instance",
            str(tmp_path / "demo"),
            "--no-tour",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert parent.poll() is None and time.monotonic() < deadline, "demo did not start"
            time.sleep(0.3)
        parent.kill()  # the launcher's parent dies without a word
        parent.wait()
        deadline = time.monotonic() + 60
        while port_holder(sandbox_port) or port_holder(port):
            assert time.monotonic() < deadline, "the sandbox or the service outlived make"
            time.sleep(0.5)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
