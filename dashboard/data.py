"""Cached access to watchlists for the app, keyed on the files' identity and modification time."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from indicators.engine.evaluate import OverallStatus, overall_status, prepare_arrays
from indicators.engine.rules import evaluate_watchlist
from indicators.engine.timeseries import composite_index_over_time, daily_levels
from indicators.service.serving import ROOT_VARIABLE
from indicators.store.bundled import default_watchlist
from indicators.store.loader import LoadedWatchlist, files_signature, load_watchlist

def data_root() -> Path:
    """The folder given to ``watchfloor serve`` (via the environment), else the bundled watchlist."""
    return Path(os.environ.get(ROOT_VARIABLE) or default_watchlist())


def find_watchlists(root: Path) -> dict[str, Path]:
    """{name: folder}: the root itself when it is a watchlist, else its sub-folders that are."""
    if (root / "watchlist.yaml").is_file():
        return {root.name: root}
    if not root.is_dir():
        return {}
    return {child.name: child for child in sorted(root.iterdir()) if (child / "watchlist.yaml").is_file()}


@st.cache_resource(max_entries=8, show_spinner=False)
def _load(folder: str, signature: tuple, today: dt.date) -> LoadedWatchlist:
    return load_watchlist(Path(folder), today=today)


def load(folder: Path) -> LoadedWatchlist:
    """The watchlist, re-read whenever one of its files changes on disk."""
    return _load(str(folder), files_signature(folder), dt.date.today())


@st.cache_resource(max_entries=8, show_spinner=False)
def _arrays(folder: str, signature: tuple, today: dt.date):
    loaded = _load(folder, signature, today)
    return prepare_arrays(loaded.watchlist, loaded.observations)


@st.cache_resource(max_entries=64, show_spinner=False)
def _statuses(folder: str, signature: tuple, today: dt.date, as_of: dt.date):
    loaded = _load(folder, signature, today)
    return evaluate_watchlist(loaded.watchlist, loaded.observations, as_of, _arrays(folder, signature, today))[0]


def statuses(folder: Path, as_of: dt.date):
    return _statuses(str(folder), files_signature(folder), dt.date.today(), as_of)


def overall(folder: Path, as_of: dt.date) -> OverallStatus:
    """The overall level as of a date (from the cached statuses), by the watchlist's cut-offs and floors."""
    watchlist = load(folder).watchlist
    return overall_status(statuses(folder, as_of), watchlist.overall, watchlist.scenarios)


@st.cache_resource(max_entries=16, show_spinner=False)
def _history(folder: str, signature: tuple, today: dt.date, end: dt.date):
    loaded = _load(folder, signature, today)
    start = min(loaded.first_observation_date(end), end)
    levels = daily_levels(loaded.watchlist, loaded.observations, start, end, _arrays(folder, signature, today))
    ids = [indicator.id for indicator in loaded.watchlist.indicators]
    scores = pd.DataFrame(levels.scores(), index=levels.days, columns=ids)
    held = pd.DataFrame(levels.held > levels.raw, index=levels.days, columns=ids)
    return scores, composite_index_over_time(loaded.watchlist, scores), held


def history(folder: Path, end: dt.date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Daily level scores (held, stale -2), the overall index and level, and where a level was held,
    from the first observation to ``end`` (at least the data's last day)."""
    loaded = load(folder)
    last = loaded.observations["date"].max() if len(loaded.observations) else pd.Timestamp(end)
    horizon = max(end, last.date(), loaded.default_as_of())
    return _history(str(folder), files_signature(folder), dt.date.today(), horizon)


@st.cache_resource(max_entries=16, show_spinner=False)
def _robustness(folder: str, signature: tuple, today: dt.date, targets: tuple, level, start: dt.date,
                lead_window: int, scenario: str | None):
    from indicators.engine.robustness import leave_one_out

    loaded = _load(folder, signature, today)
    return leave_one_out(loaded.watchlist, loaded.observations, list(targets), level, start, lead_window, scenario)


def robustness(folder: Path, targets: tuple[dt.date, ...], level, start: dt.date, lead_window: int,
               scenario: str | None):
    """``leave_one_out`` for the Backtest page, cached on the files and the question."""
    return _robustness(str(folder), files_signature(folder), dt.date.today(), targets, level, start, lead_window,
                       scenario)
