"""Feed benchmark: synthetic ACLED (2.5 million rows) and GDELT (10 million rows) exports in the real
column layouts, a watchlist with 10 feed indicators on each, and the figures the feeds issue asks for.

    .venv/bin/python bench/run.py --feeds [--acled-rows 2500000] [--gdelt-rows 10000000]

Prints: `watchfloor status` as a whole process (best of --runs) against a bare DuckDB process that
counts the same matching rows per day from the same files, the status process's peak memory, and
the dashboard's re-run after an as-of change (AppTest).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indicators.format.feed_layouts import ACLED_COLUMNS, GDELT_COLUMNS  # noqa: E402

COUNTRIES = ["Belarus", "Ukraine", "Russia", "Poland", "Lithuania", "Latvia", "Moldova", "Georgia", "Armenia",
             "Azerbaijan", "Syria", "Iraq", "Yemen", "Sudan", "Mali", "Niger", "Nigeria", "Somalia", "Ethiopia",
             "Myanmar", "Afghanistan", "Pakistan", "India", "Colombia", "Mexico", "Brazil", "Libya", "Lebanon",
             "Israel", "Palestine", "Iran", "Turkey", "Kenya", "Cameroon", "Chad", "Burkina Faso", "Haiti",
             "Philippines", "Indonesia", "Venezuela"]
EVENT_TYPES = ["Battles", "Explosions/Remote violence", "Violence against civilians", "Protests", "Riots",
               "Strategic developments"]
PHRASES = ["relay cabinet on the railway set on fire", "protesters gathered in the centre", "artillery shelling",
           "drone strike on a depot", "arrest of activists", "rail line damaged by an explosion",
           "clashes between armed groups", "looting of shops", "military exercise announced", "troops redeployed"]
FIPS = ["BO", "UP", "RS", "PL", "LH", "LG", "MD", "GG", "AM", "AJ", "SY", "IZ", "YM", "SU", "ML", "NG", "NI",
        "SO", "ET", "BM", "AF", "PK", "IN", "CO", "MX", "BR", "LY", "LE", "IS", "WE", "IR", "TU", "KE", "CM",
        "CD", "UV", "HA", "RP", "ID", "VE"]


def _connection():
    """DuckDB with ``hash`` giving a signed integer (list indexes need one)."""
    import duckdb

    connection = duckdb.connect()
    connection.sql("CREATE MACRO h(a, b) AS CAST(hash(a, b) % 1000000007 AS BIGINT)")
    return connection


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def generate_acled(path: Path, rows: int) -> None:
    """ACLED's 31 columns; 5% of the rows are later versions of earlier events (same event_id_cnty)."""
    distinct = int(rows * 0.95)
    columns = {
        "event_id_cnty": f"'EV' || (i % {distinct})",
        "event_date": "strftime(DATE '2018-01-01' + CAST(h(i, 1) % 2900 AS INTEGER), '%Y-%m-%d')",
        "year": "''", "time_precision": "'1'", "disorder_type": "'Political violence'",
        "event_type": f"{_sql_list(EVENT_TYPES)}[1 + h(i, 2) % 6]", "sub_event_type": "'Other'",
        "actor1": "'Military Forces'", "assoc_actor_1": "''", "inter1": "'State forces'", "actor2": "''",
        "assoc_actor_2": "''", "inter2": "''", "interaction": "'State forces only'", "civilian_targeting": "''",
        "iso": "'112'", "region": "'Europe'", "country": f"{_sql_list(COUNTRIES)}[1 + h(i % {distinct}, 3) % 40]",
        "admin1": "'Region ' || h(i, 4) % 30", "admin2": "''", "admin3": "''",
        "location": "'Town ' || h(i, 5) % 5000", "latitude": "'53.9000'", "longitude": "'27.5667'",
        "geo_precision": "'1'", "source": "'Source ' || h(i, 6) % 300", "source_scale": "'National'",
        "notes": f"'On that day, ' || {_sql_list(PHRASES)}[1 + h(i, 7) % 10] || ' near Town ' || "
                 "h(i, 5) % 5000 || ', according to local reports; no further details were given.'",
        "fatalities": "CAST(CASE WHEN h(i, 8) % 10 < 7 THEN 0 ELSE h(i, 9) % 12 END AS VARCHAR)",
        "tags": "''",
        # a version's upload: some days after the event; later versions (i >= distinct) a month later
        "timestamp": "CAST(epoch(DATE '2018-01-01' + CAST(h(i % " + str(distinct) + ", 1) % 2900 AS INTEGER)) "
                     "+ 86400 * (1 + h(i, 10) % 6) + CASE WHEN i >= " + str(distinct) + " THEN 2592000 ELSE 0 END "
                     "AS BIGINT)",
    }
    assert list(columns) == list(ACLED_COLUMNS)
    select = ", ".join(f"{expression} AS {name}" for name, expression in columns.items())
    # the event date of a later version is its event's date (hash of i % distinct)
    select = select.replace("strftime(DATE '2018-01-01' + CAST(h(i, 1)",
                            f"strftime(DATE '2018-01-01' + CAST(h(i % {distinct}, 1)")
    _connection().sql(f"COPY (SELECT {select} FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')")


