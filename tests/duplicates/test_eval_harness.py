"""bench/duplicates_eval.py on a tiny hand-written folder laid out like the shared data."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bench import duplicates_eval as ev
from bench import duplicates_fit as fitting

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


def _outcome(i: int, score: float, right: bool) -> ev.Outcome:
    """A positive history whose best candidate scored `score` (right or wrong)."""
    history = ev.History("p", "dev", f"n{i}", f"o{i}", (f"o{i}",))
    return ev.Outcome(history, score, right, 1 if right else 2)


def test_threshold_rule_judges_precision_only_where_one_flag_is_under_five_points() -> None:
    # One wrong flag at 0.90 over 4 right ones above it, then 40 right flags from 0.80 down to
    # 0.41, then 3 wrong at 0.30: precision 0.8 at 0.90 (5 flags), 0.978 at 0.41 (45 flags),
    # 0.917 at 0.30 (48 flags).
    held = [_outcome(0, 0.90, False)] + [_outcome(i, 0.95, True) for i in range(1, 5)]
    held += [_outcome(i, round(0.80 - (i - 5) / 100, 2), True) for i in range(5, 45)]
    held += [_outcome(i, 0.30, False) for i in range(45, 48)]
    assert fitting.lowest_threshold([held]) == 0.91  # the old rule stops above the wrong flag
    assert fitting.lowest_threshold([held], min_flags=20) == 0.31  # judged from 20 flags on
    # A second held-out set that fails at 0.6 with enough flags stops both.
    other = [_outcome(100 + i, 0.7, True) for i in range(19)] + [
        _outcome(200 + i, 0.6, False) for i in range(3)
    ]
    assert fitting.lowest_threshold([held, other], min_flags=20) == 0.61


def test_project_weighting_gives_every_project_the_same_total_weight() -> None:
    def group(source: str, i: int, n: int) -> list[object]:
        h = ev.History(source, "dev", f"{source}{i}", None, ())
        return [fitting.Pair(h, c, False, 0.1, {}, fitting.BackgroundStats(0, 0, 0, 0))
                for c in range(n)]  # fmt: skip

    groups = [group("big_pairs", i, 11) for i in range(9)] + [group("small", 0, 11)]
    flat = [p for g in groups for p in g]
    weights = fitting.example_weights(groups, "project")  # type: ignore[arg-type]
    big = sum(w for w, p in zip(weights, flat, strict=True) if p.history.source == "big_pairs")  # type: ignore[attr-defined]
    assert big == pytest.approx(sum(weights) / 2) and sum(weights) == pytest.approx(len(flat))
    assert fitting.example_weights(groups, "example") == [1.0] * len(flat)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weighting"):
        fitting.example_weights(groups, "nonsense")  # type: ignore[arg-type]
