"""Mapping versions in the database: validated like the CLI, in force in every app on the
database without a restart, history and revert, and `mappings export` / `mappings import`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

import store
from console import versions
from console.models import MappingVersion
from console.versions import VersionError, revert_to, save_version
from mappings import DEFAULT_DIR, current_mappings, load_mappings, read_mapping_texts


def _teams(hours: str) -> str:
    text = (DEFAULT_DIR / "teams.toml").read_text()
    return text.replace('hours = "09:00-19:00"', f'hours = "{hours}"', 1)


def _count(app: Flask) -> int:
    with store.session(app, readonly=True) as sess:
        return int(sess.scalar(select(func.count()).select_from(MappingVersion)) or 0)


def test_a_saved_version_is_in_force_in_another_app_on_the_same_database(
    console_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(versions, "CHECK_SECONDS", 0.05)
    editor, other = console_app(), console_app()
    with other.app_context():
        assert current_mappings().teams[0].start.strftime("%H:%M") == "09:00"  # the files

    row = save_version(editor, {"teams.toml": _teams("07:00-16:00")}, author="ana", summary="x")

    assert row.id == 2  # version 1 is the files, seeded on first use
    time.sleep(0.1)
    with other.app_context():
        assert current_mappings().teams[0].start.strftime("%H:%M") == "07:00"
    with store.session(other, readonly=True) as sess:
        seeded = sess.get(MappingVersion, 1)
    assert seeded is not None and seeded.author == versions.SEED_AUTHOR
    assert '-hours = "09:00-19:00"' in row.diff and '+hours = "07:00-16:00"' in row.diff


def test_an_invalid_version_is_refused_with_the_clis_messages_and_nothing_saved(
    console_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = console_app()
    with pytest.raises(VersionError) as refused:
        save_version(app, {"teams.toml": _teams("9-5")}, author="ana", summary="x")

    # The CLI's words for the same file (mappings validate on a folder with that text).
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in read_mapping_texts(DEFAULT_DIR).items():
        (folder / name).write_text(text or "")
    (folder / "teams.toml").write_text(_teams("9-5"))
    with pytest.raises(Exception) as cli:
        load_mappings(folder)
    assert [p.message for p in refused.value.problems] == [p.message for p in cli.value.problems]  # type: ignore[attr-defined]
    assert [p.key_path for p in refused.value.problems] == ["team[0].hours"]
    assert _count(app) == 0  # not even the seed: the whole save was rolled back


def test_no_change_is_not_a_version(console_app: Callable[..., Flask]) -> None:
    app = console_app()
    with pytest.raises(VersionError, match="no change"):
        save_version(
            app, {"teams.toml": (DEFAULT_DIR / "teams.toml").read_text()}, author="a", summary=""
        )


def test_revert_makes_a_new_version_with_the_old_files(console_app: Callable[..., Flask]) -> None:
    app = console_app()
    save_version(app, {"teams.toml": _teams("07:00-16:00")}, author="ana", summary="early")
    back = revert_to(app, 1, author="bo")
    assert back.id == 3 and back.summary == "revert to version 1"
    assert back.files["teams.toml"] == (DEFAULT_DIR / "teams.toml").read_text()
    with store.session(app, readonly=True) as sess:
        audited = list(
            sess.scalars(select(store.AuditEntry).where(store.AuditEntry.rule == "console"))
        )
    assert [(a.action, a.invocation_id) for a in audited] == [
        ("mappings_save", "admin:ana"),
        ("mappings_save", "admin:bo"),
    ]


def test_export_and_import_commands(console_app: Callable[..., Flask], tmp_path: Path) -> None:
    app = console_app()
    runner = app.test_cli_runner()
    out = tmp_path / "exported"
    exported = runner.invoke(args=["mappings", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    assert (out / "teams.toml").read_text() == (DEFAULT_DIR / "teams.toml").read_text()

    (out / "teams.toml").write_text(_teams("25:00-26:00"))
    refused = runner.invoke(args=["mappings", "import", str(out), "--author", "ci"])
    assert refused.exit_code == 1
    assert 'team "All Media" › hours' in refused.output and "nothing saved" in refused.output
    assert _count(app) == 1

    (out / "teams.toml").write_text(_teams("10:00-18:00"))
    imported = runner.invoke(args=["mappings", "import", str(out), "--author", "ci"])
    assert imported.exit_code == 0, imported.output
    assert "version 2 saved" in imported.output
    again = tmp_path / "again"
    runner.invoke(args=["mappings", "export", str(again)])
    assert 'hours = "10:00-18:00"' in (again / "teams.toml").read_text()


def test_an_unmigrated_database_leaves_the_files_in_force(
    make_db_app: Callable[..., Flask],
) -> None:
    app = make_db_app(migrate=False)
    with app.app_context():
        assert current_mappings() is app.extensions["cxlayer.mappings"]
