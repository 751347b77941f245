"""Feed files in the exact ACLED and GDELT 2.0 layouts, for the tests (and the synthetic example).

Run ``python tests/feed_fixtures.py FOLDER`` to write the fixture watchlist into FOLDER, or
``python tests/feed_fixtures.py --place-by-notes FILE`` to place the events of an ACLED file at the
towns their notes name (how the synthetic example got its coordinates).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from indicators.format.feed_layouts import ACLED_COLUMNS, GDELT_COLUMNS  # noqa: E402


def unix(day: str, hour: int = 12) -> int:
    """Unix time of a UTC date and hour."""
    moment = dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.timezone.utc)
    return int(moment.timestamp())


# Towns of the synthetic rows: ACLED-style admin1, and the GeoNames coordinates (4 decimals) of the town
ACLED_TOWNS = {
    "Minsk": ("Minsk City", 53.9002, 27.5665), "Mogilev": ("Mogilev", 53.9088, 30.3404),
    "Orsha": ("Vitebsk", 54.5136, 30.4036), "Gomel": ("Gomel", 52.4345, 30.9754),
    "Vitebsk": ("Vitebsk", 55.1904, 30.2049), "Baranovichi": ("Brest", 53.1326, 26.0078),
    "Svetlogorsk": ("Gomel", 52.6329, 29.7389), "Zhlobin": ("Gomel", 52.8926, 30.0240),
    "Osipovichi": ("Mogilev", 53.3008, 28.6386), "Brest": ("Brest", 52.0976, 23.7341),
}


def town_in(notes: str, default: str = "Minsk") -> str:
    """The first town of ``ACLED_TOWNS`` that the notes name ("... near Orsha."), else ``default``."""
    named = [(notes.find(town), town) for town in ACLED_TOWNS if town in notes]
    return min(named)[1] if named else default


def acled_row(event_id: str, event_date: str, uploaded: str, *, notes: str = "", event_type: str =
              "Strategic developments", country: str = "Belarus", fatalities: str = "0", source: str = "Nasha Niva",
              hour: int = 12, timestamp: str | None = None, town: str | None = None) -> dict:
    """One ACLED row with all 31 columns; ``uploaded`` is the UTC date of its ``timestamp``; placed at
    ``town`` (default: the town its notes name, else Minsk), with its admin1 and coordinates."""
    town = town or town_in(notes)
    admin1, latitude, longitude = ACLED_TOWNS[town]
    row = {column: "" for column in ACLED_COLUMNS}
    row.update({
        "event_id_cnty": event_id, "event_date": event_date, "year": event_date[-4:] if " " in event_date else "",
        "time_precision": "1", "disorder_type": "Strategic developments", "event_type": event_type,
        "sub_event_type": "Disrupted weapons use" if "sabotage" in notes.lower() else "Other",
        "actor1": "Rebels (Belarus)", "inter1": "Rebel group", "iso": "112", "region": "Europe",
        "country": country, "admin1": admin1, "location": town, "latitude": f"{latitude:.4f}",
        "longitude": f"{longitude:.4f}",
        "geo_precision": "1", "source": source, "source_scale": "National", "notes": notes,
        "fatalities": fatalities, "tags": "", "timestamp": timestamp if timestamp is not None else str(unix(uploaded, hour)),
    })
    return row


def write_acled(path: Path, rows: list[dict], *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(ACLED_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({column: [row[column] for row in rows] for column in ACLED_COLUMNS}), path)
    return path


def write_deletions(path: Path, deletions: list[tuple[str, int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("event_id_cnty,deleted_timestamp\n" + "".join(f"{e},{t}\n" for e, t in deletions))
    return path


def gdelt_row(event_id: str, sqldate: str, added: str, *, root: str = "19", code: str = "190", quad: str = "4",
              geo: str = "BO", actor1: str = "BLR", url: str = "https://example.org/news") -> list[str]:
    """One GDELT 2.0 event row (61 fields); ``sqldate`` YYYYMMDD, ``added`` YYYYMMDDHHMMSS."""
    row = {column: "" for column in GDELT_COLUMNS}
    row.update({
        "GLOBALEVENTID": event_id, "SQLDATE": sqldate, "MonthYear": sqldate[:6], "Year": sqldate[:4],
        "FractionDate": f"{int(sqldate[:4]) + (int(sqldate[4:6]) - 1) / 12:.4f}", "Actor1Code": actor1,
        "Actor1Name": "BELARUS", "Actor1CountryCode": actor1, "IsRootEvent": "1", "EventCode": code,
        "EventBaseCode": code, "EventRootCode": root, "QuadClass": quad, "GoldsteinScale": "-10.0",
        "NumMentions": "4", "NumSources": "1", "NumArticles": "4", "AvgTone": "-5.2",
        "ActionGeo_Type": "4", "ActionGeo_FullName": "Minsk, Belarus", "ActionGeo_CountryCode": geo,
        "ActionGeo_Lat": "53.9", "ActionGeo_Long": "27.5667", "ActionGeo_FeatureID": "-2138",
        "DATEADDED": added, "SOURCEURL": url,
    })
    return [row[column] for column in GDELT_COLUMNS]


def write_gdelt(path: Path, rows: list[list[str]], *, zipped: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join("\t".join(row) + "\n" for row in rows).encode()
    if zipped:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(path.name.removesuffix(".zip"), data)
    else:
        path.write_bytes(data)
    return path


FIXTURE_YAML = """\
title: Feed fixture
feeds:
  acled:
    format: acled
    path: feeds/acled-*
    deletions: feeds/acled-deletions.csv
  gdelt:
    format: gdelt
    path: feeds/gdelt/*.export.CSV*
    reliability: C
    credibility: 3
  tally:
    format: csv
    path: feeds/tally.csv
    columns: {date: day, reported: published, source: outlet, id: ref, note: text}
indicators:
  - id: rail_sabotage
    name: Rail sabotage (ACLED)
    category: Sabotage
    aggregate: count
    window_days: 30
    thresholds: {elevated: 1, high: 3}
    feed:
      name: acled
      where:
        country: Belarus
        event_type: [Explosions/Remote violence, Strategic developments]
        notes: {contains: [railway, rail line]}
  - id: fatalities
    name: Fatalities in Belarus (ACLED)
    category: Violence
    aggregate: sum
    window_days: 30
    thresholds: {elevated: 1, high: 5}
    feed: {name: acled, where: {country: Belarus}, value: fatalities}
  - id: gdelt_force
    name: Force posture and assaults in Belarus (GDELT)
    category: Military
    aggregate: count
    window_days: 7
    thresholds: {elevated: 1, high: 3}
    feed:
      name: gdelt
      where: {ActionGeo_CountryCode: BO, EventRootCode: ["15", "18", "19"], QuadClass: 4}
  - id: tallies
    name: Incidents tallied by a partner
    category: Sabotage
    aggregate: max
    window_days: 30
    thresholds: {elevated: 2, high: 5}
    feed: {name: tally, value: count}
"""


def write_fixture_watchlist(folder: Path) -> Path:
    """A watchlist whose four indicators are fed by ACLED (csv, gz and Parquet files, all three date
    forms, an event updated twice, a deletion, a bad row), GDELT (a plain and a zipped file sharing
    a duplicate event) and a generic csv table."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "watchlist.yaml").write_text(FIXTURE_YAML)
    (folder / "observations.csv").write_text("date,indicator,value,source,url,reliability,credibility,status,"
                                             "reported,note\n")
    feeds = folder / "feeds"
    write_acled(feeds / "acled-2022.csv", [
        # A1: reported 2022-03-02, revised 03-05 (fatalities 0 -> 2), revised again 03-09 (no longer rail)
        acled_row("BLR1", "2022-03-01", "2022-03-02", notes="Partisans burned a relay cabinet on the railway near Osipovichi."),
        acled_row("BLR1", "1 March 2022", "2022-03-05", fatalities="2",
                  notes="Partisans burned a relay cabinet on the railway near Osipovichi; two guards died."),
        acled_row("BLR1", "1-Mar-22", "2022-03-09", fatalities="2",
                  notes="Arson at a signal box near Osipovichi; two guards died."),
        acled_row("BLR2", "2022-03-03", "2022-03-04", event_type="Explosions/Remote violence",
                  notes="Explosion damaged the rail line near Zhlobin."),
        acled_row("BLR3", "2022-03-04", "2022-03-06", notes="Relay box on the railway near Minsk set on fire."),
        acled_row("UKR1", "2022-03-04", "2022-03-05", country="Ukraine", notes="Railway bridge struck."),
        acled_row("BLR9", "31 Feb 2022", "2022-03-05", notes="Rail line near Orsha damaged."),
    ])
    write_acled(feeds / "acled-2022-update.csv.gz", [
        acled_row("BLR4", "2022-03-10", "2022-03-11", notes="Railway signalling near Svetlogorsk sabotaged."),
    ], gz=True)
    write_parquet(feeds / "acled-2022-extra.parquet", [
        acled_row("BLR5", "2022-03-12", "2022-03-12", notes="Saboteurs detained at the railway station in Brest.",
                  event_type="Strategic developments"),
    ])
    write_deletions(feeds / "acled-deletions.csv", [("BLR3", unix("2022-03-08"))])
    write_gdelt(feeds / "gdelt" / "20220301120000.export.CSV", [
        gdelt_row("1001", "20220301", "20220301121500", root="19", code="190"),
        gdelt_row("1002", "20220301", "20220301121500", root="15", code="150", url="https://example.org/exercise"),
        gdelt_row("1003", "20220301", "20220301121500", root="04", code="040", quad="1"),
    ])
    write_gdelt(feeds / "gdelt" / "20220302000000.export.CSV.zip", [
        gdelt_row("1002", "20220301", "20220302000000", root="15", code="150", url="https://example.org/exercise"),
        gdelt_row("1004", "20220302", "20220302000000", root="18", code="180", geo="UP"),
    ], zipped=True)
    (feeds / "tally.csv").write_text("ref,day,published,outlet,count,text\n"
                                     "T1,2022-03-01,2022-03-02,Partner monitor,2,Weekly tally\n"
                                     "T1,2022-03-01,2022-03-08,Partner monitor,4,Weekly tally (revised)\n"
                                     "T2,2022-03-08,2022-03-09,Partner monitor,three,Weekly tally\n")
    return folder


def place_by_notes(path: Path) -> Path:
    """Rewrite an ACLED file so that each event sits at the town its notes name (as ``acled_row``
    places it; a revision keeps its event's first town). Everything else stays as it was."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    towns: dict[str, str] = {}
    for row in rows:
        town = towns.setdefault(row["event_id_cnty"], town_in(row["notes"]))
        admin1, latitude, longitude = ACLED_TOWNS[town]
        row.update(admin1=admin1, location=town, latitude=f"{latitude:.4f}", longitude=f"{longitude:.4f}")
    return write_acled(path, rows)


if __name__ == "__main__":
    if sys.argv[1] == "--place-by-notes":  # the synthetic example: data/examples/acled-rail-sabotage/feeds/*.csv
        print(place_by_notes(Path(sys.argv[2])))
    else:
        print(write_fixture_watchlist(Path(sys.argv[1])))
