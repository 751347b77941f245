"""Declared shape of a watchlist: pydantic models for ``watchlist.yaml``."""

from __future__ import annotations

import datetime as dt
import math
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_DAYS = 3660  # ten years: windows, staleness, holds and baselines beyond that are typing mistakes
MAX_WEIGHT = 100.0
INDICATOR_ID_PATTERN = r"^[a-z][a-z0-9_]*$"


def iso_date(value, example: str):
    """A date field given as text: YYYY-MM-DD only (YAML's own dates pass through as they are)."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"is not a date; use YYYY-MM-DD, e.g. {example}") from None
    return value


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

    elevated: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    critical: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _at_least_one(self) -> Thresholds:
        if self.elevated is None and self.high is None and self.critical is None:
            raise ValueError("give at least one of elevated, high, critical")
        return self

    def present(self) -> list[tuple[str, float]]:
        """(level name, threshold) for the keys that are set, from elevated to critical."""
        return [(key, getattr(self, key)) for key in THRESHOLD_KEYS if getattr(self, key) is not None]


RAISED_LEVELS = ("elevated", "high", "critical")
RaisedLevel = Literal["elevated", "high", "critical"]


class Change(BaseModel):
    """Change over a baseline: the window aggregate against the same aggregate over the
    ``baseline_days`` before the window (scaled to the window's length), in percent."""

    model_config = ConfigDict(extra="forbid")

    baseline_days: int = Field(ge=1, le=MAX_DAYS)
    min_baseline: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    min_value: float = Field(default=0.0, ge=0, allow_inf_nan=False)


SIGN_STRENGTHS = ("strong", "moderate", "weak")


class Sign(BaseModel):
    """One sign of a scenario: the scenario would show ``indicator`` at ``at`` or above."""

    model_config = ConfigDict(extra="forbid")

    indicator: str = Field(pattern=INDICATOR_ID_PATTERN)
    at: RaisedLevel = "elevated"
    strength: Literal["strong", "moderate", "weak"] = "moderate"


class SignsNeeded(BaseModel):
    """What a scenario level needs: at least ``seen`` signs seen, of which at least ``strong`` strong."""

    model_config = ConfigDict(extra="forbid")

    seen: int = Field(default=0, ge=0, le=1000)
    strong: int = Field(default=0, ge=0, le=1000)

    @model_validator(mode="after")
    def _needs_something(self) -> SignsNeeded:
        if self.seen < 1 and self.strong < 1:
            raise ValueError("needs seen or strong of at least 1 (a level that needs no sign would always hold)")
        if self.strong > self.seen:
            raise ValueError(f"strong ({self.strong}) is more than seen ({self.seen}); a strong sign seen is also "
                             f"a seen sign: give seen at least {self.strong}")
        return self


class ScenarioLevels(BaseModel):
    """The signs each scenario level needs; a level left out is never reached."""

    model_config = ConfigDict(extra="forbid")

    elevated: SignsNeeded | None = None
    high: SignsNeeded | None = None
    critical: SignsNeeded | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ScenarioLevels:
        given = [(name, getattr(self, name)) for name in THRESHOLD_KEYS if getattr(self, name) is not None]
        if not given:
            raise ValueError("give at least one of elevated, high, critical")
        for (lower, below), (higher, above) in zip(given, given[1:]):
            for minimum in ("seen", "strong"):
                if getattr(above, minimum) < getattr(below, minimum):
                    raise ValueError(f"minimums must not decrease from elevated to critical: {higher} needs "
                                     f"{minimum} {getattr(above, minimum)}, less than {lower}'s "
                                     f"{getattr(below, minimum)}")
        return self

    def present(self) -> list[tuple[Level, SignsNeeded]]:
        """(level, what it needs) for the levels given, from elevated to critical."""
        return [(Level(name), getattr(self, name)) for name in THRESHOLD_KEYS if getattr(self, name) is not None]


DEFAULT_SCENARIO_LEVELS = ScenarioLevels(elevated=SignsNeeded(seen=1), high=SignsNeeded(seen=2, strong=1),
                                         critical=SignsNeeded(seen=3, strong=2))


class Scenario(BaseModel):
    """An outcome the watchlist follows, with the signs that would be seen if it were unfolding
    (the indicators matrix of structured analysis). Its level rises only with signs seen."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=INDICATOR_ID_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    happened: dt.date | None = None  # the day it materialized, if it did
    signs: list[Sign] = Field(min_length=1)
    levels: ScenarioLevels = Field(default_factory=lambda: DEFAULT_SCENARIO_LEVELS.model_copy())

    @field_validator("happened", mode="before")
    @classmethod
    def _iso_date(cls, value):
        return iso_date(value, "2022-02-24")

    @field_validator("signs")
    @classmethod
    def _each_indicator_once(cls, signs: list[Sign]) -> list[Sign]:
        first: dict[str, int] = {}
        for number, sign in enumerate(signs, start=1):
            if sign.indicator in first:
                # the error carries the repeated sign's position, so that validation can name its line
                raise PydanticCustomError(
                    "duplicate_sign", '"{indicator}" is already sign {first} of this scenario; an indicator is a '
                    "sign of a scenario at most once", {"indicator": sign.indicator, "first": first[sign.indicator],
                                                        "position": number - 1})
            first[sign.indicator] = number
        return signs


FEED_FORMATS = ("acled", "gdelt", "csv")
FEED_ENGINES = ("duckdb", "spark")
FEED_COLUMN_ROLES = ("date", "reported", "source", "url", "note", "id")


class Contains(BaseModel):
    """``{contains: [...]}``: the cell holds one of the texts, ignoring case."""

    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(min_length=1)

    @field_validator("contains", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value


class Between(BaseModel):
    """``{at_least: x, at_most: y}``: the cell is a number in the range (either end may be left out)."""

    model_config = ConfigDict(extra="forbid")

    at_least: float | None = Field(default=None, allow_inf_nan=False)
    at_most: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_end(self) -> Between:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least ({self.at_least:g}) is above at_most ({self.at_most:g})")
        return self


Condition = Contains | Between | list[str] | str


class FeedQuery(BaseModel):
    """An indicator's rows taken from a feed: the events of feed ``name`` for which every ``where``
    condition holds; ``value`` names the numeric column behind sum/max/mean/latest."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    where: dict[str, Condition] = Field(default_factory=dict)
    value: str | None = None

    @field_validator("where", mode="before")
    @classmethod
    def _text_values(cls, where):
        """YAML reads ``QuadClass: 4`` as a number; a feed cell is text, so compare with "4"."""
        if not isinstance(where, dict):
            return where

        def as_text(value):
            if isinstance(value, bool) or value is None:
                return value
            if isinstance(value, (int, float)):
                return f"{value:g}" if isinstance(value, float) else str(value)
            if isinstance(value, list):
                return [as_text(item) for item in value]
            return value

        return {str(key): as_text(value) for key, value in where.items()}

    def conditions(self) -> list[tuple[str, Condition]]:
        """(column, condition) with equals-texts trimmed and lists as lists."""
        return [(column, condition.strip() if isinstance(condition, str) else
                 [item.strip() for item in condition] if isinstance(condition, list) else condition)
                for column, condition in self.where.items()]


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
    window_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    stale_after_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT, allow_inf_nan=False)
    levels: dict[float, str] | None = None
    hold_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)  # the level holds for this many days (most escalatory)
    change: Change | None = None  # thresholds then apply to percent change over a baseline
    feed: FeedQuery | None = None  # rows come from an event feed instead of observations.csv

    @field_validator("levels")
    @classmethod
    def _finite_levels(cls, levels: dict[float, str] | None) -> dict[float, str] | None:
        for key in levels or {}:
            if not math.isfinite(key):
                raise ValueError(f"{key} is not a finite number; levels are numbered 0, 1, 2 ...")
        return levels

    @model_validator(mode="after")
    def _check_consistency(self) -> Indicator:
        if self.aggregate != "latest" and self.window_days is None:
            raise ValueError(f"window_days is required when aggregate is {self.aggregate}")
        if self.change is not None and (self.aggregate not in ("sum", "count") or self.window_days is None):
            raise ValueError(f"change needs aggregate sum or count and window_days (got aggregate {self.aggregate})")
        if self.feed is not None and self.aggregate != "count" and self.feed.value is None:
            raise ValueError(f"feed needs value (a numeric column of the feed) when aggregate is {self.aggregate}; "
                             "with aggregate count each matching event counts once")
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


