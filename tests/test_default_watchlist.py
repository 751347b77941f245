"""The bundled Belarus 2022 watchlist: clean, cited, and telling the story of October 2022."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import DEFAULT_WATCHLIST
from indicators.evaluate import evaluate_statuses, overall_status
from indicators.loader import load_watchlist
from indicators.models import Level

REQUIRED_IDS = {"russian_troops_in_belarus", "belarus_threat_level", "mobilization_reports",
                "arms_shipments_to_russia", "rail_sabotage_incidents"}


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
    statuses = status_on(loaded, dt.date(2022, 10, 17))
    troops = statuses["russian_troops_in_belarus"]
    assert (troops.value, troops.date) == (9000, dt.date(2022, 10, 16))
    threat = statuses["belarus_threat_level"]
    assert (threat.value, threat.label, threat.level) == (1, "heightened terrorist threat", Level.ELEVATED)
    assert statuses["mobilization_reports"].value == 3
    overall = overall_status(list(statuses.values()))
    assert (overall.level, overall.current, overall.total) == (Level.ELEVATED, 8, 8)


def test_before_the_invasion_sources_disagreed_on_troop_numbers(loaded):
    troops = status_on(loaded, dt.date(2022, 2, 5))["russian_troops_in_belarus"]
    assert (troops.value, troops.level, troops.disagreement) == (30000, Level.CRITICAL, True)


def test_events_include_the_key_moments(loaded):
    titles = dict(zip(loaded.events["date"].dt.date, loaded.events["title"]))
    assert titles[dt.date(2022, 2, 24)].startswith("Russia invades Ukraine")
    assert titles[dt.date(2022, 10, 10)].startswith("Lukashenko announces joint regional grouping")
    union_resolve = loaded.events[loaded.events["title"] == "Union Resolve 2022 joint exercise"]
    assert union_resolve["end_date"].dt.date.tolist() == [dt.date(2022, 2, 20)]