def generate_gdelt(path: Path, rows: int) -> None:
    """GDELT 2.0's 61 tab-separated columns, no header; 2% of the rows repeat an earlier GLOBALEVENTID."""
    distinct = int(rows * 0.98)
    values = {name: "''" for name in GDELT_COLUMNS}
    values.update({
        "GLOBALEVENTID": f"CAST(1000000000 + i % {distinct} AS VARCHAR)",
        "SQLDATE": f"strftime(DATE '2018-01-01' + CAST(h(i % {distinct}, 1) % 2900 AS INTEGER), '%Y%m%d')",
        "MonthYear": "'201801'", "Year": "'2018'", "FractionDate": "'2018.0'",
        "Actor1Code": "'BLR'", "Actor1Name": "'BELARUS'",
        "Actor1CountryCode": "['BLR', 'UKR', 'RUS', 'POL', 'USA'][1 + h(i, 2) % 5]",
        "IsRootEvent": "'1'", "EventCode": "lpad(CAST(1 + h(i % " + str(distinct) + ", 3) % 20 AS VARCHAR), 2, '0') || '0'",
        "EventBaseCode": "lpad(CAST(1 + h(i % " + str(distinct) + ", 3) % 20 AS VARCHAR), 2, '0') || '0'",
        "EventRootCode": "lpad(CAST(1 + h(i % " + str(distinct) + ", 3) % 20 AS VARCHAR), 2, '0')",
        "QuadClass": "CAST(1 + h(i % " + str(distinct) + ", 4) % 4 AS VARCHAR)",
        "GoldsteinScale": "CAST(round((h(i, 5) % 200) / 10.0 - 10, 1) AS VARCHAR)",
        "NumMentions": "CAST(1 + h(i, 6) % 20 AS VARCHAR)", "NumSources": "'1'",
        "NumArticles": "CAST(1 + h(i, 6) % 20 AS VARCHAR)", "AvgTone": "'-2.5'",
        "ActionGeo_Type": "'4'", "ActionGeo_FullName": "'Minsk, Belarus'",
        "ActionGeo_CountryCode": f"{_sql_list(FIPS)}[1 + h(i % {distinct}, 7) % 40]",
        "ActionGeo_Lat": "'53.9'", "ActionGeo_Long": "'27.5667'", "ActionGeo_FeatureID": "'-2138'",
        "DATEADDED": f"strftime(DATE '2018-01-01' + CAST(h(i % {distinct}, 1) % 2900 AS INTEGER) + "
                     "CAST(i >= " + str(distinct) + " AS INTEGER), '%Y%m%d') || '120000'",
        "SOURCEURL": "'https://news.example/' || i",
    })
    select = ", ".join(f"{expression} AS {name}" for name, expression in values.items())
    _connection().sql(f"COPY (SELECT {select} FROM range({rows}) t(i)) TO '{path}' "
               "(HEADER false, DELIMITER '\t', QUOTE '')")


ACLED_WHERES = [
    ("Belarus", ["Explosions/Remote violence", "Strategic developments"], ["railway", "rail line"]),
    ("Belarus", ["Protests", "Riots"], None),
    ("Ukraine", ["Battles"], None),
    ("Ukraine", ["Explosions/Remote violence"], ["drone"]),
    ("Russia", ["Strategic developments"], ["exercise", "redeployed"]),
    ("Poland", ["Protests"], None),
    ("Lithuania", ["Strategic developments"], None),
    ("Moldova", ["Protests", "Riots"], None),
    ("Belarus", ["Violence against civilians"], ["arrest"]),
    ("Georgia", ["Protests"], None),
]
GDELT_WHERES = [
    ("BO", ["15", "18", "19"], "4"), ("BO", ["14"], None), ("UP", ["19", "20"], "4"), ("UP", ["18"], None),
    ("RS", ["15"], None), ("PL", ["14"], None), ("LH", ["15", "17"], None), ("MD", ["14"], None),
    ("BO", ["17"], "4"), ("LG", ["15"], None),
]


