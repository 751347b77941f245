"""What changed between two dates: level changes, new observations, new events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .evaluate import IndicatorStatus


@dataclass(frozen=True)
class LevelChange:
    indicator_id: str
    name: str
    before: IndicatorStatus
    after: IndicatorStatus

    @property
    def direction(self) -> str:
        """"escalation", "de-escalation" or "unchanged", by the level scores (no data counts as -1)."""
        before = self.before.level.score if self.before.level.score is not None else -1
        after = self.after.level.score if self.after.level.score is not None else -1
        return "escalation" if after > before else "de-escalation" if after < before else "unchanged"


def value_change(before: IndicatorStatus, after: IndicatorStatus) -> tuple[float | None, str]:
    """(difference, meaning) of the value between two statuses, meaning given the indicator's direction."""
    if before.value is None or after.value is None:
        return None, "unknown"
    difference = after.value - before.value
    if difference == 0:
        return 0.0, "unchanged"
    rising = difference > 0
    escalating = rising if after.indicator.direction == "up" else not rising
    return difference, "escalation" if escalating else "de-escalation"


def level_changes(before: list[IndicatorStatus], after: list[IndicatorStatus]) -> list[LevelChange]:
    """Indicators whose level (or staleness) differs between the two evaluations."""
    changes = []
    for old, new in zip(before, after):
        if old.level != new.level or old.stale != new.stale:
            changes.append(LevelChange(new.indicator.id, new.indicator.name, old, new))
    return changes


def known_observations(observations: pd.DataFrame, as_of: dt.date, replaced: bool = False) -> pd.DataFrame:
    """Rows known on ``as_of``: dated and reported on or before it and not yet superseded by a newer
    version of the same feed event (what a replay may show); ``replaced=True`` keeps the superseded
    versions too (a history table lists them, marked)."""
    limit = pd.Timestamp(as_of)
    known = (observations["date"] <= limit) & (observations["reported"] <= limit)
    if "until" in observations.columns and not replaced:
        known &= observations["until"].isna() | (observations["until"] > limit)
    return observations[known]


def known_events(events: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Events dated on or before ``as_of``."""
    return events[events["date"] <= pd.Timestamp(as_of)]


def observations_between(observations: pd.DataFrame, since: dt.date, until: dt.date) -> pd.DataFrame:
    """Rows that became known after ``since`` and by ``until`` (by reported date), newest first."""
    lo, hi = pd.Timestamp(since), pd.Timestamp(until)
    reported = observations["reported"]
    rows = observations[(reported > lo) & (reported <= hi)]
    return rows.sort_values(["reported", "date", "line"], ascending=[False, False, True])


def events_between(events: pd.DataFrame, since: dt.date, until: dt.date) -> pd.DataFrame:
    lo, hi = pd.Timestamp(since), pd.Timestamp(until)
    return events[(events["date"] > lo) & (events["date"] <= hi)].sort_values(["date", "line"], ascending=[False, True])
