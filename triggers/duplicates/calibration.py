"""A calibrated probability that a candidate is the new ticket's original.

The raw text similarity means different things on different accounts: one account's tickets
share vocabulary (one product, one template), another's do not. So the score compares the
candidate with a *background*: the new ticket's similarity to a sample of the account's other
requesters' recent tickets (`BackgroundStats`). How far the candidate stands out from that
background, together with the per-field similarities, goes through a logistic model whose
coefficients were fitted offline on labelled duplicate pairs of other projects
(`bench/duplicates_fit.py`, validated leave-one-project-out; committed as data in
`calibration.json`). The output is a probability in [0, 1]: 0.8 reads as "about 8 in 10 such
flags were right on projects the model was not fitted on".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from triggers.duplicates.scoring import F_ALL, F_SUBJECT, F_SUBJECT_CHARS

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
# Background sample size: 64 measured better than 32 on the labelled data (a steadier spread)
# and costs about 64 cosines (~2 ms) per scored ticket that has candidates.
BACKGROUND_SIZE = 64
# The smallest spread a background may have (a z-score against a flat background is noise).
MIN_SPREAD = 0.01
FEATURE_NAMES = (
    "text",
    F_ALL,
    F_SUBJECT,
    F_SUBJECT_CHARS,
    "z_over_background",
    "over_background_max",
)


@dataclass(frozen=True)
class BackgroundStats:
    """Mean, spread and maximum of the new ticket's text similarity to unrelated tickets."""

    mean: float
    spread: float
    maximum: float
    size: int

    @classmethod
    def of(cls, scores: Sequence[float]) -> BackgroundStats | None:
        if not scores:
            return None
        mean = sum(scores) / len(scores)
        spread = math.sqrt(sum((x - mean) ** 2 for x in scores) / len(scores))
        return cls(mean, spread, max(scores), len(scores))


@dataclass(frozen=True)
class Calibration:
    """Logistic coefficients over FEATURE_NAMES, plus the prior background used while an
    account has few tickets (shrunk towards with `prior_weight` pseudo-tickets)."""

    intercept: float
    coefficients: tuple[float, ...]
    prior: BackgroundStats
    prior_weight: float

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Calibration:
        coef = data["coefficients"]
        prior = data["background_prior"]
        if not isinstance(coef, Mapping) or not isinstance(prior, Mapping):
            raise ValueError("calibration: coefficients and background_prior must be tables")
        missing = [n for n in FEATURE_NAMES if n not in coef]
        if missing:
            raise ValueError(f"calibration: coefficients missing for {missing}")
        return cls(
            intercept=float(data["intercept"]),  # type: ignore[arg-type]
            coefficients=tuple(float(coef[n]) for n in FEATURE_NAMES),
            prior=BackgroundStats(
                float(prior["mean"]), float(prior["spread"]), float(prior["maximum"]), 0
            ),
            prior_weight=float(data.get("prior_weight", 16)),  # type: ignore[arg-type]
        )

    def background(self, observed: BackgroundStats | None) -> BackgroundStats:
        """The observed background shrunk towards the prior (a new account has none)."""
        if observed is None or observed.size == 0:
            return self.prior
        n, k = float(observed.size), self.prior_weight
        return BackgroundStats(
            (n * observed.mean + k * self.prior.mean) / (n + k),
            (n * observed.spread + k * self.prior.spread) / (n + k),
            (n * observed.maximum + k * self.prior.maximum) / (n + k),
            observed.size,
        )

    def probability(
        self, text: float, parts: Mapping[str, float], background: BackgroundStats
    ) -> float:
        """P(the candidate is the original) from its text score and per-field similarities."""
        values = features(text, parts, background)
        total = 0.0  # the same additions, in the same order, as sum() (results unchanged)
        for c, v in zip(self.coefficients, values, strict=True):
            total += c * v
        z = self.intercept + total
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def probabilities(
        self,
        text: npt.NDArray[np.float64],
        parts: Mapping[str, npt.NDArray[np.float64]],
        background: BackgroundStats,
    ) -> list[float]:
        """`probability` of many candidates at once (columns: text scores, and per field the
        values `probability` gets, rounded alike), bit for bit: `features` is evaluated on
        the columns (it is elementwise arithmetic), the terms are added in the same order,
        and the logistic uses `math.exp` per value (numpy's exp may differ in the last bit).
        """
        values = features(text, parts, background)  # type: ignore[arg-type]
        total: npt.NDArray[np.float64] | float = 0.0
        for c, v in zip(self.coefficients, values, strict=True):
            total = total + c * v
        z = np.broadcast_to(self.intercept + total, np.shape(text))
        clamped = np.maximum(-30.0, np.minimum(30.0, z))
        exp = math.exp
        return [1.0 / (1.0 + exp(-x)) for x in clamped.tolist()]


def features(
    text: float, parts: Mapping[str, float], background: BackgroundStats
) -> tuple[float, ...]:
    """The model's inputs, in FEATURE_NAMES order (the fitting script uses this too)."""
    spread = max(background.spread, MIN_SPREAD)
    return (
        text,
        parts.get(F_ALL, 0.0),
        parts.get(F_SUBJECT, 0.0),
        parts.get(F_SUBJECT_CHARS, 0.0),
        (text - background.mean) / spread / 10.0,
        text - background.maximum,
    )


@lru_cache(maxsize=1)
def shipped() -> Calibration:
    """The committed calibration (bench/duplicates_fit.py writes calibration.json)."""
    return Calibration.from_mapping(json.loads(CALIBRATION_FILE.read_text(encoding="utf-8")))
