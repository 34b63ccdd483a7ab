"""`make run` prints a link to a demo ticket whose sidebar shows the running auto-solve clock."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.desk import running_demo

from .conftest import sidebar_frame

pytestmark = pytest.mark.integration
LINK = re.compile(r"^\s*sidebar:\s+(\S+)")


def test_make_run_prints_a_demo_ticket_with_the_sidebar(page: Any, tmp_path: Path) -> None:
    with running_demo(tmp_path / "demo", seed_size=20) as demo:
        printed = demo.output().splitlines()
        links = [match.group(1) for match in map(LINK.match, printed) if match]
        assert links, "\n".join(printed[-40:])
        page.goto(links[0])
        frame = sidebar_frame(page)
        frame.locator("#clock-remind").wait_for(timeout=30_000)
        assert "has until the end of" in frame.locator("#clock-explanation").inner_text()
