"""Estimative judgments over time and their score against what happened.

- As of D a scenario's standing judgment is its newest judgment known on D (ties: the later line); a
  judgment is known from the later of its ``date`` and ``reported``.
- Scoring reads a judgment made on day j about scenario S as "S happens within (j, j + horizon]":
  resolved 1 when S happened on h with j < h <= j + horizon and h <= the as-of date A, resolved 0
  when j + horizon <= A otherwise, else open. Judgments not yet known on A, and judgments made on or
  after the day S happened, are left out. Brier score, the reference Brier of always forecasting the
  base rate, and the skill score, per scenario and over all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..format.judgments import TERM_BY_WORDS, TERMS, Term
from ..format.models import Level, Watchlist


def known_judgments(judgments: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Judgments known on ``as_of``: made and reported on or before it."""
    day = pd.Timestamp(as_of)
    return judgments[(judgments["date"] <= day) & (judgments["reported"] <= day)]


def standing_judgments(judgments: pd.DataFrame, as_of: dt.date) -> dict[str, pd.Series]:
    """{scenario id: its standing judgment as of ``as_of``}: the newest judgment known then (ties: the
    later line). Scenarios without one are absent."""
    known = known_judgments(judgments, as_of).sort_values(["date", "line"], kind="stable")
    return {str(scenario): rows.iloc[-1] for scenario, rows in known.groupby("scenario", sort=False)}


