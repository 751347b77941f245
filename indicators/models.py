"""Declared shape of a watchlist: pydantic models for ``watchlist.yaml``."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

INDICATOR_ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class Level(str, Enum):
    """Status level of an indicator or of the whole watchlist, least to most escalatory."""

    NO_DATA = "no_data"
    NORMAL = "normal"
    ELEVATED = "elevated"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def score(self) -> int | None:
        """Score used by the overall index: normal 0 ... critical 3; no_data has none."""
        return LEVEL_SCORES.get(self)

    @property
    def word(self) -> str:
        """The level as every view writes it: NORMAL, ELEVATED, HIGH, CRITICAL, NO DATA."""
        return self.value.replace("_", " ").upper()


LEVEL_SCORES = {Level.NORMAL: 0, Level.ELEVATED: 1, Level.HIGH: 2, Level.CRITICAL: 3}
THRESHOLD_KEYS = ("elevated", "high", "critical")
OBSERVATION_STATUSES = ("reported", "confirmed", "disputed", "retracted")
NON_COUNTING_STATUSES = ("disputed", "retracted")
RELIABILITY_GRADES = ("A", "B", "C", "D", "E", "F")
CREDIBILITY_GRADES = ("1", "2", "3", "4", "5", "6")


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    elevated: float | None = None
    high: float | None = None
    critical: float | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Thresholds:
        if self.elevated is None and self.high is None and self.critical is None:
            raise ValueError("give at least one of elevated, high, critical")
        return self

    def present(self) -> list[tuple[str, float]]:
        """(level name, threshold) for the keys that are set, from elevated to critical."""
        return [(key, getattr(self, key)) for key in THRESHOLD_KEYS if getattr(self, key) is not None]


class Indicator(BaseModel):
    """One indicator as declared in ``watchlist.yaml``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=INDICATOR_ID_PATTERN)
    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    unit: str = ""
    description: str = ""
    direction: Literal["up", "down"] = "up"
    thresholds: Thresholds
    aggregate: Literal["latest", "sum", "count", "max", "mean"] = "latest"
    window_days: int | None = Field(default=None, ge=1)
    stale_after_days: int | None = Field(default=None, ge=1)
    weight: float = Field(default=1.0, gt=0)
    levels: dict[float, str] | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Indicator:
        if self.aggregate != "latest" and self.window_days is None:
            raise ValueError(f"window_days is required when aggregate is {self.aggregate}")
        present = self.thresholds.present()
        values = [value for _, value in present]
        ordered = sorted(values) if self.direction == "up" else sorted(values, reverse=True)
        if values != ordered:
            relation = "<=" if self.direction == "up" else ">="
            names = f" {relation} ".join(key for key, _ in present)
            shown = ", ".join(f"{key}={value:g}" for key, value in present)
            raise ValueError(
                f"thresholds must be ordered for direction {self.direction}: {names} (got {shown})"
            )
        return self

    @property
    def is_ordinal(self) -> bool:
        return bool(self.levels)

    def label_for(self, value: float | None) -> str | None:
        """The ``levels`` label for a value, or None when the scale has no label for it."""
        if value is None or not self.levels:
            return None
        return self.levels.get(float(value))


class Watchlist(BaseModel):
    """A whole ``watchlist.yaml``."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    theatre: str = ""
    description: str = ""
    marking: str = ""
    as_of: dt.date | None = None
    indicators: list[Indicator] = Field(min_length=1)

    @field_validator("as_of", mode="before")
    @classmethod
    def _iso_date(cls, value):
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("is not a date; use YYYY-MM-DD, e.g. 2022-10-17") from None
        return value

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)
