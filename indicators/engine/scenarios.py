"""Scenarios: which outcome is unfolding, judged by how many of its signs have been seen.

A sign is an indicator at a level (``at``); as of a day it is *unknown* when the indicator has no data
or is stale, *seen* when the indicator's level (held, as in ``status``) is at ``at`` or above, else
*unseen*. A scenario's level is the highest level whose minimums hold (seen signs, seen strong signs);
else NORMAL when any sign is seen or unseen; else NO DATA. The level only rises with signs seen: a
sign turning from unseen or unknown to seen never lowers it.

Pure functions over level scores (-2 stale, -1 no data, 0 normal ... 3 critical), the same for one
day (``evaluate_scenarios``) and for every day at once (``scenario_scores_over_time``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..format.models import LEVEL_SCORES, Level, Scenario, Sign

SEEN, UNSEEN, UNKNOWN = "seen", "unseen", "unknown"
SCORE_LEVEL = {-1: Level.NO_DATA, **{score: level for level, score in LEVEL_SCORES.items()}}


def sign_state(sign: Sign, score: int) -> str:
    """``seen``, ``unseen`` or ``unknown`` for a sign whose indicator has this level score."""
    if score < 0:
        return UNKNOWN
    return SEEN if score >= LEVEL_SCORES[Level(sign.at)] else UNSEEN


@dataclass(frozen=True)
class SignState:
    sign: Sign
    state: str  # seen | unseen | unknown
    score: int  # the indicator's level score that day (-2 stale, -1 no data)


@dataclass(frozen=True)
class ScenarioStatus:
    """Where one scenario stands as of a date."""

    scenario: Scenario
    level: Level
    signs: tuple[SignState, ...]

    def ids(self, state: str) -> list[str]:
        return [item.sign.indicator for item in self.signs if item.state == state]

    @property
    def seen_count(self) -> int:
        return sum(item.state == SEEN for item in self.signs)

    @property
    def strong_seen(self) -> int:
        return sum(item.state == SEEN and item.sign.strength == "strong" for item in self.signs)

    def summary(self) -> str:
        """ "2 of 5 signs seen, 1 strong" """
        total = len(self.signs)
        text = f"{self.seen_count} of {total} sign{'' if total == 1 else 's'} seen"
        return text + (f", {self.strong_seen} strong" if self.strong_seen else "")


def level_score_for_counts(scenario: Scenario, seen: np.ndarray, strong: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Level scores (-1 no data, 0 normal ... 3 critical) for arrays of seen, strong-seen and known
    (seen or unseen) sign counts: the highest level whose minimums hold."""
    scores = np.where(known > 0, 0, -1)
    for level, needed in scenario.levels.present():
        reached = (seen >= needed.seen) & (strong >= needed.strong)
        scores = np.where(reached, np.maximum(scores, LEVEL_SCORES[level]), scores)
    return scores


def evaluate_scenario(scenario: Scenario, scores: dict[str, int]) -> ScenarioStatus:
    """One scenario as of a day, from ``{indicator id: level score}`` (-2 stale, -1 no data; an
    indicator missing from the map is no data)."""
    states = tuple(SignState(sign, sign_state(sign, scores.get(sign.indicator, -1)), scores.get(sign.indicator, -1))
                   for sign in scenario.signs)
    seen = sum(item.state == SEEN for item in states)
    strong = sum(item.state == SEEN and item.sign.strength == "strong" for item in states)
    known = sum(item.state != UNKNOWN for item in states)
    score = int(level_score_for_counts(scenario, np.array([seen]), np.array([strong]), np.array([known]))[0])
    return ScenarioStatus(scenario, SCORE_LEVEL[score], states)


def evaluate_scenarios(scenarios: list[Scenario], scores: dict[str, int]) -> list[ScenarioStatus]:
    return [evaluate_scenario(scenario, scores) for scenario in scenarios]


def scenario_scores_over_time(scenarios: list[Scenario], ids: list[str], matrix: np.ndarray) -> np.ndarray:
    """Level scores of every scenario for every day (rows: days, columns: scenarios) from the daily
    matrix of indicator level scores (columns in the order of ``ids``; -2 stale, -1 no data)."""
    positions = {indicator_id: number for number, indicator_id in enumerate(ids)}
    result = np.full((len(matrix), len(scenarios)), -1, dtype=np.int64)
    for column, scenario in enumerate(scenarios):
        seen = np.zeros(len(matrix), dtype=np.int64)
        strong = np.zeros_like(seen)
        known = np.zeros_like(seen)
        for sign in scenario.signs:
            if sign.indicator not in positions:
                continue  # an indicator whose definition is not valid: the sign stays unknown
            daily = matrix[:, positions[sign.indicator]]
            is_seen = daily >= LEVEL_SCORES[Level(sign.at)]
            seen += is_seen
            strong += is_seen & (sign.strength == "strong")
            known += daily >= 0
        result[:, column] = level_score_for_counts(scenario, seen, strong, known)
    return result


def scenario_reason(status: ScenarioStatus) -> str:
    """ "Offensive from Belarus is high: 2 of 5 signs seen, 1 strong" """
    return f"{status.scenario.name} is {status.level.value.replace('_', ' ')}: {status.summary()}"


def scenario_as_dict(status: ScenarioStatus, names: dict[str, str]) -> dict:
    """The JSON of one scenario in ``watchfloor status --json``."""
    reasons = [scenario_reason(status)]
    for state, words in ((UNSEEN, "not seen"), (UNKNOWN, "unknown (no data or stale)")):
        ids = status.ids(state)
        if ids:
            reasons.append(f"{words}: " + ", ".join(names.get(i, i) for i in ids))
    return {"id": status.scenario.id, "name": status.scenario.name, "level": status.level.value,
            "seen": status.ids(SEEN), "unseen": status.ids(UNSEEN), "unknown": status.ids(UNKNOWN),
            "strong_seen": status.strong_seen, "reasons": reasons}
