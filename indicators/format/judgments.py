"""Estimative judgments, the format: the analysts' likelihood (in the words of US ICD 203) and
confidence per scenario, kept in ``judgments.csv`` beside the observations; the seven terms, the
columns, and the checks of each row. What a judgment means over time, and its score against what
happened, is the engine's (``indicators.engine.judging``).

- A judgment counts from the later of its ``date`` and ``reported`` (bitemporal, as observations).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .csvfile import LINE_COLUMN, empty_frame
from .folder import JUDGMENTS_FILE
from .models import Watchlist
from .problems import Problem
from .validation import RowChecker, check_choice, kept_texts, parse_dates, reject_bad_urls, stripped_in_background

CONFIDENCE_LEVELS = ("low", "moderate", "high")


@dataclass(frozen=True)
class Term:
    """One of the seven likelihood terms of ICD 203, with its band; it scores as the band's middle."""

    word: str
    alternative: str
    low: float
    high: float
    probability: float

    @property
    def band(self) -> str:
        """ "55-80%" """
        return f"{self.low * 100:g}-{self.high * 100:g}%"

    @property
    def label(self) -> str:
        """ "likely (55-80%)" """
        return f"{self.word} ({self.band})"


TERMS = (Term("almost no chance", "remote", 0.01, 0.05, 0.03),
         Term("very unlikely", "highly improbable", 0.05, 0.20, 0.125),
         Term("unlikely", "improbable", 0.20, 0.45, 0.325),
         Term("roughly even chance", "roughly even odds", 0.45, 0.55, 0.5),
         Term("likely", "probable", 0.55, 0.80, 0.675),
         Term("very likely", "highly probable", 0.80, 0.95, 0.875),
         Term("almost certain", "nearly certain", 0.95, 0.99, 0.97))
TERM_BY_WORDS = {word: term for term in TERMS for word in (term.word, term.alternative)}
TERMS_LISTED = "; ".join(f"{term.word} or {term.alternative} ({term.band})" for term in TERMS)


def term_for(text: str) -> Term | None:
    """The ICD 203 term a cell names (either word, any case, spaces collapsed), or None."""
    return TERM_BY_WORDS.get(re.sub(r"\s+", " ", str(text).strip().lower()))


JUDGMENT_DTYPES = (("line", "int64"), ("date", "datetime64[ns]"), ("reported", "datetime64[ns]"), ("scenario", "str"),
                   ("likelihood", "str"), ("probability", "float64"),
                   *((name, "str") for name in ("confidence", "rationale", "source", "url", "analyst")))


def empty_judgments() -> pd.DataFrame:
    return empty_frame(JUDGMENT_DTYPES)


def check_judgments(frame: pd.DataFrame, watchlist: Watchlist | None, today: dt.date,
                    typed: bool = True) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check every judgment row; return the typed frame of the valid rows (the likelihood as its
    canonical term and the band's middle as ``probability``) and all problems; ``typed=False``: the
    problems only."""
    checker = RowChecker(frame, JUDGMENTS_FILE)
    texts = stripped_in_background(frame, ("rationale", "source", "url", "analyst")) if typed else {}
    dates = parse_dates(checker, "date", required=True, what_is_right="give the day the judgment was made as "
                        "YYYY-MM-DD", not_after=today, rows_are="judgments")
    reported = parse_dates(checker, "reported", required=False, what_is_right="", not_after=today,
                           rows_are="judgments")
    date_column, reported_column = checker.column("date"), checker.column("reported")
    checker.reject(reported < dates, "reported", "reported_before_date",
                   lambda p: f"{reported_column.cell(p)} is before the judgment's date {date_column.cell(p)}; "
                             "a judgment cannot be published before it is made")
    scenarios = checker.column("scenario")
    known = [scenario.id for scenario in watchlist.scenarios] if watchlist else []
    empty = (scenarios.uniques == "").to_numpy()
    checker.reject(scenarios.rows(empty), "scenario", "empty", lambda _: "is empty; name a scenario id from "
                   "watchlist.yaml")
    hint = f"known ids: {', '.join(known)}" if known else "watchlist.yaml declares no scenario (add scenarios:)"
    checker.reject(scenarios.rows(~empty & ~scenarios.uniques.isin(known).to_numpy()), "scenario",
                   "unknown_scenario", lambda p: f'"{scenarios.cell(p)}" is not a scenario in watchlist.yaml; {hint}')
    likelihood = checker.column("likelihood")
    terms = [term_for(text) for text in likelihood.uniques]
    blank = (likelihood.uniques == "").to_numpy()
    checker.reject(likelihood.rows(blank), "likelihood", "empty",
                   lambda _: f"is empty; use one of the seven ICD 203 terms: {TERMS_LISTED}")
    checker.reject(likelihood.rows(~blank & np.array([term is None for term in terms], dtype=bool)), "likelihood",
                   "not_a_term", lambda p: f'"{likelihood.cell(p)}" is not an ICD 203 likelihood term; use one of: '
                                           f"{TERMS_LISTED}")
    confidence = check_choice(checker, "confidence", tuple(level.upper() for level in CONFIDENCE_LEVELS),
                              "a confidence level; use low, moderate or high (or leave it empty)")
    reject_bad_urls(checker)
    if not typed:
        return None, checker.problems
    keep = ~checker.bad
    kept_dates, kept_reported = dates[keep], reported[keep]
    words = likelihood.rows(np.array([term.word if term else "" for term in terms], dtype=object))
    chances = likelihood.rows(np.array([term.probability if term else np.nan for term in terms]))
    rows = pd.DataFrame({
        "line": frame[LINE_COLUMN].to_numpy()[keep],
        "date": kept_dates,
        "reported": np.where(np.isnat(kept_reported), kept_dates, kept_reported),
        "scenario": pd.Series(scenarios.rows(scenarios.uniques.to_numpy(dtype=object))[keep], dtype="str"),
        "likelihood": pd.Series(words[keep], dtype="str"),
        "probability": chances[keep].astype("float64"),
        "confidence": pd.Series(checker.column("confidence").rows(np.char.lower(confidence.astype(str)))[keep],
                                dtype="str"),
        **kept_texts(texts, keep),
    })
    return rows.sort_values(["date", "line"], kind="stable").reset_index(drop=True), checker.problems