def write_watchlist(folder: Path) -> None:
    lines = ["title: Feed benchmark (synthetic)", "as_of: 2025-12-31", "feeds:",
             "  acled: {format: acled, path: feeds/acled-*.csv}",
             "  gdelt: {format: gdelt, path: feeds/*.export.CSV}", "indicators:"]
    for number, (country, types, words) in enumerate(ACLED_WHERES):
        where = f"country: {country}, event_type: [{', '.join(types)}]"
        if words:
            where += f", notes: {{contains: [{', '.join(words)}]}}"
        lines.append(f"  - {{id: acled_{number}, name: ACLED {number}, category: ACLED, aggregate: count, "
                     f"window_days: 30, thresholds: {{elevated: 5, high: 20, critical: 60}}, "
                     f"feed: {{name: acled, where: {{{where}}}}}}}")
    for number, (geo, roots, quad) in enumerate(GDELT_WHERES):
        where = f"ActionGeo_CountryCode: {geo}, EventRootCode: [{', '.join(repr(r) for r in roots)}]"
        if quad:
            where += f", QuadClass: '{quad}'"
        lines.append(f"  - {{id: gdelt_{number}, name: GDELT {number}, category: GDELT, aggregate: count, "
                     f"window_days: 7, thresholds: {{elevated: 50, high: 150, critical: 400}}, "
                     f"feed: {{name: gdelt, where: {{{where}}}}}}}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "watchlist.yaml").write_text("\n".join(lines) + "\n")
    (folder / "observations.csv").write_text("date,indicator,value,source,url,reliability,credibility,status,"
                                             "reported,note\n")


def bare_query_code(folder: Path, versions: bool = False) -> str:
    """A bare DuckDB process: the same matching rows counted per day, one scan per feed; with
    ``versions``, first each ACLED event's newest version (by timestamp) and each GDELT event's first
    upload, then the counts: what `watchfloor status` computes."""
    acled = []
    for country, types, words in ACLED_WHERES:
        condition = f"country = '{country}' AND event_type IN ({', '.join(repr(t) for t in types)})"
        if words:
            condition += " AND (" + " OR ".join(f"lower(notes) LIKE '%{w}%'" for w in words) + ")"
        acled.append(f"count(*) FILTER (WHERE {condition})")
    gdelt = []
    for geo, roots, quad in GDELT_WHERES:
        condition = f"ActionGeo_CountryCode = '{geo}' AND EventRootCode IN ({', '.join(repr(r) for r in roots)})"
        if quad:
            condition += f" AND QuadClass = '{quad}'"
        gdelt.append(f"count(*) FILTER (WHERE {condition})")
    names = ", ".join(f"'{name}': 'VARCHAR'" for name in GDELT_COLUMNS)
    acled_rows = f"read_csv('{folder}/feeds/acled-*.csv', header=true, all_varchar=true)"
    gdelt_rows = (f"read_csv('{folder}/feeds/*.export.CSV', header=false, delim='\\t', quote='', escape='', "
                  f"columns={{{names}}})")
    if versions:
        acled_rows = (f"(SELECT * FROM {acled_rows} QUALIFY row_number() OVER (PARTITION BY event_id_cnty "
                      "ORDER BY CAST(timestamp AS BIGINT) DESC) = 1)")
        gdelt_rows = (f"(SELECT * FROM {gdelt_rows} QUALIFY row_number() OVER (PARTITION BY GLOBALEVENTID "
                      "ORDER BY DATEADDED) = 1)")
    return textwrap.dedent(f"""
        import duckdb
        a = duckdb.sql(\"\"\"SELECT event_date, {', '.join(acled)} FROM {acled_rows} GROUP BY 1\"\"\").fetchall()
        g = duckdb.sql(\"\"\"SELECT SQLDATE, {', '.join(gdelt)} FROM {gdelt_rows} GROUP BY 1\"\"\").fetchall()
        print(len(a), len(g))
    """)


def prepare(out: Path, acled_rows: int, gdelt_rows: int) -> Path:
    folder = out / f"feeds-{acled_rows}-{gdelt_rows}"
    feeds = folder / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    if not (feeds / "acled-all.csv").exists():
        generate_acled(feeds / "acled-all.csv.part", acled_rows)
        (feeds / "acled-all.csv.part").rename(feeds / "acled-all.csv")
    if not (feeds / "events.export.CSV").exists():
        generate_gdelt(feeds / "events.export.CSV.part", gdelt_rows)
        (feeds / "events.export.CSV.part").rename(feeds / "events.export.CSV")
    write_watchlist(folder)
    return folder