class Cutoffs(BaseModel):
    """Index values (0-100) from which the overall level is elevated, high and critical."""

    model_config = ConfigDict(extra="forbid")

    elevated: float = Field(default=25.0, ge=0, le=100, allow_inf_nan=False)
    high: float = Field(default=50.0, ge=0, le=100, allow_inf_nan=False)
    critical: float = Field(default=75.0, ge=0, le=100, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Cutoffs:
        if not self.elevated <= self.high <= self.critical:
            raise ValueError(f"cutoffs must be ordered: elevated <= high <= critical (got elevated={self.elevated:g}, "
                             f"high={self.high:g}, critical={self.critical:g})")
        return self

    def levels(self) -> list[tuple[float, Level]]:
        """(cut-off, level) from the most escalatory down."""
        return [(self.critical, Level.CRITICAL), (self.high, Level.HIGH), (self.elevated, Level.ELEVATED)]


class Floor(BaseModel):
    """A tripwire: lifts the overall level to at least ``lifts_to`` when one indicator (``indicator``)
    or at least ``count`` current indicators are at ``at`` or above."""

    model_config = ConfigDict(extra="forbid")

    indicator: str | None = Field(default=None, pattern=INDICATOR_ID_PATTERN)
    count: int | None = Field(default=None, ge=1)
    at: RaisedLevel
    lifts_to: RaisedLevel | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Floor:
        if (self.indicator is None) == (self.count is None):
            raise ValueError("give either indicator or count (one of them)")
        return self

    @property
    def lifted_level(self) -> Level:
        return Level(self.lifts_to or self.at)


class Overall(BaseModel):
    """How the overall level is judged: index cut-offs and tripwire floors."""

    model_config = ConfigDict(extra="forbid")

    cutoffs: Cutoffs = Field(default_factory=Cutoffs)
    floors: list[Floor] = Field(default_factory=list)


class FeedColumns(BaseModel):
    """For ``format: csv``: which column of the table holds each part of an observation."""

    model_config = ConfigDict(extra="forbid")

    date: str = Field(min_length=1)
    reported: str | None = None
    source: str | None = None
    url: str | None = None
    note: str | None = None
    id: str | None = None


class Feed(BaseModel):
    """An event dataset read in place: ACLED or GDELT exports, or any table with a header."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["acled", "gdelt", "csv"]
    path: str | None = Field(default=None, min_length=1)  # glob relative to the watchlist folder
    table: str | None = Field(default=None, min_length=1)  # a table in the engine's catalog instead
    deletions: str | None = Field(default=None, min_length=1)
    columns: FeedColumns | None = None
    engine: Literal["duckdb", "spark"] = "duckdb"
    source: str | None = Field(default=None, min_length=1)  # shown as the rows' source; default ACLED, GDELT
    reliability: Literal["A", "B", "C", "D", "E", "F"] = "B"
    credibility: Literal["1", "2", "3", "4", "5", "6"] = "2"
    encoding: str | None = Field(default=None, min_length=1)  # of the text files; default UTF-8

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, value: str | None) -> str | None:
        import codecs

        try:
            known = value is None or codecs.lookup(value)._is_text_encoding
        except LookupError:
            known = False
        if not known:
            raise ValueError("is not a text encoding; use e.g. utf-8, cp1252, latin-1 or utf-16")
        return value

    @field_validator("credibility", mode="before")
    @classmethod
    def _grade_text(cls, value):
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("path", "deletions")
    @classmethod
    def _inside_folder(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import pathlib

        parts = pathlib.PurePosixPath(value.replace("\\", "/")).parts
        if value.startswith(("/", "~")) or (parts and ":" in parts[0]) or ".." in parts:
            raise ValueError("is outside the watchlist folder; give a path relative to it with no leading /, ~ or "
                             ".. (link a shared folder into the watchlist folder instead)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Feed:
        if (self.path is None) == (self.table is None):
            raise ValueError("give either path (files in the watchlist folder) or table (a table of the engine)")
        if self.table is not None and self.engine != "spark":
            raise ValueError("table needs engine: spark (a table in the Spark catalog); DuckDB reads files: use path")
        if self.deletions is not None and self.format != "acled":
            raise ValueError(f"deletions is only for format acled (got format {self.format})")
        if self.format == "csv" and self.columns is None:
            raise ValueError("format csv needs columns: {date: ..., reported: ..., source: ..., id: ...}")
        if self.format != "csv" and self.columns is not None:
            raise ValueError(f"columns is only for format csv; the {self.format} layout is fixed")
        return self

    @property
    def source_label(self) -> str:
        return self.source or {"acled": "ACLED", "gdelt": "GDELT"}.get(self.format, "")


NOTIFY_ENV_PATTERN = r"^env:[A-Za-z_][A-Za-z0-9_]*$"
MAX_REMIND_HOURS = 8784.0  # a year: beyond that a reminder is a typing mistake


def apprise_rejects(url: str) -> bool | None:
    """True when Apprise cannot parse ``url`` (an unknown service, missing parts), False when it can,
    None when the alerts extra (Apprise) is not installed. Parsing sends nothing."""
    try:
        import apprise
    except ImportError:
        return None
    return apprise.Apprise.instantiate(url, suppress_exceptions=True) is None


class Alerts(BaseModel):
    """When ``watchfloor watch`` notifies: the overall level entering or leaving ``overall_at`` or
    above (and changing while there), the same for any indicator and ``indicators_at``, and for any
    scenario and ``scenarios_at``; how often an unacknowledged alert is sent again
    (``remind_every_hours``); where to: Apprise URLs, or ``env:NAME`` for an environment variable
    holding them (secrets stay out)."""

    model_config = ConfigDict(extra="forbid")

    overall_at: RaisedLevel = "elevated"
    indicators_at: RaisedLevel | None = None
    scenarios_at: RaisedLevel | None = None
    remind_every_hours: float | None = Field(default=None, gt=0, le=MAX_REMIND_HOURS, allow_inf_nan=False)
    notify: list[str] = Field(default_factory=list)

    @field_validator("notify")
    @classmethod
    def _urls_or_variables(cls, notify: list[str]) -> list[str]:
        import re

        for entry in notify:
            if not (re.fullmatch(NOTIFY_ENV_PATTERN, entry) or re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S*", entry)):
                raise ValueError(f'"{entry}" is neither an Apprise URL (scheme://...) nor env:NAME')
            if not entry.startswith("env:") and apprise_rejects(entry):
                raise ValueError(f'"{entry.split("://", 1)[0]}://..." is not an address Apprise can send to (an '
                                 "unknown service, or parts missing); see Apprise's list of services")
        return notify


class Access(BaseModel):
    """Who may do what when the dashboard is served with sign-in: e-mail addresses or ``*@domain``
    (``*`` is everyone signed in). Viewers read; editors may also add, dispute, retract and fix rows."""

    model_config = ConfigDict(extra="forbid")

    viewers: list[str] = Field(default_factory=lambda: ["*"])
    editors: list[str] = Field(default_factory=list)

    @field_validator("viewers", "editors")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        import re

        for pattern in patterns:
            if not re.fullmatch(r"\*|\*@[^@\s]+|[^@\s*]+@[^@\s*]+", pattern):
                raise ValueError(f'"{pattern}" is not an e-mail address, *@domain or *')
        return patterns

    def role_of(self, email: str | None) -> str | None:
        """``editor``, ``viewer`` or None (no access) for a signed-in address."""
        if not email:
            return None

        def matches(pattern: str) -> bool:
            pattern, address = pattern.lower(), email.lower()
            return pattern == "*" or pattern == address or (pattern.startswith("*@") and
                                                             address.endswith(pattern[1:]))

        if any(matches(pattern) for pattern in self.editors):
            return "editor"
        if any(matches(pattern) for pattern in self.viewers):
            return "viewer"
        return None


class Watchlist(BaseModel):
    """A whole ``watchlist.yaml``."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    theatre: str = ""
    description: str = ""
    marking: str = ""
    as_of: dt.date | None = None
    overall: Overall = Field(default_factory=Overall)
    alerts: Alerts | None = None
    access: Access = Field(default_factory=Access)
    feeds: dict[str, Feed] = Field(default_factory=dict)
    indicators: list[Indicator] = Field(min_length=1)
    scenarios: list[Scenario] = Field(default_factory=list)

    @field_validator("as_of", mode="before")
    @classmethod
    def _iso_date(cls, value):
        return iso_date(value, "2022-10-17")

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)

    def scenario(self, scenario_id: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise KeyError(scenario_id)
