"""Mapping versions kept in the database: every save is a new version (author, time, diff,
validation result), the newest is in force in every process without a restart, and the TOML
files stay the reviewable form (`mappings export` / `mappings import`; they seed version 1).
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import mappings as mappings_pkg
import store
from console.models import MappingVersion
from logs import get_logger
from mappings import FILES, MappingError, Mappings, load_mapping_texts, read_mapping_texts

log = get_logger("cxlayer.console")

# How long a process trusts the version it loaded before asking the database for a newer id:
# one indexed MAX(id) per interval, so a save reaches every process within about a second.
CHECK_SECONDS = 1.0
SEED_AUTHOR = "mappings/ files"


class VersionError(Exception):
    """A version cannot be saved or found; `problems` lists validation problems if any."""

    def __init__(self, message: str, problems: list[mappings_pkg.Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class _Cache:
    version_id: int | None = None
    mappings: Mappings | None = None
    checked_at: float = 0.0


class VersionSource:
    """`mappings.current_mappings()`'s source: the newest stored version, re-checked each second."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.cache = _Cache()

    def __call__(self) -> Mappings | None:
        now = time.monotonic()
        if now - self.cache.checked_at < CHECK_SECONDS:
            return self.cache.mappings
        with self.lock:
            if now - self.cache.checked_at < CHECK_SECONDS:
                return self.cache.mappings
            newest_id, answered = None, False
            try:
                with store.session(self.app, readonly=True) as sess:
                    newest_id = sess.scalar(select(func.max(MappingVersion.id)))
                    answered = True
                    if newest_id is not None and newest_id != self.cache.version_id:
                        files = sess.scalar(
                            select(MappingVersion.files).where(MappingVersion.id == newest_id)
                        )
                        self.cache = _Cache(newest_id, load_mapping_texts(files or {}), now)
                        log.info("mappings version in force", version=newest_id)
            except SQLAlchemyError:
                # Not migrated yet: the files are in force. The database away: keep what we had.
                pass
            except MappingError as exc:  # only valid versions are stored; keep the last good
                log.error("stored mappings version is invalid", version=newest_id, error=str(exc))
            if answered and newest_id is None:
                self.cache = _Cache(None, None, now)
            self.cache.checked_at = now
            return self.cache.mappings

    def forget(self) -> None:
        """Ask the database again at the next call (this process just saved a version)."""
        self.cache.checked_at = 0.0


def _diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    lines: list[str] = []
    for name in FILES:
        old, new = before.get(name, ""), after.get(name, "")
        if old != new:
            lines.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"a/{name}",
                    tofile=f"b/{name}",
                )
            )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def newest(sess: Session) -> MappingVersion | None:
    return sess.scalars(select(MappingVersion).order_by(MappingVersion.id.desc()).limit(1)).first()


def ensure_seeded(app: Flask, sess: Session) -> MappingVersion:
    """The newest version; version 1 is made from the app's mapping files the first time."""
    row = newest(sess)
    if row is not None:
        return row
    directory = app.config.get("MAPPINGS_DIR") or mappings_pkg.DEFAULT_DIR
    texts = read_mapping_texts(directory)
    files = {name: text or "" for name, text in texts.items()}
    row = MappingVersion(
        author=SEED_AUTHOR,
        created_at=store.utcnow(),
        summary=f"seeded from {directory}",
        files=files,
        diff="",
        problems=[],
    )
    sess.add(row)
    sess.flush()
    return row


def save_version(
    app: Flask, files: Mapping[str, str], *, author: str, summary: str
) -> MappingVersion:
    """Validate `files` (all four, as the CLI does) and store them as the newest version.

    Raises VersionError with every problem (nothing stored) when they are invalid, or when
    nothing changed. The admin action is audited (ticket 0, invocation `admin:<author>`).
    """
    unknown = set(files) - set(FILES)
    if unknown:
        raise VersionError(f"unknown mapping file(s): {', '.join(sorted(unknown))}")
    with store.session(app) as sess:
        current = ensure_seeded(app, sess)
        merged = {**current.files, **files}
        try:
            load_mapping_texts(merged)
        except MappingError as exc:
            raise VersionError("invalid mappings: nothing saved", exc.problems) from None
        diff = _diff(current.files, merged)
        if not diff:
            raise VersionError("no change: the mappings are the same as the version in force")
        row = MappingVersion(
            author=author,
            created_at=store.utcnow(),
            summary=summary,
            files=merged,
            diff=diff,
            problems=[],
        )
        sess.add(row)
        sess.flush()
        audit_admin(
            sess,
            author,
            "mappings_save",
            f"mappings version {row.id}: {summary}",
            after={"version": row.id, "previous": current.id},
        )
    source = app.extensions.get(mappings_pkg.SOURCE_EXTENSION)
    if isinstance(source, VersionSource):
        source.forget()
    return row


def revert_to(app: Flask, version_id: int, *, author: str) -> MappingVersion:
    """A new version with the files of `version_id` (history is never rewritten)."""
    with store.session(app, readonly=True) as sess:
        old = sess.get(MappingVersion, version_id)
        if old is None:
            raise VersionError(f"no mappings version {version_id}")
        files = dict(old.files)
    return save_version(app, files, author=author, summary=f"revert to version {version_id}")


def import_directory(app: Flask, directory: Path, *, author: str) -> MappingVersion:
    """`mappings import DIR`: the files of DIR as a new version (validated first)."""
    texts = read_mapping_texts(directory)
    missing = [name for name, text in texts.items() if text is None]
    if missing:
        raise VersionError(f"{directory}: missing {', '.join(missing)}")
    return save_version(
        app,
        {name: text or "" for name, text in texts.items()},
        author=author,
        summary=f"imported from {directory}",
    )


def export_directory(app: Flask, directory: Path) -> MappingVersion:
    """`mappings export DIR`: write the version in force as the four TOML files."""
    with store.session(app) as sess:
        row = ensure_seeded(app, sess)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in row.files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return row


ADMIN_TICKET = 0  # audit rows of admin actions that concern no one ticket


def audit_admin(
    sess: Session,
    author: str,
    action: str,
    reason: str,
    *,
    ticket_id: int = ADMIN_TICKET,
    before: object = None,
    after: object = None,
) -> None:
    """An admin's action in the audit: rule `console`, invocation `admin:<who>` (searchable)."""
    store.record_audit(
        sess,
        ticket_id=ticket_id,
        rule="console",
        action=action,
        reason=reason,
        invocation_id=f"admin:{author}"[:200],
        before=before,
        after=after,
    )
