"""The map: rows known on a day with their level that day, markers bounded in number, change per region,
a figure drawn from shipped boundaries only, and the Map page with its view in the URL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import FIXED_TODAY, indicator, run_app, write_watchlist
from indicators.engine.boundaries import countries, region_of_points, regions
from indicators.engine.mapdata import (View, aggregate_markers, fit_view, located_rows, mercator_y, region_changes,
                                       rows_known_on)
from indicators.engine.timeseries import level_scores_over_time
from indicators.store.loader import load_watchlist

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "acled-rail-sabotage"
HEADER = "date,indicator,value,source,url,reliability,credibility,status,reported,note,place,lat,lon\n"
MINSK, GOMEL, BREST = (53.90, 27.57), (52.43, 30.98), (52.10, 23.73)


def placed_folder(tmp_path, rows: str, events: str = "") -> Path:
    folder = write_watchlist(tmp_path / "w", [
        indicator(unit="troops", thresholds={"elevated": 1000, "high": 5000}),
        indicator("attacks", aggregate="count", window_days=7, thresholds={"elevated": 1, "high": 3})],
        as_of="2022-10-20")
    (folder / "observations.csv").write_text(HEADER + rows, encoding="utf-8")
    (folder / "events.csv").write_text("date,title,category,description,source,url,end_date,place,lat,lon\n" + events,
                                       encoding="utf-8")
    return folder


def map_rows(folder: Path, day: str, start: str = "2022-01-01", later: bool = False) -> pd.DataFrame:
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    scores = level_scores_over_time(loaded.watchlist, loaded.observations, dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    located = located_rows(loaded.observations, loaded.events, scores)
    return rows_known_on(located, dt.date.fromisoformat(day), dt.date.fromisoformat(start), later)


def test_a_row_is_on_the_map_from_its_reported_date_and_later_ones_are_drawn_apart(tmp_path):
    folder = placed_folder(tmp_path, f"2022-10-01,troops,1200,MoD,,,,,2022-10-05,,Minsk,{MINSK[0]},{MINSK[1]}\n"
                                     f"2022-10-02,troops,6000,MoD,,,,,,,Gomel,{GOMEL[0]},{GOMEL[1]}\n"
                                     f"2022-10-03,troops,6500,MoD,,,,disputed,,,Brest,{BREST[0]},{BREST[1]}\n",
                           f"2022-10-10,Exercise,Military,,,,,Brest,{BREST[0]},{BREST[1]}\n")
    assert map_rows(folder, "2022-10-04")["place"].tolist() == ["Gomel", "Brest"]  # Minsk reported on 10-05
    assert map_rows(folder, "2022-10-05")["place"].tolist() == ["Minsk", "Gomel", "Brest"]
    rows = map_rows(folder, "2022-10-05", later=True)
    assert rows[["kind", "place", "later"]].values.tolist() == [
        ["observation", "Minsk", False], ["observation", "Gomel", False], ["observation", "Brest", False],
        ["event", "Brest", True]]
    assert rows["counting"].tolist()[:3] == [True, True, False]  # the disputed one is drawn open
    assert map_rows(folder, "2022-10-05", start="2022-10-02")["place"].tolist() == ["Gomel", "Brest"]


def test_each_row_carries_its_indicators_level_on_its_own_day(tmp_path):
    folder = placed_folder(tmp_path, f"2022-10-01,troops,1200,MoD,,,,,,,Minsk,{MINSK[0]},{MINSK[1]}\n"
                                     f"2022-10-08,troops,6000,MoD,,,,,,,Gomel,{GOMEL[0]},{GOMEL[1]}\n")
    rows = map_rows(folder, "2022-10-20")
    assert dict(zip(rows["place"], rows["level"])) == {"Minsk": 1, "Gomel": 2}  # elevated then, high later


def test_a_replaced_feed_version_leaves_the_map_when_its_revision_is_known():
    loaded = load_watchlist(EXAMPLE)
    located = located_rows(loaded.observations, loaded.events, None)
    on = lambda day: set(rows_known_on(located, dt.date.fromisoformat(day), dt.date(2022, 1, 1))["event_id"])  # noqa
    assert "SYN005" in on("2022-03-19") and "SYN005" not in on("2022-03-20")  # revised off the railway
    assert "SYN010" in on("2022-03-24") and "SYN010" not in on("2022-03-25")  # deleted
    rows = rows_known_on(located, dt.date(2022, 4, 30), dt.date(2022, 1, 1))
    assert set(rows["kind"]) == {"feed"} and set(rows["place"]) == {
        "Mogilev", "Orsha", "Minsk", "Gomel", "Vitebsk", "Baranovichi", "Svetlogorsk", "Zhlobin"}


def test_rows_at_one_place_share_a_marker_with_the_newest_rows_level_and_every_row_in_its_detail(tmp_path):
    folder = placed_folder(tmp_path, "".join(f"2022-10-{day:02d},troops,{day * 500},MoD,,,,,,note {day},Minsk,"
                                             f"{MINSK[0]},{MINSK[1]}\n" for day in range(1, 11)))
    markers = aggregate_markers(map_rows(folder, "2022-10-20"))
    assert len(markers.frame) == 1 and markers.frame["rows"].tolist() == [10]
    assert markers.frame["level"].tolist() == [2]  # 5000 on 10-10: high
    assert markers.detail["note"].tolist() == ["note 10", "note 9", "note 8", "note 7", "note 6", "note 5"]


def test_many_rows_are_binned_to_at_most_the_marker_limit_and_none_is_lost():
    rng = np.random.default_rng(3)
    count = 50_000
    rows = pd.DataFrame({
        "kind": "observation", "later": False, "counting": True, "lat": rng.uniform(45, 60, count),
        "lon": rng.uniform(20, 40, count), "place": "", "located_by": "", "indicator": rng.choice(["a", "b"], count),
        "date": pd.Timestamp("2022-10-01"), "reported": pd.Timestamp("2022-10-01"), "value": 1.0, "size": 1.0,
        "level": rng.integers(0, 4, count), "line": np.arange(count)})
    markers = aggregate_markers(rows, max_markers=500)
    assert len(markers.frame) <= 500 and markers.cell_degrees is not None
    assert markers.frame["rows"].sum() == count
    assert markers.frame["level"].max() == 3  # a cell shows its most escalatory row


def test_a_region_is_shaded_by_its_window_against_four_windows_before_with_the_low_baseline_guard(tmp_path):
    minsk, gomel, brest = (f"{MINSK[0]},{MINSK[1]}", f"{GOMEL[0]},{GOMEL[1]}", f"{BREST[0]},{BREST[1]}")
    rows = ([f"2022-10-{day:02d},attacks,,S,,,,,,,Gomel,{gomel}" for day in (14, 15, 16, 17, 18, 19)]  # 6 now
            + [f"2022-09-{day:02d},attacks,,S,,,,,,,Gomel,{gomel}" for day in (10, 20)]  # 09-10 is before the baseline
            + [f"2022-10-{day:02d},attacks,,S,,,,,,,Minsk,{minsk}" for day in (18, 19)]  # 2 now, none before
            + [f"2022-09-{day:02d},attacks,,S,,,,,,,Brest,{brest}" for day in (15, 16, 17, 18, 19, 20, 21, 22)])  # 7 in
    folder = placed_folder(tmp_path, "\n".join(rows) + "\n")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    changes = region_changes(loaded.observations, loaded.watchlist.indicator("attacks"), dt.date(2022, 10, 20),
                             regions())
    table = {row.name: (row.value, row.baseline, row.category) for row in changes.frame.itertuples()}
    assert table == {"Gomel": (6.0, 0.25, "much_more"),  # 1 in the four windows before: +2300%
                     "City of Minsk": (2.0, 0.0, "few"),  # 2 after none: the guard, not a +infinity alarm
                     "Brest": (0.0, 1.75, "fewer")}
    assert changes.window == (dt.date(2022, 10, 14), dt.date(2022, 10, 20))
    assert changes.baseline == (dt.date(2022, 9, 16), dt.date(2022, 10, 13))


def test_points_fall_in_the_right_region_and_the_boundaries_are_natural_earths():
    names = [regions()[i].name if i >= 0 else None for i in
             region_of_points(np.array([27.56, 30.98, 23.73, 30.52, 2.35]), np.array([53.9, 52.43, 52.1, 50.45, 48.85]))]
    assert names == ["City of Minsk", "Gomel", "Brest", "Kiev City", None]  # Paris: no region shipped
    assert {shape.name for shape in countries()} >= {"Belarus", "Ukraine", "Poland", "France"}


def test_the_view_round_trips_through_the_url_and_fits_its_points():
    view = View.parse("52.100,27.500,6.5")
    assert view == View(52.1, 27.5, 6.5) and View.parse(view.text()) == view
    assert View.parse("95,27,3") is None and View.parse("x") is None and View.parse(None) is None
    fitted = fit_view(np.array([51.5, 55.5]), np.array([24.0, 31.0]))
    x_range, y_range = fitted.ranges(0.6)
    assert x_range[0] < 24.0 and x_range[1] > 31.0
    assert y_range[0] < mercator_y(51.5) < mercator_y(55.5) < y_range[1]


# ---------------------------------------------------------------- the figure


def figure_of(tmp_path, rows: str, events: str = "", layers=None):
    from indicators.views.map_figure import LAYERS, build_map_figure

    folder = placed_folder(tmp_path, rows, events)
    shown = map_rows(folder, "2022-10-20", later=True)
    markers = aggregate_markers(shown)
    return build_map_figure(markers, fit_view(shown["lat"], shown["lon"]), dt.date(2022, 10, 20),
                            {"troops": "Troops", "attacks": "Attacks"}, {"troops": "troops"},
                            tuple(layers or LAYERS))


def test_the_figure_uses_plain_scatter_traces_and_no_geo_layout_so_nothing_is_fetched(tmp_path):
    figure = figure_of(tmp_path, f"2022-10-01,troops,1200,MoD,,,,,,,Minsk,{MINSK[0]},{MINSK[1]}\n")
    assert {trace.type for trace in figure.data} == {"scatter"}
    layout = figure.to_plotly_json()["layout"]
    assert not {"geo", "mapbox", "map"} & set(layout)
    assert "https://" not in json.dumps(figure.to_plotly_json(), default=str)  # no tile or topojson address


def test_marker_hover_is_escaped_and_says_level_kind_and_provenance(tmp_path):
    figure = figure_of(tmp_path, f'2022-10-01,troops,6000,"<b>MoD</b>",https://example.org/r,B,2,,,"<img src=x '
                                 f'onerror=alert(1)>",Minsk,{MINSK[0]},{MINSK[1]}\n',
                       f"2022-10-30,<i>Later exercise</i>,Military,,,,,Gomel,{GOMEL[0]},{GOMEL[1]}\n")
    hovers = [text for trace in figure.data if trace.hovertext is not None for text in trace.hovertext]
    observation = next(text for text in hovers if "Troops" in text)
    assert "&lt;img src=x onerror=alert(1)&gt;" in observation and "<img" not in observation
    assert "Source: &lt;b&gt;MoD&lt;/b&gt; (B2)" in observation and "level that day HIGH" in observation
    event = next(text for text in hovers if "Later exercise" in text)
    assert "&lt;i&gt;Later exercise&lt;/i&gt;" in event and "later: not known on 2022-10-20" in event
    legend = {trace.name for trace in figure.data if trace.showlegend is not False and trace.x == (None,)}
    assert {"HIGH", "observation", "event", "later: not known on 2022-10-20"} <= legend


def test_a_layer_switched_off_draws_none_of_its_markers(tmp_path):
    rows = f"2022-10-01,troops,1200,MoD,,,,,,,Minsk,{MINSK[0]},{MINSK[1]}\n"
    events = f"2022-10-02,Exercise,Military,,,,,Gomel,{GOMEL[0]},{GOMEL[1]}\n"
    names = lambda figure: {trace.name for trace in figure.data if trace.mode == "markers" and trace.x != (None,)}  # noqa
    assert names(figure_of(tmp_path / "a", rows, events)) == {"observation", "event"}
    assert names(figure_of(tmp_path / "b", rows, events, layers=("observations", "feed"))) == {"observation"}


# ---------------------------------------------------------------- the page


def chart_spec(app) -> dict:
    return json.loads(app.get("plotly_chart")[0].proto.spec)


def test_the_map_page_draws_the_synthetic_acled_example_with_its_regions_shaded(monkeypatch):
    app = run_app(monkeypatch, EXAMPLE, page="map")
    assert not app.error
    spec = chart_spec(app)
    names = [trace.get("name") for trace in spec["data"]]
    assert "feed row" in names and "much more (+100% or more, or new)" in names
    captions = " ".join(caption.value for caption in app.caption)
    assert "29 rows with a place known on 2022" in captions.replace("\\", "")


def test_the_maps_day_layers_and_view_live_in_the_url(monkeypatch):
    app = run_app(monkeypatch, EXAMPLE, page="map")
    app.select_slider(key="map_day_input").set_value(dt.date(2022, 3, 20)).run()
    app.selectbox(key="map_centre").set_value("Gomel").run()
    app.number_input(key="map_zoom").set_value(8.0).run()
    assert not app.exception
    params = {key: (value[0] if isinstance(value, list) else value) for key, value in app.query_params.items()}
    assert params["map_day"] == "2022-03-20"
    assert params["map_view"] == "52.434,30.975,8.0"
    again = run_app(monkeypatch, EXAMPLE, **{**params, "page": "map"})
    spec = chart_spec(again)
    assert again.select_slider(key="map_day_input").value == dt.date(2022, 3, 20)
    x_range = spec["layout"]["xaxis"]["range"]
    assert abs((x_range[0] + x_range[1]) / 2 - 30.975) < 1e-6 and abs(x_range[1] - x_range[0] - 360 / 2 ** 8) < 1e-6


def test_a_watchlist_without_places_says_how_to_give_rows_one(monkeypatch, tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-01,troops,5,A,,,,,,\n")
    app = run_app(monkeypatch, folder, page="map")
    assert "Nothing to map yet" in app.info[0].value


def test_a_briefing_carries_the_map_of_its_as_of_date_only_when_the_watchlist_has_places(tmp_path):
    import re

    from indicators.views.briefing import build_briefing_html, default_options

    loaded = load_watchlist(EXAMPLE)
    html = build_briefing_html(loaded, default_options(loaded))
    assert 'id="chart-map"' in html and "Where, 2022-02-26 to 2022-04-30" in html  # the charts' days
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", html)  # still self-contained
    assert "Boundaries: Natural Earth (public domain)" in html
    plain = write_watchlist(tmp_path / "w", [indicator()], "2022-10-01,troops,5,A,,,,,,\n", as_of="2022-10-01")
    loaded = load_watchlist(plain, today=FIXED_TODAY)
    assert 'id="chart-map"' not in build_briefing_html(loaded, default_options(loaded))


def test_a_briefings_map_names_each_country_once_at_the_slides_size(tmp_path):
    import re

    from helpers import DEFAULT_WATCHLIST
    from indicators.views.map_figure import briefing_map_html

    loaded = load_watchlist(DEFAULT_WATCHLIST)
    for size, points in (("slide", 16), ("a4", 11)):
        html = briefing_map_html(loaded, dt.date(2022, 10, 17), dt.date(2022, 7, 19), size)
        names = re.findall(r'\{"font":\{"color":"#9A9A9A","size":(\d+)\},"showarrow":false,"text":"([A-Z ]+)"', html)
        assert len(names) > 5 and {name for _, name in names} >= {"BELARUS", "UKRAINE", "POLAND"}
        assert sorted(name for _, name in names) == sorted({name for _, name in names}), names  # each once
        assert {int(font) for font, _ in names} == {points}
        assert html.count("Natural Earth") == 1  # named under the map, not in a corner of it


def test_the_maps_day_follows_the_as_of_date_until_it_is_set(monkeypatch):
    app = run_app(monkeypatch, EXAMPLE, page="map")
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 3, 31)).run()
    assert app.select_slider(key="map_day_input").value == dt.date(2022, 3, 31)
    assert "map_day" not in app.query_params
    app.select_slider(key="map_day_input").set_value(dt.date(2022, 3, 15)).run()
    app.sidebar.date_input(key="as_of").set_value(dt.date(2022, 3, 10)).run()  # the day set cannot be after it
    assert app.select_slider(key="map_day_input").value == dt.date(2022, 3, 10)
