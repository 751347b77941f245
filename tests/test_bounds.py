"""Bounded work: a history or backtest over any range the command line or the app accepts ends in
seconds with a result or a usage message, never in a MemoryError."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from helpers import DEFAULT_WATCHLIST, run_app, shown
from indicators.cli import app
from indicators.store.loader import load_watchlist

FIRST = load_watchlist(DEFAULT_WATCHLIST).first_observation_date(dt.date.today())  # of the bundled watchlist


def run(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.mark.parametrize("args, message", [
    (["history", "--from", "0001-01-01", "--to", "9999-12-31"],
     "Error: the history from 0001-01-01 to 9999-12-31 spans 3,652,059 days; at most 36,600 days (about a century) "
     "can be replayed: narrow it with --from and --to"),
    (["history", "--from", "1600-01-01", "--to", "1650-01-01"],
     "Error: the history from 1600-01-01 to 1650-01-01 reaches beyond the days a timeline can hold (1678-01-01 to "
     "2261-12-31): narrow it with --from and --to"),
    (["backtest", "--target", "0001-01-01", "--target", "9999-12-31"],
     "Error: the period of the --target dates from 0001-01-01 to 9999-12-31 spans 3,652,059 days; at most 36,600 "
     "days (about a century) can be replayed: backtest targets that far apart in separate runs"),
    (["backtest", "--target", "2022-02-24", "--to", "9999-12-31"],
     f"Error: the backtest (with every target's eve) from {FIRST} to 9999-12-31 spans "
     f"{(dt.date(9999, 12, 31) - FIRST).days + 1:,} days; at most 36,600 days (about a century) can be replayed: "
     "narrow it with --from and --to"),
])
def test_a_range_beyond_the_bound_is_a_usage_error_with_the_reason(args, message):
    result = run(args[0], DEFAULT_WATCHLIST, *args[1:])
    assert (result.exit_code, result.stderr.strip()) == (2, message)


def test_the_longest_history_allowed_is_computed():
    start = dt.date(1950, 1, 1)
    end = start + dt.timedelta(days=36_599)
    result = run("history", DEFAULT_WATCHLIST, "--from", start, "--to", end, "--csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 36_600 and lines[-1].startswith(f"{end.isoformat()},")
    assert lines[1].startswith("1950-01-01,no_data,,")


def test_the_backtest_page_refuses_targets_too_far_apart_with_the_reason(monkeypatch):
    page = run_app(monkeypatch, page="backtest", targets="0001-01-01, 9999-12-31")
    assert [shown(error.value) for error in page.error] == [
        "The period of these dates from 0001-01-01 to 9999-12-31 spans 3,652,059 days; at most 36,600 days (about a "
        "century) can be replayed: give dates closer together"]
    far = run_app(monkeypatch, page="backtest", targets="2200-01-01")
    assert [shown(error.value) for error in far.error] == [
        f"The backtest (from the first observation) from {FIRST} to 2200-01-31 spans "
        f"{(dt.date(2200, 1, 31) - FIRST).days + 1:,} days; at most 36,600 days (about a century) can be replayed: "
        "give dates closer to the data"]
