"""One as-of date everywhere: no page shows what came later unless asked, the comparison date follows,
missing data is never green, and no stale output (briefing, form) outlives the view it was made for."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd

from helpers import DEFAULT_WATCHLIST, indicator, write_watchlist
from indicators.store.loader import load_watchlist
from test_app import card_levels, html_of, run_app

EARLY = dt.date(2022, 3, 1)
LOADED = load_watchlist(DEFAULT_WATCHLIST)


def chart_specs(app) -> dict[str, dict]:
    """{chart key suffix: plotly figure dict} of the page's charts."""
    specs = {}
    for element in app.get("plotly_chart"):
        figure = json.loads(element.proto.spec)
        specs[figure["layout"]["title"]["text"]] = figure
    return specs


def dates_in(trace: dict) -> list[pd.Timestamp]:
    return [pd.Timestamp(x) for x in trace.get("x", [])]


def test_timelines_hide_what_came_later_until_asked(monkeypatch):
    app = run_app(monkeypatch, page="timelines", as_of=EARLY.isoformat())
    troops = chart_specs(app)["Russian troops present in Belarus"]
    points = [x for trace in troops["data"] if trace.get("mode") == "markers" for x in dates_in(trace)]
    assert points and max(points) <= pd.Timestamp(EARLY)
    assert pd.Timestamp(troops["layout"]["xaxis"]["range"][1]) < pd.Timestamp(EARLY + dt.timedelta(days=10))
    assert any("dated or reported after the as-of date hidden" in caption.value for caption in app.caption)
    app.sidebar.toggle(key="show_later").set_value(True).run()
    troops = chart_specs(app)["Russian troops present in Belarus"]
    points = [x for trace in troops["data"] if trace.get("mode") == "markers" for x in dates_in(trace)]
    assert max(points) > pd.Timestamp("2022-10-01")
    assert "later: not known on the as-of date" in " ".join(note["text"] for note in troops["layout"]["annotations"])
    assert app.query_params["later"] in ("1", ["1"])


def test_indicator_detail_history_and_row_picker_hold_only_rows_known_on_the_as_of_date(monkeypatch):
    app = run_app(monkeypatch, page="indicator", as_of=EARLY.isoformat(), indicator="russian_troops_in_belarus")
    history = history_rows(app)
    assert len(history) and all(date <= EARLY.isoformat() and reported <= EARLY.isoformat()
                                for date, reported, _ in history)
    picker = app.selectbox(key="edit_line")
    assert len(picker.options) == len(history)
    app.sidebar.toggle(key="show_later").set_value(True).run()
    everything = history_rows(app)
    later = [row for row in everything if row[2]]
    assert len(everything) > len(history) and len(later) == len(everything) - len(history)
    assert all(reported > EARLY.isoformat() or date > EARLY.isoformat() for date, reported, _ in later)
    assert len(app.selectbox(key="edit_line").options) == len(everything)


def history_rows(app) -> list[tuple[str, str, bool]]:
    """(date, reported, marked later) of each row of the Indicator detail history table."""
    table = re.search(r'<table class="wf-history">.*?</table>', html_of(app), re.S).group(0)
    return [(date, reported, bool(later)) for later, date, reported in re.findall(
        r'<tr class="(wf-later)?"><td class="wf-nowrap">([0-9-]+)</td>.*?<td class="wf-nowrap">([0-9-]+)', table)]


def test_events_page_lists_only_events_up_to_the_as_of_date(monkeypatch):
    app = run_app(monkeypatch, page="events", as_of=EARLY.isoformat())
    dates = event_dates(app)
    assert len(dates) and all(date <= EARLY.isoformat() for date in dates)
    assert dates == sorted(dates, reverse=True)  # newest first
    app.sidebar.toggle(key="show_later").set_value(True).run()
    assert len(event_dates(app)) == len(LOADED.events)
    body = html_of(app)
    assert "None" not in body[body.index('<table class="wf-history">'):]  # an event without an end has none shown
    assert "2022-02-10 to 2022-02-20" in body  # a period shows both ends


def event_dates(app) -> list[str]:
    table = re.search(r'<table class="wf-history">.*?</table>', html_of(app), re.S).group(0)
    return re.findall(r'<tr class="(?:wf-later)?"><td class="wf-nowrap">([0-9-]{10})', table)


def test_the_comparison_date_follows_the_as_of_date_until_the_user_sets_it(monkeypatch):
    app = run_app(monkeypatch)
    assert app.sidebar.date_input(key="compare").value == dt.date(2022, 10, 10)
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 2, 20)).run()
    assert app.sidebar.date_input(key="compare").value == dt.date(2022, 2, 13)
    assert "between 2022-02-13 and 2022-02-20" in " ".join(m.value for m in app.markdown)
    app.sidebar.date_input(key="compare").set_value(dt.date(2022, 1, 1)).run()
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 2, 27)).run()
    assert app.sidebar.date_input(key="compare").value == dt.date(2022, 1, 1)  # the user's choice is kept


