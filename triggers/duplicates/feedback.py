"""Precision held by agents' feedback: observed precision of the flags agents judged, its
lower confidence bound, and the flag threshold that follows from them.

An agent confirms a flag by merging the ticket or setting Resolution type "Duplicate" with
the flagged "Duplicate of"; rejects it by removing the possible_duplicate tag or clearing
"Duplicate of". While the Wilson lower bound of observed precision stays at or above the
target (`[duplicates] target_precision`), the configured threshold is used. When it falls
under it, the threshold is raised to the lowest value from which the flags agents judged
would have been right often enough (point precision >= target), so the account's own
evidence decides how far.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_TARGET_PRECISION = 0.95
# One-sided 95 % Wilson bound: a single rejection among the first few judged flags is
# already evidence that precision may be under 0.95.
WILSON_Z = 1.645
# Below this many judged flags the bound is not acted on (one early rejection would
# otherwise push the threshold to the ceiling).
MIN_JUDGED = 10
# The judged flags a threshold is computed from: the most recent ones (a changed desk
# should not be held to what agents said a year ago).
FEEDBACK_WINDOW = 300
THRESHOLD_STEP = 0.01
MAX_THRESHOLD = 0.99


def wilson_lower_bound(successes: int, trials: int, z: float = WILSON_Z) -> float:
    """Lower end of the Wilson score interval of a proportion (0.0 with no trials)."""
    if trials <= 0:
        return 0.0
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, (centre - margin) / denominator)


@dataclass(frozen=True)
class Judgement:
    """One flag an agent judged: its score when flagged and whether it was right."""

    score: float
    confirmed: bool


@dataclass(frozen=True)
class PrecisionStatus:
    """What the console and CLI show: observed precision, its bound, the threshold in use."""

    confirmed: int
    rejected: int
    observed_precision: float | None  # None before any judged flag
    lower_bound: float | None
    target_precision: float
    configured_threshold: float
    threshold_in_use: float
    raised: bool
    reason: str


def threshold_in_use(
    configured: float, target: float, judged: Sequence[Judgement]
) -> PrecisionStatus:
    """The flag threshold after agents' feedback (`judged`: most recent first is not needed;
    the caller passes at most FEEDBACK_WINDOW of them)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"duplicates.target_precision must be in (0, 1), got {target}")
    confirmed = sum(1 for j in judged if j.confirmed)
    rejected = len(judged) - confirmed
    n = len(judged)
    observed = confirmed / n if n else None
    bound = wilson_lower_bound(confirmed, n) if n else None

    def status(threshold: float, raised: bool, reason: str) -> PrecisionStatus:
        return PrecisionStatus(
            confirmed, rejected, observed, bound, target, configured, threshold, raised, reason
        )

    if n < MIN_JUDGED or bound is None:
        return status(configured, False, f"fewer than {MIN_JUDGED} flags judged by agents")
    if bound >= target:
        return status(configured, False, "observed precision meets the target")
    t = configured
    while t < MAX_THRESHOLD:
        above = [j for j in judged if j.score >= t]
        if not above:
            break
        right = sum(1 for j in above if j.confirmed)
        if right / len(above) >= target:
            break
        t = round(t + THRESHOLD_STEP, 4)
    t = min(max(t, configured), MAX_THRESHOLD)
    if t > configured:
        return status(
            t,
            True,
            "lower bound of observed precision is under the target: raised until the judged "
            "flags above it were right often enough",
        )
    # Too few judgements for the bound to clear the target, but the flags judged were right
    # often enough at the configured threshold: raising it would only lose right flags.
    return status(
        configured,
        False,
        "lower bound of observed precision is under the target, but the judged flags were "
        "right often enough at the configured threshold: not raised",
    )
