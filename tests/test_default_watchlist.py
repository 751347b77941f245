"""The bundled Belarus 2022 watchlist: clean, cited, and telling the story of October 2022."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import DEFAULT_WATCHLIST
from indicators.backtest import backtest, level_history
from indicators.evaluate import evaluate_statuses
from indicators.loader import load_watchlist
from indicators.models import Level
from indicators.rules import evaluate_watchlist

REQUIRED_IDS = {"russian_troops_in_belarus", "joint_regional_grouping", "belarus_threat_level",
                "mobilization_reports", "arms_shipments_to_russia", "rail_sabotage_incidents",
                "air_and_missile_deployments", "forces_near_border", "strikes_from_belarus"}
INTERESTED = ("a party to the war", "an interested party", "an opposition group")


@pytest.fixture(scope="module")
def loaded():
    return load_watchlist(DEFAULT_WATCHLIST)


def status_on(loaded, day):
    return {s.indicator.id: s for s in evaluate_statuses(loaded.watchlist, loaded.observations, day)}


def test_validates_clean(loaded):
    assert [p.format() for p in loaded.problems] == []
    assert loaded.watchlist.as_of == dt.date(2022, 10, 17)
    assert REQUIRED_IDS <= {i.id for i in loaded.watchlist.indicators}


def test_every_observation_is_sourced_graded_and_linked(loaded):
    rows = loaded.observations
    assert (rows["source"] != "").all() and rows["url"].str.startswith("http").all()
    assert rows["reliability"].isin(list("ABCDEF")).all() and rows["credibility"].isin(list("123456")).all()


def test_the_contested_counter_terrorist_regime_is_kept_as_disputed(loaded):
    rows = loaded.observations
    cto = rows[(rows["indicator"] == "belarus_threat_level") & (rows["value"] == 2)]
    assert cto["status"].tolist() == ["disputed"]
    assert cto["date"].dt.date.tolist() == [dt.date(2022, 10, 14)]


def test_on_17_october_2022(loaded):
    statuses, overall = evaluate_watchlist(loaded.watchlist, loaded.observations, dt.date(2022, 10, 17))
    by_id = {s.indicator.id: s for s in statuses}
    troops = by_id["russian_troops_in_belarus"]  # announced contingents are not troops present
    assert (troops.value, troops.date, troops.stale) == (30000, dt.date(2022, 2, 9), True)
    grouping = by_id["joint_regional_grouping"]
    assert (grouping.label, grouping.level, grouping.date) == ("troops arriving or training", Level.HIGH,
                                                                dt.date(2022, 10, 15))
    threat = by_id["belarus_threat_level"]
    assert (threat.value, threat.label, threat.level) == (1, "heightened terrorist threat", Level.ELEVATED)
    assert by_id["mobilization_reports"].value == 3
    assert (overall.level, overall.index, overall.current, overall.total) == (Level.ELEVATED, 36.1, 9, 12)


def test_troops_present_are_kept_apart_from_announced_and_forecast_numbers(loaded):
    rows = loaded.observations
    troops = rows[rows["indicator"] == "russian_troops_in_belarus"]
    assert not troops["date"].between("2022-10-10", "2022-10-23").any()  # 1,000 / 15,000 / 9,000 were plans
    official = troops[troops["value"] == 13000]
    assert official["status"].tolist() == ["disputed"]  # Moscow/Minsk's figure, contested by NATO
    forecasts = loaded.events[loaded.events["title"].str.contains("30,000")]
    assert forecasts["date"].dt.date.tolist() == [dt.date(2022, 1, 31), dt.date(2022, 2, 3)]


def test_claims_of_interested_parties_are_graded_and_marked_as_such(loaded):
    rows = loaded.observations
    marked = rows[rows["note"].str.contains("|".join(INTERESTED))]
    assert len(marked) >= 30
    # a party's own claim is never graded A or B unless independently confirmed (credibility 1)
    unconfirmed = marked[marked["credibility"] != "1"]
    assert set(unconfirmed["reliability"]) <= set("CDE"), unconfirmed[["date", "indicator", "reliability"]]
    assert "A" not in set(rows["reliability"])


def test_each_rail_sabotage_act_counts_once_and_tallies_are_not_added(loaded):
    statuses, _ = evaluate_watchlist(loaded.watchlist, loaded.observations, dt.date(2022, 4, 12))
    rail = {s.indicator.id: s for s in statuses}["rail_sabotage_incidents"]
    assert (rail.value, rail.level) == (80, Level.CRITICAL)  # the Interior Ministry's tally, not 80 + 11 + ...
    statuses, _ = evaluate_watchlist(loaded.watchlist, loaded.observations, dt.date(2022, 7, 1))
    rail = {s.indicator.id: s for s in statuses}["rail_sabotage_incidents"]
    assert rail.level is Level.NO_DATA  # no report since April: unknown, not zero


def test_ammunition_is_counted_by_the_month_the_source_gives(loaded):
    late = evaluate_watchlist(loaded.watchlist, loaded.observations, dt.date(2022, 10, 30))[0]
    ammunition = {s.indicator.id: s for s in late}["arms_shipments_to_russia"]
    assert (ammunition.value, ammunition.level) == (14479, Level.HIGH)  # September, reported 29 October
    replay = evaluate_watchlist(loaded.watchlist, loaded.observations, dt.date(2022, 4, 30))[0]
    assert {s.indicator.id: s for s in replay}["arms_shipments_to_russia"].level is Level.NO_DATA  # not known yet


def test_it_warns_before_the_invasion_and_stays_below_high_in_the_quiet_summer(loaded):
    start, end = dt.date(2022, 1, 17), dt.date(2022, 3, 26)
    ids = [indicator.id for indicator in loaded.watchlist.indicators]
    result = backtest(level_history(loaded.watchlist, loaded.observations, start, end), ids,
                      [dt.date(2022, 2, 24)], Level.HIGH, start, end)
    target = result.targets[0]
    assert (target.warned, target.first_warning, target.lead_days) == (True, dt.date(2022, 1, 23), 32)
    assert result.false_alarm_days == 0
    history = level_history(loaded.watchlist, loaded.observations, dt.date(2022, 5, 1), dt.date(2022, 9, 30))
    assert (history["level"] <= Level.ELEVATED.score).all()


def test_events_include_the_key_moments(loaded):
    titles = dict(zip(loaded.events["date"].dt.date, loaded.events["title"]))
    assert titles[dt.date(2022, 2, 24)].startswith("Russia invades Ukraine")
    assert titles[dt.date(2022, 10, 10)].startswith("Lukashenko announces joint regional grouping")
    union_resolve = loaded.events[loaded.events["title"] == "Union Resolve 2022 joint exercise"]
    assert union_resolve["end_date"].dt.date.tolist() == [dt.date(2022, 2, 20)]
