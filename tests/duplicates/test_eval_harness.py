"""bench/duplicates_eval.py on a tiny hand-written folder laid out like the shared data."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bench import duplicates_eval as ev

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"


def test_loaders_read_both_layouts_and_orient_pairs_new_to_original() -> None:
    sources = {s.name: s for s in ev.load_folder(DATA)}
    eclipse = sources["tiny_textually_similar_pairs"]
    assert len(eclipse.reports) == 12
    assert ("9102", "9101") in eclipse.pairs  # higher Bugzilla id = filed later = the new ticket
    assert eclipse.reports["9102"].summary == "Editor freezes when opening a large XML file"
    tracker = sources["tinytracker"]
    # 505/504 is listed in both directions (one pair); 509 has no text and is skipped.
    assert sorted(tracker.pairs) == [("502", "501"), ("505", "504")]


def test_histories_hold_the_original_among_unrelated_distractors() -> None:
    sources = ev.load_folder(DATA)
    histories = ev.build_histories(sources, k=3, seed=1)
    assert len(histories) == 2 * sum(len(s.pairs) for s in sources)
    for history in histories:
        assert history.new not in history.candidates
        if history.original is None:
            assert len(history.candidates) == 4
        else:
            assert history.original in history.candidates and len(history.candidates) == 4
    tracker = [h for h in histories if h.source == "tinytracker" and h.new == "505"]
    assert all("504" not in h.candidates for h in tracker if h.original is None)
    assert ev.build_histories(sources, k=3, seed=1) == histories  # seeded


def test_cli_writes_the_documented_json(tmp_path: Path) -> None:
    """The issue's interface: `python bench/duplicates_eval.py --data DIR --json PATH`."""
    out = tmp_path / "eval.json"
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "duplicates_eval.py"), "--data", str(DATA),
         "--json", str(out), "--k", "2"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["cxlayer"]) >= {
        "precision", "recall", "f1", "recall_at_1", "recall_at_5", "flag_threshold",
    }  # fmt: skip
    with (REPO / "settings.toml").open("rb") as handle:
        configured = tomllib.load(handle)["duplicates"]["flag_threshold"]
    assert result["cxlayer"]["flag_threshold"] == configured
    assert result["pairs"] == 8
    assert result["histories"] == 16
    assert set(result["baselines"]) == {
        "exact_normalised_subject", "title_difflib_ratio_0.6", "title_token_jaccard_0.6",
    }  # fmt: skip
    for numbers in result["baselines"].values():
        assert set(numbers) >= {"precision", "recall", "f1"}
    # The hand-written duplicates are paraphrases: the original must rank first every time.
    assert result["cxlayer"]["recall_at_1"] == 1.0
    assert result["command"].startswith("python bench/duplicates_eval.py --data")


def test_threshold_override_is_reported_and_recall_falls_as_it_rises() -> None:
    result = ev.evaluate(DATA, k=2, seed=3, threshold=0.15)
    assert result["cxlayer"]["flag_threshold"] == 0.15  # type: ignore[index]
    curve = result["curve"]
    assert isinstance(curve, list) and len(curve) == len(ev.GRID)
    recalls = [point["recall"] for point in curve]
    assert recalls == sorted(recalls, reverse=True)  # recall never grows with the threshold


def test_a_folder_without_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no \*_pairs.csv or \*_bugs.csv"):
        ev.load_folder(tmp_path)
    with pytest.raises(SystemExit, match="no data folder"):
        ev.load_folder(tmp_path / "missing")


def test_too_few_reports_for_k_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="lower --k"):
        ev.build_histories(ev.load_folder(DATA), k=20, seed=1)
