"""One test per status rule (docs/status-and-rules.md: "How status is computed")."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import indicator, statuses_of, write_watchlist
from indicators.engine.evaluate import IndicatorStatus, overall_status
from indicators.format.models import Indicator, Level

D = dt.date


def test_latest_takes_the_newest_row(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], """\
        2022-10-01,troops,25,,,,,,,
        2022-10-05,troops,12,,,,,,,
        2022-09-01,troops,40,,,,,,,
        """)
    status = statuses_of(folder, D(2022, 10, 10))["troops"]
    assert (status.value, status.level, status.date, status.age_days) == (12, Level.ELEVATED, D(2022, 10, 5), 5)
    assert not status.disagreement


def test_latest_tie_takes_the_most_escalatory_value_and_says_sources_disagree(tmp_path):
    folder = write_watchlist(tmp_path, [indicator(), indicator("reserves", direction="down",
                                                               thresholds={"elevated": 20, "high": 10})], """\
        2022-10-05,troops,12,Low,,,,,,
        2022-10-05,troops,31,High,,,,,,
        2022-10-05,reserves,15,,,,,,,
        2022-10-05,reserves,8,,,,,,,
        """)
    statuses = statuses_of(folder, D(2022, 10, 5))
    assert (statuses["troops"].value, statuses["troops"].level, statuses["troops"].disagreement) == (
        31, Level.CRITICAL, True)
    assert statuses["troops"].source == "High"
    assert (statuses["reserves"].value, statuses["reserves"].level, statuses["reserves"].disagreement) == (
        8, Level.HIGH, True)


def test_same_value_twice_on_the_latest_date_is_not_a_disagreement(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], "2022-10-05,troops,12,A,,,,,,\n2022-10-05,troops,12,B,,,,,,\n")
    assert statuses_of(folder, D(2022, 10, 5))["troops"].disagreement is False


def test_rows_after_the_as_of_date_do_not_count(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], "2022-10-01,troops,5,,,,,,,\n2022-10-02,troops,35,,,,,,,\n")
    assert statuses_of(folder, D(2022, 10, 1))["troops"].value == 5
    assert statuses_of(folder, D(2022, 10, 2))["troops"].value == 35


def test_a_row_reported_later_counts_only_from_its_reported_date(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], """\
        2022-10-01,troops,5,,,,,,,
        2022-10-03,troops,35,,,,,,2022-10-08,
        """)
    assert statuses_of(folder, D(2022, 10, 7))["troops"].value == 5
    late = statuses_of(folder, D(2022, 10, 8))["troops"]
    assert (late.value, late.date, late.age_days) == (35, D(2022, 10, 3), 5)


@pytest.mark.parametrize("status_word", ["disputed", "retracted"])
def test_disputed_and_retracted_rows_do_not_count(tmp_path, status_word):
    folder = write_watchlist(tmp_path, [indicator()], f"""\
        2022-10-01,troops,5,,,,,,,
        2022-10-03,troops,35,,,,,{status_word},,
        """)
    status = statuses_of(folder, D(2022, 10, 5))["troops"]
    assert (status.value, status.date) == (5, D(2022, 10, 1))


def test_confirmed_rows_count(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], "2022-10-03,troops,35,,,,,confirmed,,\n")
    assert statuses_of(folder, D(2022, 10, 5))["troops"].level is Level.CRITICAL


def window_folder(tmp_path, aggregate):
    return write_watchlist(tmp_path, [indicator("x", aggregate=aggregate, window_days=7,
                                                thresholds={"elevated": 2, "high": 4, "critical": 6})], """\
        2022-10-01,x,1,,,,,,,
        2022-10-02,x,3,,,,,,,
        2022-10-08,x,2,,,,,,,
        """)


@pytest.mark.parametrize("aggregate, first_window, second_window", [
    ("sum", 4.0, 5.0), ("count", 2.0, 2.0), ("max", 3.0, 3.0), ("mean", 2.0, 2.5)])
def test_window_edges(tmp_path, aggregate, first_window, second_window):
    folder = window_folder(tmp_path, aggregate)
    # as of 10-07 a 7-day window is 10-01..10-07: the 10-01 row sits on its first day
    assert statuses_of(folder, D(2022, 10, 7))["x"].value == first_window
    # as of 10-08 the 10-01 row falls out (D - window_days < date is strict) and the 10-08 row is in
    assert statuses_of(folder, D(2022, 10, 8))["x"].value == second_window


@pytest.mark.parametrize("aggregate, value, level", [("sum", 0.0, Level.NORMAL), ("count", 0.0, Level.NORMAL),
                                                     ("max", None, Level.NO_DATA), ("mean", None, Level.NO_DATA)])
def test_empty_window(tmp_path, aggregate, value, level):
    folder = window_folder(tmp_path, aggregate)
    status = statuses_of(folder, D(2022, 11, 30))["x"]
    assert (status.value, status.level) == (value, level)


def test_count_rows_may_have_no_value(tmp_path):
    folder = write_watchlist(tmp_path, [indicator("n", aggregate="count", window_days=30,
                                                  thresholds={"elevated": 2})],
                             "2022-10-01,n,,,,,,,,\n2022-10-02,n,,,,,,,,\n")
    status = statuses_of(folder, D(2022, 10, 3))["n"]
    assert (status.value, status.level) == (2, Level.ELEVATED)


def test_no_rows_at_all_is_no_data(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], "")
    status = statuses_of(folder, D(2022, 10, 3))["troops"]
    assert (status.level, status.value, status.date, status.stale) == (Level.NO_DATA, None, None, False)


@pytest.mark.parametrize("aggregate", ["sum", "count", "max", "mean", "latest"])
def test_no_counting_row_at_all_is_no_data_whatever_the_aggregate(tmp_path, aggregate):
    # missing is never green: an empty window with no row ever is not "0 = normal"
    window = {} if aggregate == "latest" else {"window_days": 7}
    folder = write_watchlist(tmp_path, [indicator("x", aggregate=aggregate, **window)],
                             "2022-10-09,x,5,,,,,disputed,,\n2022-10-05,x,5,,,,,,2022-10-12,\n")
    status = statuses_of(folder, D(2022, 10, 10))["x"]  # one row disputed, the other not yet reported
    assert (status.level, status.value, status.date) == (Level.NO_DATA, None, None)
    assert overall_status([status]).level is Level.NO_DATA


def test_a_count_row_with_value_0_is_a_nil_report_no_event_but_fresh(tmp_path):
    folder = write_watchlist(tmp_path, [indicator("n", aggregate="count", window_days=7, stale_after_days=10,
                                                  thresholds={"elevated": 1})], """\
        2022-10-01,n,,,,,,,,
        2022-10-15,n,0,,,,,,,"checked, nothing found"
        """)
    before = statuses_of(folder, D(2022, 10, 14))["n"]
    assert (before.value, before.level, before.stale, before.date) == (0, Level.NORMAL, True, D(2022, 10, 1))
    after = statuses_of(folder, D(2022, 10, 15))["n"]
    assert (after.value, after.level, after.stale, after.date, after.rows_counted) == (
        0, Level.NORMAL, False, D(2022, 10, 15), 0)
    assert overall_status([after]).current == 1  # current: it enters the index as normal


def test_stale_when_newest_row_is_older_than_stale_after_days(tmp_path):
    folder = write_watchlist(tmp_path, [indicator(stale_after_days=10)], "2022-10-01,troops,25,,,,,,,\n")
    assert statuses_of(folder, D(2022, 10, 11))["troops"].stale is False  # exactly 10 days: still current
    stale = statuses_of(folder, D(2022, 10, 12))["troops"]
    assert (stale.stale, stale.age_days, stale.level, stale.is_current) == (True, 11, Level.HIGH, False)


def test_without_stale_after_days_nothing_goes_stale(tmp_path):
    folder = write_watchlist(tmp_path, [indicator()], "2020-01-01,troops,25,,,,,,,\n")
    assert statuses_of(folder, D(2025, 1, 1))["troops"].stale is False


def make(direction, thresholds):
    return Indicator(id="x", name="X", category="C", direction=direction, thresholds=thresholds)


@pytest.mark.parametrize("value, level", [(9.99, Level.NORMAL), (10, Level.ELEVATED), (29.9, Level.ELEVATED),
                                          (30, Level.CRITICAL), (1000, Level.CRITICAL)])
def test_up_levels_skip_absent_keys(value, level):
    from indicators.engine.evaluate import level_for_value

    assert level_for_value(make("up", {"elevated": 10, "critical": 30}), value) is level


@pytest.mark.parametrize("value, level", [(51, Level.NORMAL), (50, Level.HIGH), (20.1, Level.HIGH),
                                          (20, Level.CRITICAL), (-5, Level.CRITICAL)])
def test_down_levels_skip_absent_keys(value, level):
    from indicators.engine.evaluate import level_for_value

    assert level_for_value(make("down", {"high": 50, "critical": 20}), value) is level


def status(level, weight=1.0, stale=False, id="x"):
    ind = Indicator(id=id, name=id.upper(), category="C", thresholds={"elevated": 1}, weight=weight)
    return IndicatorStatus(ind, level, None if level is Level.NO_DATA else 1.0, None, None, stale, False, 0)


def test_overall_index_is_weighted_over_current_indicators():
    statuses = [status(Level.CRITICAL, 2, id="a"), status(Level.NORMAL, 1, id="b"),
                status(Level.HIGH, 1, stale=True, id="c"), status(Level.NO_DATA, 5, id="d")]
    overall = overall_status(statuses)
    # 100 * (2*3 + 1*0) / (3 * (2 + 1)) = 66.7
    assert (overall.index, overall.level, overall.current, overall.total, overall.drivers) == (
        66.7, Level.HIGH, 2, 4, ("a",))


@pytest.mark.parametrize("levels, expected", [
    ([Level.NORMAL] * 4, Level.NORMAL),
    ([Level.ELEVATED, Level.NORMAL, Level.NORMAL, Level.NORMAL], Level.NORMAL),  # 8.3
    ([Level.ELEVATED, Level.ELEVATED, Level.ELEVATED, Level.NORMAL], Level.ELEVATED),  # 25.0
    ([Level.HIGH, Level.HIGH, Level.NORMAL, Level.NORMAL], Level.ELEVATED),  # 33.3
    ([Level.HIGH, Level.HIGH, Level.HIGH, Level.NORMAL], Level.HIGH),  # 50.0
    ([Level.CRITICAL, Level.CRITICAL, Level.CRITICAL, Level.NORMAL], Level.CRITICAL),  # 75.0
])
def test_overall_level_cutoffs(levels, expected):
    assert overall_status([status(level, id=f"i{n}") for n, level in enumerate(levels)]).level is expected


def test_overall_without_current_indicators_is_no_data():
    overall = overall_status([status(Level.NO_DATA), status(Level.HIGH, stale=True, id="y")])
    assert (overall.level, overall.index, overall.current, overall.total) == (Level.NO_DATA, None, 0, 2)


def test_drivers_are_ordered_by_weighted_score():
    overall = overall_status([status(Level.ELEVATED, 3, id="a"), status(Level.CRITICAL, 1, id="b"),
                              status(Level.HIGH, 1, id="c"), status(Level.NORMAL, 9, id="d")])
    assert overall.drivers == ("a", "b", "c")


def test_the_details_behind_a_level_are_taken_as_pandas_gives_them_as_text():
    """Text columns are taken from their arrays (fast); every kind of column reads as astype(str) says,
    a missing text staying missing (never the word "nan")."""
    import numpy as np
    import pandas as pd

    from indicators.engine.evaluate import texts_at

    def shown(texts):
        return ["<missing>" if isinstance(text, float) and np.isnan(text) else text for text in texts]

    positions = np.array([2, 0, 1])
    for column in (pd.Series(["Reuters", np.nan, "MoD"], dtype="str"), pd.Series(["a", None, 3], dtype=object),
                   pd.Series(["B", "C", None], dtype="category"), pd.Series([1.5, np.nan, 2.0])):
        assert shown(texts_at(column, positions)) == shown(column.iloc[positions].astype(str).tolist())
    assert shown(texts_at(pd.Series(["Reuters", np.nan, "MoD"], dtype="str"), positions)) == [
        "MoD", "Reuters", "<missing>"]
