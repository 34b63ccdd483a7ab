"""`make run` prints a link to a demo ticket whose sidebar shows the running auto-solve clock."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.testing import free_port
from settings import ROOT

from .conftest import sidebar_frame

pytestmark = pytest.mark.integration
LINK = re.compile(r"^\s*sidebar:\s+(\S+)")


def test_make_run_prints_a_demo_ticket_with_the_sidebar(page: Any, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demo",
            "--sandbox-port",
            str(free_port()),
            "--port",
            str(free_port()),
            "--seed-size",
            "20",
            "--instance",
            str(tmp_path / "demo"),
            "--no-tour",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    seen: list[str] = []
    try:
        link = None
        deadline = time.monotonic() + 180
        while link is None and time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            match = LINK.match(line)
            if match:
                link = match.group(1)
        assert link, "".join(seen[-40:])
        page.goto(link)
        frame = sidebar_frame(page)
        frame.locator("#clock-remind").wait_for(timeout=30_000)
        assert "has until the end of" in frame.locator("#clock-explanation").inner_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            stdout.close()