def test_a_comparison_date_after_the_as_of_date_is_refused_with_a_message(monkeypatch):
    app = run_app(monkeypatch)
    app.sidebar.date_input(key="compare").set_value(dt.date(2022, 10, 20)).run()
    assert app.sidebar.date_input(key="compare").value == dt.date(2022, 10, 10)
    assert [error.value for error in app.error] == [
        "Compare with 2022-10-20 is after the as-of date 2022-10-17; pick a date on or before it."]
    linked = run_app(monkeypatch, as_of="2022-10-17", compare="2022-11-01")
    assert linked.sidebar.date_input(key="compare").value == dt.date(2022, 10, 10)
    assert "is after the as-of date 2022-10-17" in linked.error[0].value


def test_cards_and_what_changed_agree_after_the_as_of_date_moves(monkeypatch):
    app = run_app(monkeypatch)
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 10, 11)).run()
    body = html_of(app)
    card = re.search(r'data-indicator="russian_troops_in_belarus".*?</div></div>', body).group(0)
    assert "since 2022-10-04" in card and "+29,000" not in card


def test_a_stale_card_is_muted_grey_and_the_overall_panel_names_what_it_leaves_out(monkeypatch):
    app = run_app(monkeypatch, as_of="2022-09-01")
    body = html_of(app)
    folded = re.search(r'<div class="wf-sit-folded" data-folded="stale".*?</div>', body).group(0)
    assert "Russian troops present in Belarus</a> (last CRITICAL" in folded and "wf-badge" not in folded
    app.toggle(key="full_cards").set_value(True).run()
    body = html_of(app)
    card = re.search(r'class="wf-card" data-indicator="russian_troops_in_belarus".*?</div></div>', body).group(0)
    assert "last: CRITICAL" in card and 'class="wf-badge wf-badge-stale"' in card
    assert not re.search(r'<span class="wf-badge" style="background:#D55E00', card)  # no bright CRITICAL
    assert '<div class="wf-value wf-value-stale">' in card  # the old value is greyed too
    panel = re.search(r'<div class="wf-sit-overall".*?</div></div></div>', body, re.S).group(0)
    assert ("Stale: Russian troops present in Belarus, Russian-Belarusian grouping against Ukraine, "
            "Exercises in Belarus") in panel
    assert "No data: Belarus national terrorist-threat regime" in panel


def test_an_empty_watchlist_is_no_data_not_normal(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator(), indicator("n", aggregate="count", window_days=30)], "",
                             as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder)
    assert card_levels(app) == {"troops": "no_data", "n": "no_data"}
    assert 'data-overall-level="no_data"' in html_of(app)


def test_every_driver_is_named(monkeypatch, tmp_path):
    ids = [f"i{n}" for n in range(7)]
    rows = "".join(f"2022-10-16,{i},25,,,,,,,\n" for i in ids)
    folder = write_watchlist(tmp_path / "w", [indicator(i, name=f"Name {i}") for i in ids], rows, as_of="2022-10-17")
    panel = re.search(r'Driven by: (.*?)</div>', html_of(run_app(monkeypatch, root=folder))).group(1)
    assert panel == ", ".join(f"Name {i}" for i in ids) and "more" not in panel


def test_a_briefing_made_for_another_view_is_not_offered(monkeypatch):
    app = run_app(monkeypatch)
    app.selectbox(key="briefing_format").select("html")
    app.button(key="make_briefing").click().run()
    assert app.get("download_button")[0].proto.label.endswith("2022-10-17-since-2022-10-10.html")
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 10, 1)).run()
    assert "briefing" not in app.session_state and not app.get("download_button")
    app.button(key="make_briefing").click().run()
    assert app.get("download_button")[0].proto.label.endswith("2022-10-01-since-2022-09-24.html")
    app.selectbox(key="briefing_format").select("png").run()
    assert not app.get("download_button")


def test_adding_an_identical_row_asks_for_confirmation_first(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-17,troops,12,MoD,,,,,,\n", as_of="2022-10-17")
    before = (folder / "observations.csv").read_bytes()
    app = run_app(monkeypatch, root=folder, page="update")
    app.text_input(key="new_value").input("12")
    app.text_input(key="new_source").input("MoD").run()
    assert "already has this exact row (line 2)" in app.warning[0].value
    assert app.button(key="add_observation").disabled
    app.checkbox(key="confirm_duplicate").check().run()
    app.button(key="add_observation").click().run()
    assert (folder / "observations.csv").read_bytes() == before + b"2022-10-17,troops,12,MoD,,,,,,\n"


def test_a_dispute_carries_its_reason_into_the_note_and_the_picker_shows_the_new_status(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-16,troops,25,TASS,,,,,,Claimed\n",
                             as_of="2022-10-17")
    app = run_app(monkeypatch, root=folder, page="indicator", indicator="troops")
    app.text_input(key="dispute_reason").input("denied by the KGB")
    app.button(key="set_disputed").click().run()
    assert (folder / "observations.csv").read_text().splitlines()[1] == \
        "2022-10-16,troops,25,TASS,,,,disputed,,Claimed Disputed: denied by the KGB"
    assert app.selectbox(key="edit_line").options == ["line 2: 2022-10-16 25 (disputed; TASS)"]
    assert app.text_input(key="dispute_reason").value == ""
