"""Places on observations and events: own coordinates, places.csv, the offline gazetteer; writing them."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from helpers import FIXED_TODAY, indicator, statuses_of, write_watchlist
from indicators.cli import app
from indicators.format.places import gazetteer
from indicators.store.loader import load_watchlist, watchlist_fingerprint, files_signature
from indicators.store.writing import RowRejected, WriteRefused, append_event, append_observation

PLACED_HEADER = "date,indicator,value,source,url,reliability,credibility,status,reported,note,place,lat,lon\n"
runner = CliRunner()


def placed_watchlist(tmp_path, rows: str = "", places: str | None = None):
    folder = write_watchlist(tmp_path / "w", [indicator(thresholds={"elevated": 1000, "high": 5000})])
    (folder / "observations.csv").write_text(PLACED_HEADER + rows, encoding="utf-8")
    if places is not None:
        (folder / "places.csv").write_text("place,lat,lon,country,admin1,source\n" + places, encoding="utf-8")
    return folder


def located(folder) -> list[tuple]:
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    frame = loaded.observations
    return [(place, None if lat != lat else round(lat, 2), None if lon != lon else round(lon, 2), by)
            for place, lat, lon, by in zip(frame["place"], frame["lat"], frame["lon"], frame["located_by"])]


def test_the_gazetteer_knows_cities_by_their_own_and_their_latin_alternate_names():
    assert [(p.name, p.country) for p in gazetteer().lookup("Mozyr")] == [("Mazyr", "BY")]  # an alternate name
    assert [(p.name, p.country) for p in gazetteer().lookup("  ORSHA ")] == [("Orsha", "BY")]  # case and spaces
    assert [p.country for p in gazetteer().lookup("Brest")] == ["BY", "FR"]  # most populous first
    assert gazetteer().lookup("Zyabrovka") == []  # a village with an airfield: not a city of 15,000


def test_a_row_is_placed_by_its_coordinates_then_places_csv_then_the_gazetteer(tmp_path):
    folder = placed_watchlist(tmp_path, "2022-10-01,troops,1200,MoD,,,,,,,Zyabrovka airfield,52.2,28.6\n"
                                        "2022-10-02,troops,1300,MoD,,,,,,,mozyr,,\n"
                                        "2022-10-03,troops,1400,MoD,,,,,,,Orsha,,\n"
                                        "2022-10-04,troops,1500,MoD,,,,,,,,,\n",
                              "Orsha,54.5,30.4,BY,Vitebsk,a deliberate shadow of the gazetteer's Orsha\n")
    assert located(folder) == [
        ("Zyabrovka airfield", 52.2, 28.6, "coordinates on the row"),
        ("mozyr", 52.04, 29.22, "Mazyr, BY (GeoNames 625324)"),
        ("Orsha", 54.5, 30.4, "Orsha, Vitebsk, BY (places.csv line 2)"),  # places.csv wins over the gazetteer
        ("", None, None, ""),
    ]
    assert load_watchlist(folder, today=FIXED_TODAY).problems == []


def test_a_place_problem_leaves_the_row_counting_and_off_the_map(tmp_path):
    folder = placed_watchlist(tmp_path, "2022-10-01,troops,6000,MoD,,,,,,,Brest,,\n")
    loaded = load_watchlist(folder, today=FIXED_TODAY)
    assert [p.format() for p in loaded.problems] == [
        'observations.csv:2: place: "Brest" is ambiguous in the gazetteer (GeoNames cities of 15,000 people or '
        "more): Brest (BY, 347,138 people), Brest (FR, 144,899 people); add it to places.csv with the coordinates "
        "meant, or give lat and lon; the row counts but is not on the map"]
    assert len(loaded.observations) == 1 and loaded.observations["lat"].isna().all()
    (folder / "places.csv").write_text("place,lat,lon,country,admin1\nBrest,52.0976,23.7341,BY,Brest\n")
    assert load_watchlist(folder, today=FIXED_TODAY).problems == []  # the watchlist says which Brest
    # the level is the same either way: a place never changes a level
    from indicators.engine.evaluate import evaluate_statuses

    status = evaluate_statuses(loaded.watchlist, loaded.observations, dt.date(2022, 10, 1))[0]
    assert status.level.value == "high"


def test_places_csv_changes_the_signature_and_the_fingerprint(tmp_path):
    folder = placed_watchlist(tmp_path, "2022-10-01,troops,1200,MoD,,,,,,,Zyabrovka,,\n")
    signature, fingerprint = files_signature(folder), watchlist_fingerprint(folder)
    (folder / "places.csv").write_text("place,lat,lon,country,admin1\nZyabrovka,52.2,28.6,BY,Gomel\n")
    assert files_signature(folder) != signature and watchlist_fingerprint(folder) != fingerprint
    assert located(folder)[0][1:3] == (52.2, 28.6)


def test_a_file_without_place_columns_loads_as_before(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-01,troops,5,A,,,,,,\n")
    assert located(folder) == [("", None, None, "")]
    assert statuses_of(folder, dt.date(2022, 10, 1))["troops"].value == 5


# ---------------------------------------------------------------- writing


def test_an_append_with_a_place_keeps_every_old_byte(tmp_path):
    folder = placed_watchlist(tmp_path, "2022-10-01,troops,1200,MoD,,,,,,,Mozyr,,\n")
    before = (folder / "observations.csv").read_bytes()
    line = append_observation(folder, {"date": "2022-10-02", "indicator": "troops", "value": "1300",
                                       "place": "Zyabrovka airfield", "lat": "52.2", "lon": "28.6"},
                              today=FIXED_TODAY)
    assert line == "2022-10-02,troops,1300,,,,,,,,Zyabrovka airfield,52.2,28.6\n"
    assert (folder / "observations.csv").read_bytes() == before + line.encode()


def test_a_place_the_file_has_no_column_for_is_refused_not_dropped(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "2022-10-01,troops,5,A,,,,,,\n")
    before = (folder / "observations.csv").read_bytes()
    with pytest.raises(WriteRefused, match="^the file has no place column; add it to the header line or leave it "
                                           "empty$"):
        append_observation(folder, {"date": "2022-10-02", "indicator": "troops", "value": "6", "place": "Mozyr"},
                           today=FIXED_TODAY)
    assert (folder / "observations.csv").read_bytes() == before


@pytest.mark.parametrize("place, lat, lon, field, message", [
    ("Brest", "", "", "place", '"Brest" is ambiguous in the gazetteer (GeoNames cities of 15,000 people or more): '
                               "Brest (BY, 347,138 people), Brest (FR, 144,899 people); add it to places.csv with "
                               "the coordinates meant, or give lat and lon"),
    ("Nowhereville", "", "", "place", '"Nowhereville" is neither in places.csv nor in the gazetteer (GeoNames cities '
                                      "of 15,000 people or more); add it to places.csv with its coordinates, or give "
                                      "lat and lon"),
    ("", "52.1", "200", "lon", "200 is outside -180 to 180; give the longitude in decimal degrees (WGS84)"),
    ("", "52.1", "", "lon", "is empty while lat is given; give both lat and lon, or neither (a place name alone is "
                            "looked up)"),
])
def test_a_place_that_cannot_be_placed_is_refused_on_write(tmp_path, place, lat, lon, field, message):
    folder = placed_watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    with pytest.raises(RowRejected) as rejected:
        append_observation(folder, {"date": "2022-10-02", "indicator": "troops", "value": "6", "place": place,
                                    "lat": lat, "lon": lon}, today=FIXED_TODAY)
    assert [(p.field, p.message) for p in rejected.value.problems] == [(field, message)]
    assert (folder / "observations.csv").read_bytes() == before


def test_a_new_events_file_for_a_placed_event_gets_the_place_columns(tmp_path):
    folder = placed_watchlist(tmp_path)
    append_event(folder, {"date": "2022-10-10", "title": "Strike", "place": "Mozyr"})
    assert (folder / "events.csv").read_text() == ("date,title,category,description,source,url,end_date,place,lat,lon\n"
                                                   "2022-10-10,Strike,,,,,,Mozyr,,\n")
    assert load_watchlist(folder, today=FIXED_TODAY).events["lat"].round(2).tolist() == [52.04]


def test_cli_add_and_add_event_take_place_lat_and_lon(tmp_path):
    folder = placed_watchlist(tmp_path)
    (folder / "events.csv").write_text("date,title,place,lat,lon\n")
    result = runner.invoke(app, ["add", str(folder), "--indicator", "troops", "--date", "2022-10-16", "--value", "12",
                                 "--place", "Zyabrovka airfield", "--lat", "52.2", "--lon", "28.6"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "added: 2022-10-16,troops,12,,,,,,,,Zyabrovka airfield,52.2,28.6\n"
    result = runner.invoke(app, ["add-event", str(folder), "--date", "2022-10-16", "--title", "Exercise",
                                 "--place", "Brest"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith('Error: place: "Brest" is ambiguous in the gazetteer')
    assert (folder / "events.csv").read_text() == "date,title,place,lat,lon\n"
    result = runner.invoke(app, ["add-event", str(folder), "--date", "2022-10-16", "--title", "Exercise",
                                 "--place", "Gomel"])
    assert result.exit_code == 0 and result.stdout == "added: 2022-10-16,Exercise,Gomel,,\n"


def test_a_broken_places_csv_line_is_never_replaced_by_a_guess_from_the_gazetteer(tmp_path):
    folder = placed_watchlist(tmp_path, "2022-10-01,troops,1200,MoD,,,,,,,Orsha,,\n",
                              "Orsha,54.5,300.4,BY,Vitebsk,a typo in the longitude\n")
    assert located(folder) == [("Orsha", None, None, "")]  # the gazetteer knows an Orsha: not used
    assert [p.format() for p in load_watchlist(folder, today=FIXED_TODAY).problems] == [
        'observations.csv:2: place: "Orsha" is listed on line 2 of places.csv, which has problems; fix that line; '
        "the row counts but is not on the map",
        "places.csv:2: lon: 300.4 is outside -180 to 180; give the longitude in decimal degrees (WGS84)"]
