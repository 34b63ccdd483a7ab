"""Browser tests: Playwright (pytest-playwright) driving Debian's Chromium, never a downloaded
browser. Reusable by any page test (the console, the agent sidebar):

- the browser itself is set up once for every browser test in tests/conftest.py;
- `axe_check(page)` injects axe-core (npm, pinned by tests/browser/package-lock.json, installed
  with `npm ci` when missing) and returns the serious and critical violations;
- `stack` starts the whole `make run` demo (sandbox with OAuth, migrations, provisioning,
  service) once per module, on free ports, and stops it afterwards.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from demo.launcher import DEMO_ADMIN_PASSWORD
from sandbox.testing import OAUTH_TOKEN
from tests.desk import Demo, running_demo

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.integration


def _ensure_axe() -> None:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install axe-core for the accessibility check")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A laptop's screen."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def axe_check() -> Any:
    _ensure_axe()
    source = AXE.read_text(encoding="utf-8")

    def check(page: Any) -> list[dict[str, Any]]:
        page.add_script_tag(content=source)
        result = page.evaluate("async () => await axe.run(document)")
        return [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"])}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    return check


@dataclass
class Stack:
    """The demo as `make run` starts it: URLs, credentials and its database."""

    demo: Demo

    @property
    def sandbox_url(self) -> str:
        return self.demo.sandbox_url

    @property
    def service_url(self) -> str:
        return self.demo.service_url

    @property
    def console(self) -> str:
        return self.service_url + "/console"

    @property
    def database(self) -> Path:
        return self.demo.database

    @property
    def env(self) -> dict[str, str]:
        """The environment of the demo's service, for a second process on the same database."""
        return self.demo.env

    @property
    def output(self) -> list[str]:
        """The lines the demo printed so far."""
        return self.demo.output().splitlines(keepends=True)

    def api(self, method: str, path: str, *, as_user: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {OAUTH_TOKEN}"}
        if as_user:
            headers["X-On-Behalf-Of"] = as_user
        response = requests.request(
            method, f"{self.sandbox_url}/api/v2/{path}", headers=headers, timeout=20, **kw
        )
        response.raise_for_status()
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_demo(tmp_path_factory.mktemp("console"), seed_size=40) as demo:
        yield Stack(demo)


def sign_in_locally(page: Any, stack: Stack) -> None:
    """The break-glass local admin of the demo."""
    page.goto(stack.console + "/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(DEMO_ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/$"))


def sign_in_with_zendesk(page: Any, stack: Stack, email: str) -> None:
    """Through the sandbox's OAuth pages, as Zendesk's authorization code flow goes."""
    page.goto(stack.console + "/login")
    page.get_by_role("link", name="Sign in with Zendesk").click()
    page.wait_for_url(re.compile(r"/oauth/authorizations/new"))
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Allow").click()
