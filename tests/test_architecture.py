"""The layout's import contracts (pyproject.toml `[tool.importlinter]`, run by `make check`)
hold on the tree, and each kind of violation they exist for is caught: a rule reaching for
the database, a cycle between two modules, the sandbox importing the service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "mappings",
    "store",
    "sync",
    "triggers",
    "webhooks",
    "autosolve",
    "duplicates",
    "onboarding",
    "service",
    "demo",
    "sidebar",
    "sandbox",
    "console",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copyfile(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tree


def test_every_package_is_named_in_the_contracts() -> None:
    """A new top-level package must be placed in the layers, or it escapes every contract."""
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert on_disk == set(PACKAGES)


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("triggers/texts.py", "import store", "Data flows one way"),
        ("triggers/texts.py", "import sqlalchemy", "triggers/ decides with pure functions"),
        (
            "sync/snapshot.py",
            "import sync.client",
            "No package's modules import each other in a cycle",
        ),
        ("sandbox/store.py", "import mappings", "The sandbox is a separate Zendesk"),
        ("webhooks/views.py", "import sandbox.api", "The service reaches Zendesk over HTTP only"),
    ],
)
def test_a_deliberate_violation_is_caught(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    tree = _copy_tree(tmp_path)
    target = tree / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate violation\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout
    broken_section = result.stdout.split("Broken contracts", 1)[1]
    assert broken in broken_section
