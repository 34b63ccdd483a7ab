"""Small wording helpers used in notes: lists of products and comment times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from triggers import texts
from triggers.rules._common import when


def test_join_names_reads_as_a_sentence() -> None:
    assert texts.join_names([]) == ""
    assert texts.join_names(["Lumina"]) == "Lumina"
    assert texts.join_names(["Lumina", "Prod"]) == "Lumina or Prod"
    assert texts.join_names(["Lumina", "Prod", "Finance"]) == "Lumina, Prod or Finance"


def test_comment_times_are_written_in_utc() -> None:
    """Agents in several time zones read the same note: times are UTC and say so."""
    toronto = timezone(timedelta(hours=-5))
    assert when(datetime(2026, 11, 27, 9, 58, tzinfo=toronto)) == "2026-11-27 14:58 UTC"
    assert when(datetime(2026, 11, 27, 14, 58)) == "2026-11-27 14:58"


def test_every_category_has_a_label() -> None:
    from mappings.model import CATEGORIES

    assert set(CATEGORIES) <= set(texts.CATEGORY_LABELS)