def judgment_timeline(judgments: pd.DataFrame, scenario_id: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The standing judgment of one scenario on each day from ``start`` to ``end``, each day as known that
    day: ``likelihood`` (empty before the first), ``low``, ``high`` and ``probability`` (NaN before it)."""
    days = pd.date_range(start, end, freq="D", name="date")
    mine = judgments[judgments["scenario"] == scenario_id].sort_values(["date", "line"], kind="stable")
    result = pd.DataFrame({"likelihood": "", "low": np.nan, "high": np.nan, "probability": np.nan}, index=days)
    # a judgment stands from the day it is known until a newer one (by date) is known
    for row in mine.itertuples():
        known_on = max(row.date, row.reported)
        newer = mine[(mine["date"] > row.date) | ((mine["date"] == row.date) & (mine["line"] > row.line))]
        newer_known = newer[["date", "reported"]].max(axis=1).min() if len(newer) else pd.Timestamp.max
        standing = (days >= known_on) & (days < newer_known)
        term = TERM_BY_WORDS[row.likelihood]
        result.loc[standing, ["likelihood", "low", "high", "probability"]] = [term.word, term.low, term.high,
                                                                              term.probability]
    return result


def judgment_tension(level: Level, judgment: pd.Series | None, level_since: dt.date | None) -> str | None:
    """A sentence when the indicators and the standing judgment point different ways: the scenario at
    HIGH or above with a judgment of unlikely or lower, or NORMAL with likely or higher. When the
    judgment is older than the scenario's latest level change, it predates the evidence."""
    if judgment is None or level.score is None:
        return None
    probability = float(judgment["probability"])
    raised, calm = level.score >= 2 and probability < 0.45, level.score == 0 and probability > 0.55
    if not (raised or calm):
        return None
    if level_since is not None and judgment["date"].date() < level_since:
        return (f"judgment predates the latest evidence: the scenario has been {level.word} since "
                f"{level_since.isoformat()}, the judgment of {judgment['date']:%Y-%m-%d} says {judgment['likelihood']}")
    return f"the judgment ({judgment['likelihood']}) and the indicators ({level.word}) point different ways"


def level_since(levels: np.ndarray, days: pd.DatetimeIndex) -> dt.date | None:
    """The first day of the run of equal level scores that ends on the last day (None when empty)."""
    if not len(levels):
        return None
    changes = np.flatnonzero(levels[1:] != levels[:-1])
    return days[changes[-1] + 1 if len(changes) else 0].date()


# ---------------------------------------------------------------------------------------------- scoring

@dataclass(frozen=True)
class ScoreLine:
    """Scores of a set of resolved judgments: Brier, the reference Brier of the base rate, skill."""

    judgments: int
    resolved: int
    open: int
    brier: float | None
    reference_brier: float | None
    skill: float | None

    @classmethod
    def of(cls, probabilities: np.ndarray, outcomes: np.ndarray, judgments: int) -> ScoreLine:
        resolved = ~np.isnan(outcomes)
        p, o = probabilities[resolved], outcomes[resolved]
        if not len(o):
            return cls(judgments, 0, judgments, None, None, None)
        brier = float(np.mean((p - o) ** 2))
        base_rate = float(np.mean(o))
        reference = base_rate * (1 - base_rate)
        skill = 1 - brier / reference if reference > 0 else None
        return cls(judgments, int(resolved.sum()), judgments - int(resolved.sum()), brier, reference, skill)

    def as_dict(self) -> dict:
        def rounded(value):
            return None if value is None else round(value, 4)

        return {"judgments": self.judgments, "resolved": self.resolved, "open": self.open,
                "brier": rounded(self.brier), "reference_brier": rounded(self.reference_brier),
                "skill": rounded(self.skill)}


@dataclass(frozen=True)
class Reliability:
    """How often the resolved judgments in one likelihood band came true."""

    term: Term
    resolved: int
    came_true: int

    @property
    def frequency(self) -> float | None:
        return self.came_true / self.resolved if self.resolved else None


@dataclass(frozen=True)
class Scores:
    horizon_days: int
    as_of: dt.date
    scenarios: dict[str, ScoreLine]
    all: ScoreLine
    reliability: list[Reliability]
    outcomes: pd.DataFrame  # each judgment scored: line, scenario, date, probability, outcome (NaN: open)

    def as_dict(self) -> dict:
        overall = self.all.as_dict()
        return {"horizon_days": self.horizon_days, "as_of": self.as_of.isoformat(),
                "scenarios": [{"id": scenario_id, **line.as_dict()} for scenario_id, line in self.scenarios.items()],
                "all": {key: overall[key] for key in ("resolved", "brier", "reference_brier", "skill")},
                "reliability": [{"term": item.term.word, "band": item.term.band, "probability": item.term.probability,
                                 "resolved": item.resolved, "came_true": item.came_true} for item in self.reliability]}


def outcomes_of(judgments: pd.DataFrame, watchlist: Watchlist, as_of: dt.date, horizon: int) -> pd.DataFrame:
    """The judgments that count for scoring as of ``as_of`` with their outcome: 1.0 (happened within the
    horizon, and known to have by ``as_of``), 0.0 (the horizon ended by ``as_of`` without it), NaN (open)."""
    happened = {scenario.id: scenario.happened for scenario in watchlist.scenarios}
    known = known_judgments(judgments, as_of)
    happened_on = pd.to_datetime(known["scenario"].map(happened))
    made = known["date"]
    counted = happened_on.isna() | (made < happened_on)
    known, made, happened_on = known[counted], made[counted], happened_on[counted]
    horizon_end = made + pd.Timedelta(days=horizon)
    came = happened_on.notna() & (happened_on > made) & (happened_on <= horizon_end) & (happened_on <= pd.Timestamp(as_of))
    closed = horizon_end <= pd.Timestamp(as_of)
    outcome = np.where(came, 1.0, np.where(closed, 0.0, np.nan))
    return known.assign(outcome=outcome)[["line", "scenario", "date", "likelihood", "probability", "outcome"]]


def score_judgments(judgments: pd.DataFrame, watchlist: Watchlist, as_of: dt.date, horizon: int = 90) -> Scores:
    """Brier scores of the judgments known on ``as_of`` (see the module's docstring), per scenario in
    watchlist order and over all, with the reliability of each likelihood band."""
    scored = outcomes_of(judgments, watchlist, as_of, horizon)
    per_scenario = {}
    for scenario in watchlist.scenarios:
        mine = scored[scored["scenario"] == scenario.id]
        per_scenario[scenario.id] = ScoreLine.of(mine["probability"].to_numpy(), mine["outcome"].to_numpy(),
                                                 len(mine))
    overall = ScoreLine.of(scored["probability"].to_numpy(), scored["outcome"].to_numpy(), len(scored))
    resolved = scored[scored["outcome"].notna()]
    reliability = [Reliability(term, int((resolved["likelihood"] == term.word).sum()),
                               int(((resolved["likelihood"] == term.word) & (resolved["outcome"] == 1)).sum()))
                   for term in TERMS]
    return Scores(horizon, as_of, per_scenario, overall, reliability, scored)
