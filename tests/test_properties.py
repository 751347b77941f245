"""Property-based checks of the evaluation rules over random watchlists."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.engine.evaluate import evaluate_statuses, overall_status, prepare_arrays
from indicators.engine.rules import evaluate_watchlist
from indicators.engine.timeseries import composite_index_over_time, level_scores_over_time
from indicators.format.models import (Change, Cutoffs, Floor, Indicator, Overall, Scenario, ScenarioLevels, Sign,
                                      SignsNeeded, Watchlist)

START = dt.date(2022, 1, 1)
INDICATORS = [
    Indicator(id="latest_up", name="A", category="C", thresholds={"elevated": 3, "high": 6, "critical": 9},
              stale_after_days=5),
    Indicator(id="latest_down", name="B", category="C", direction="down", thresholds={"high": 4, "critical": 1}),
    Indicator(id="summed", name="C", category="C", aggregate="sum", window_days=4, thresholds={"elevated": 5}),
    Indicator(id="counted", name="D", category="C", aggregate="count", window_days=3,
              thresholds={"elevated": 1, "critical": 3}, stale_after_days=6),
    Indicator(id="maxed", name="E", category="C", aggregate="max", window_days=5, thresholds={"high": 7}),
    Indicator(id="meaned", name="F", category="C", aggregate="mean", window_days=2, thresholds={"elevated": 4},
              weight=3),
]
WATCHLIST = Watchlist(title="P", indicators=INDICATORS)
STATUSES = ["reported", "confirmed", "disputed", "retracted"]
RULED = Watchlist(title="R", overall=Overall(cutoffs=Cutoffs(elevated=20, high=40, critical=70),
                                             floors=[Floor(indicator="changed", at="high"),
                                                     Floor(count=2, at="elevated", lifts_to="critical")]),
                  scenarios=[
    Scenario(id="one", name="One", signs=[Sign(indicator="latest_up", at="high", strength="strong"),
                                          Sign(indicator="counted"), Sign(indicator="meaned_held", strength="weak"),
                                          Sign(indicator="maxed_held", at="critical", strength="strong")]),
    Scenario(id="two", name="Two", signs=[Sign(indicator="summed"), Sign(indicator="latest_down_held", at="high")],
             levels=ScenarioLevels(high=SignsNeeded(seen=1), critical=SignsNeeded(seen=2)))],
                  indicators=[
    Indicator(id="latest_up", name="A", category="C", thresholds={"elevated": 3, "high": 6, "critical": 9},
              stale_after_days=5, hold_days=4),
    Indicator(id="changed", name="G", category="C", aggregate="count", window_days=3, thresholds={"elevated": 10,
              "high": 50, "critical": 100}, change=Change(baseline_days=6, min_baseline=1, min_value=1)),
    Indicator(id="summed", name="C", category="C", aggregate="sum", window_days=4, thresholds={"elevated": 0,
              "high": 100}, change=Change(baseline_days=4), hold_days=3, stale_after_days=8),
    Indicator(id="counted", name="D", category="C", aggregate="count", window_days=3,
              thresholds={"elevated": 1, "critical": 3}, stale_after_days=6),
    # holds over windows that empty (a day with no value still holds the days before), and over stale days
    Indicator(id="meaned_held", name="E", category="C", aggregate="mean", window_days=2, hold_days=9,
              thresholds={"elevated": 3, "high": 6, "critical": 9}),
    Indicator(id="maxed_held", name="F", category="C", aggregate="max", window_days=3, hold_days=5,
              thresholds={"high": 5, "critical": 8}, stale_after_days=4),
    Indicator(id="latest_down_held", name="H", category="C", direction="down", hold_days=6, stale_after_days=3,
              thresholds={"elevated": 6, "high": 3, "critical": 1}),
])
ruled_rows = st.lists(st.tuples(st.sampled_from([i.id for i in RULED.indicators]), st.integers(0, 30),
                                st.integers(0, 6), st.integers(0, 10), st.sampled_from(STATUSES)), max_size=40)
# sparse rows of one held indicator: windows that are empty between reports, days long after the last
sparse_held_rows = st.lists(st.tuples(st.sampled_from(["meaned_held", "maxed_held", "latest_down_held"]),
                                      st.integers(0, 30), st.integers(0, 8), st.integers(0, 10),
                                      st.sampled_from(STATUSES)), min_size=1, max_size=4)

rows = st.lists(st.tuples(st.sampled_from([i.id for i in INDICATORS]), st.integers(0, 30), st.integers(0, 6),
                          st.integers(0, 10), st.sampled_from(STATUSES)), max_size=40)


def frame(row_tuples) -> pd.DataFrame:
    records = [{"line": n + 2, "indicator": ind, "date": pd.Timestamp(START) + pd.Timedelta(days=day),
                "reported": pd.Timestamp(START) + pd.Timedelta(days=day + delay), "value": float(value),
                "status": status, "reliability": "", "credibility": "", "source": "", "url": "", "note": ""}
               for n, (ind, day, delay, value, status) in enumerate(row_tuples)]
    result = pd.DataFrame(records, columns=["line", "indicator", "date", "reported", "value", "status",
                                            "reliability", "credibility", "source", "url", "note"])
    result["date"] = result["date"].astype("datetime64[ns]")
    result["reported"] = result["reported"].astype("datetime64[ns]")
    result["value"] = result["value"].astype("float64")
    result["indicator"] = result["indicator"].astype("category")
    return result


def summary(statuses):
    return [(s.indicator.id, s.level, s.value, s.date, s.stale, s.disagreement) for s in statuses]


as_of_days = st.integers(0, 40)


@given(rows, as_of_days, st.randoms())
def test_result_does_not_depend_on_row_order(row_tuples, day, rnd):
    as_of = START + dt.timedelta(days=day)
    shuffled = list(row_tuples)
    rnd.shuffle(shuffled)
    assert summary(evaluate_statuses(WATCHLIST, frame(row_tuples), as_of)) == summary(
        evaluate_statuses(WATCHLIST, frame(shuffled), as_of))


@given(rows, as_of_days, st.sampled_from([i.id for i in INDICATORS]), st.integers(0, 30), st.integers(0, 10),
       st.sampled_from(["retracted", "disputed"]))
def test_adding_a_retracted_or_disputed_row_changes_nothing(row_tuples, day, ind, row_day, value, word):
    as_of = START + dt.timedelta(days=day)
    before = evaluate_statuses(WATCHLIST, frame(row_tuples), as_of)
    after = evaluate_statuses(WATCHLIST, frame(row_tuples + [(ind, row_day, 0, value, word)]), as_of)
    assert summary(before) == summary(after)


@given(rows, as_of_days)
def test_rows_reported_after_the_as_of_date_change_nothing(row_tuples, day):
    as_of = START + dt.timedelta(days=day)
    visible = [r for r in row_tuples if r[1] + r[2] <= day]
    assert summary(evaluate_statuses(WATCHLIST, frame(row_tuples), as_of)) == summary(
        evaluate_statuses(WATCHLIST, frame(visible), as_of))


def score_of(level) -> int:
    return level.score if level.score is not None else -1


def assert_daily_route_agrees_with_each_day(watchlist, observations, evaluate) -> None:
    """The daily arrays (timelines, history, backtests) and ``evaluate(day)`` -> (statuses, overall)
    (cards, status) give the same levels, index, coverage and overall level on each of 41 days."""
    end = START + dt.timedelta(days=40)
    scores = level_scores_over_time(watchlist, observations, START, end)
    daily = composite_index_over_time(watchlist, scores)
    for offset in range(41):
        day = START + dt.timedelta(days=offset)
        statuses, overall = evaluate(day)
        assert scores.iloc[offset].tolist() == [-2 if s.stale else score_of(s.level) for s in statuses], day
        if overall.index is None:
            assert np.isnan(daily["index"].iloc[offset]), day
        else:
            assert round(float(daily["index"].iloc[offset]), 1) == overall.index, day
            assert daily["current"].iloc[offset] == overall.current, day
        assert daily["level"].iloc[offset] == score_of(overall.level), day
        assert daily["index_level"].iloc[offset] == score_of(overall.index_level), day
        for scenario in overall.scenarios:
            assert daily[f"scenario:{scenario.scenario.id}"].iloc[offset] == score_of(scenario.level), day


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(rows)
def test_daily_levels_and_index_agree_with_evaluating_each_day(row_tuples):
    observations = frame(row_tuples)
    assert_daily_route_agrees_with_each_day(WATCHLIST, observations, statuses_and_overall(observations))


def statuses_and_overall(observations):
    """``evaluate(day)`` for the plain watchlist: its statuses and the overall level by the defaults."""
    arrays = prepare_arrays(WATCHLIST, observations)  # once for all days, as the dashboard does

    def evaluate(day):
        statuses = evaluate_statuses(WATCHLIST, observations, day, arrays)
        return statuses, overall_status(statuses)

    return evaluate


@pytest.mark.slow
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(ruled_rows)
def test_rules_day_by_day_agree_with_evaluating_each_day(row_tuples):
    """Holds, change over a baseline, cut-offs and floors: the daily arrays (history, backtests) and the
    as-of evaluation (cards, status) are two routes to the same answer."""
    observations = frame(row_tuples)
    arrays = prepare_arrays(RULED, observations)  # once for all days, as the dashboard does
    assert_daily_route_agrees_with_each_day(RULED, observations,
                                            lambda day: evaluate_watchlist(RULED, observations, day, arrays))


@pytest.mark.slow
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(sparse_held_rows)
def test_held_levels_over_empty_windows_agree_with_evaluating_each_day(row_tuples):
    """A held level stands on days whose own window is empty (mean, max) or whose report is quieter
    (latest), until the hold ends or the indicator goes stale; both routes say the same."""
    observations = frame(row_tuples)
    arrays = prepare_arrays(RULED, observations)  # once for all days, as the dashboard does
    assert_daily_route_agrees_with_each_day(RULED, observations,
                                            lambda day: evaluate_watchlist(RULED, observations, day, arrays))


cells = st.sampled_from(["2022-10-16", "troops", "5", "", " x ", "9,000", "retracted", "B", "7", "2099-01-01",
                         ";", "é", "abc", "2022-13-01"])


@settings(deadline=None, max_examples=80)
@given(st.lists(st.lists(cells, max_size=6), max_size=8))
def test_every_row_is_either_loaded_or_reported(tmp_path_factory, rows):
    """Never a silently dropped row: each non-blank line is a valid observation or has a problem."""
    from helpers import FIXED_TODAY, indicator, write_watchlist
    from indicators.store.loader import load_watchlist

    folder = write_watchlist(tmp_path_factory.mktemp("w"), [indicator()])
    lines = [",".join(row) for row in rows]
    (folder / "observations.csv").write_text("date,indicator,value,status\n" + "\n".join(lines) + "\n",
                                             encoding="utf-8")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    expected = {number for number, line in enumerate(lines, start=2) if line.strip()}
    reported = {p.line for p in loaded.problems if p.file == "observations.csv"}
    assert expected == set(loaded.observations["line"]) | (reported & expected)
    assert not set(loaded.observations["line"]) & reported


@settings(deadline=None, max_examples=60)
@given(st.lists(st.lists(cells.filter(lambda cell: "," not in cell), min_size=7, max_size=7), max_size=8))
def test_the_columns_read_as_categories_check_exactly_as_text(tmp_path_factory, rows):
    """observations.csv's repeating columns come from pyarrow as categories (the checks then skip
    factorizing them); the rows kept, their types and every problem are what the text gives."""
    from helpers import FIXED_TODAY, indicator, write_watchlist
    from indicators.format.csvfile import read_csv_table
    from indicators.format.definitions import load_definitions
    from indicators.format.folder import ROWS_FILES
    from indicators.format.validation import check_observations

    definitions = [indicator(), indicator("n", aggregate="count", window_days=7)]
    folder = write_watchlist(tmp_path_factory.mktemp("w"), definitions)
    path = folder / "observations.csv"
    path.write_text("date,indicator,value,status,reliability,credibility,reported\n"
                    + "".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    definitions = load_definitions(folder, FIXED_TODAY)
    required, known, repeating = ROWS_FILES["observations.csv"]
    as_categories = read_csv_table(path, "observations.csv", required, known, repeating)
    as_text = read_csv_table(path, "observations.csv", required, known)
    assert isinstance(as_categories.frame["date"].dtype, pd.CategoricalDtype)
    checked = [check_observations(table.frame, definitions.watchlist, set(), FIXED_TODAY)
               for table in (as_categories, as_text)]
    pd.testing.assert_frame_equal(checked[0][0], checked[1][0])
    assert checked[0][1] == checked[1][1]


@settings(deadline=None, max_examples=60)
@given(st.fixed_dictionaries({"date": cells, "indicator": st.sampled_from(["troops", "n", "", " n ", "nope", "é"]),
                              "value": cells, "status": cells, "reliability": cells, "credibility": cells,
                              "reported": cells, "url": st.sampled_from(["", "https://x.org/a", "x.org", " "])}))
def test_the_writer_refuses_exactly_the_rows_the_loader_reports(tmp_path_factory, values):
    """A row the app or the CLI refuses is one that loading the file would report, with the same
    field, code and message; a row it writes loads without a problem."""
    import csv
    import io

    from helpers import FIXED_TODAY, indicator, write_watchlist
    from indicators.store.loader import load_watchlist
    from indicators.store.writing import RowRejected, append_observation

    definitions = [indicator(), indicator("n", aggregate="count", window_days=7)]
    written = write_watchlist(tmp_path_factory.mktemp("written"), definitions)
    try:
        append_observation(written, values, today=FIXED_TODAY)
        refused = None
    except RowRejected as error:
        refused = [(p.field, p.code, p.message) for p in error.problems]
    by_hand = write_watchlist(tmp_path_factory.mktemp("by_hand"), definitions)
    header = (by_hand / "observations.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow([values.get(name, "") for name in header])
    with open(by_hand / "observations.csv", "a", encoding="utf-8", newline="") as file:
        file.write(line.getvalue())
    reported = [(p.field, p.code, p.message) for p in load_watchlist(by_hand, today=FIXED_TODAY).problems]
    if refused is None:
        assert reported == []
        assert load_watchlist(written, today=FIXED_TODAY).problems == []
    else:
        assert sorted(refused) == sorted(reported)  # (the loader lists them by field)


yaml_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5),
                        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                             max_size=2))


@settings(deadline=None, max_examples=80)
@given(st.dictionaries(st.sampled_from(["id", "name", "category", "thresholds", "aggregate", "window_days",
                                        "direction", "levels", "weight", "stale_after_days", "unit"]),
                       yaml_values, max_size=8))
def test_any_indicator_definition_loads_without_raising(tmp_path_factory, definition):
    import yaml

    from helpers import FIXED_TODAY
    from indicators.store.loader import load_watchlist

    folder = tmp_path_factory.mktemp("w")
    (folder / "watchlist.yaml").write_text(yaml.safe_dump({"title": "T", "indicators": [definition]}))
    (folder / "observations.csv").write_text("date,indicator,value\n2022-10-16,troops,5\n")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    valid = loaded.watchlist is not None and loaded.watchlist.indicators
    assert valid or any(p.file == "watchlist.yaml" for p in loaded.problems)


# Feed rows carry ``until``: the day a newer version of the event (or its deletion) replaced them.
versioned_rows = st.lists(st.tuples(st.sampled_from([i.id for i in INDICATORS]), st.integers(0, 30),
                                    st.integers(0, 6), st.integers(0, 10), st.sampled_from(STATUSES),
                                    st.one_of(st.none(), st.integers(0, 12))), max_size=40)


def versioned_frame(row_tuples) -> pd.DataFrame:
    result = frame([row[:5] for row in row_tuples])
    result["until"] = pd.Series([pd.Timestamp(START) + pd.Timedelta(days=day + delay + later) if later is not None
                                 else pd.NaT for _, day, delay, _, _, later in row_tuples], dtype="datetime64[ns]")
    return result


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(versioned_rows)
def test_superseded_rows_agree_between_the_daily_route_and_each_day(row_tuples):
    observations = versioned_frame(row_tuples)
    assert_daily_route_agrees_with_each_day(WATCHLIST, observations, statuses_and_overall(observations))


@given(versioned_rows, as_of_days)
def test_a_row_counts_only_until_it_is_replaced(row_tuples, day):
    """As of a day on or after a row's ``until``, the result is as if the row had never been there."""
    as_of = START + dt.timedelta(days=day)
    still_valid = [row for row in row_tuples if row[5] is None or row[1] + row[2] + row[5] > day]
    assert summary(evaluate_statuses(WATCHLIST, versioned_frame(row_tuples), as_of)) == summary(
        evaluate_statuses(WATCHLIST, versioned_frame(still_valid), as_of))
