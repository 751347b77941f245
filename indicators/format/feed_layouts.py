"""The fixed column layouts of the event feeds Watchfloor reads (ACLED and GDELT 2.0 events)."""

from __future__ import annotations

ACLED_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude", "geo_precision",
    "source", "source_scale", "notes", "fatalities", "tags", "timestamp",
)
ACLED_DELETION_COLUMNS = ("event_id_cnty", "deleted_timestamp")

GDELT_COLUMNS = (
    "GLOBALEVENTID", "SQLDATE", "MonthYear", "Year", "FractionDate",
    "Actor1Code", "Actor1Name", "Actor1CountryCode", "Actor1KnownGroupCode", "Actor1EthnicCode",
    "Actor1Religion1Code", "Actor1Religion2Code", "Actor1Type1Code", "Actor1Type2Code", "Actor1Type3Code",
    "Actor2Code", "Actor2Name", "Actor2CountryCode", "Actor2KnownGroupCode", "Actor2EthnicCode",
    "Actor2Religion1Code", "Actor2Religion2Code", "Actor2Type1Code", "Actor2Type2Code", "Actor2Type3Code",
    "IsRootEvent", "EventCode", "EventBaseCode", "EventRootCode", "QuadClass", "GoldsteinScale", "NumMentions",
    "NumSources", "NumArticles", "AvgTone",
    "Actor1Geo_Type", "Actor1Geo_FullName", "Actor1Geo_CountryCode", "Actor1Geo_ADM1Code", "Actor1Geo_ADM2Code",
    "Actor1Geo_Lat", "Actor1Geo_Long", "Actor1Geo_FeatureID",
    "Actor2Geo_Type", "Actor2Geo_FullName", "Actor2Geo_CountryCode", "Actor2Geo_ADM1Code", "Actor2Geo_ADM2Code",
    "Actor2Geo_Lat", "Actor2Geo_Long", "Actor2Geo_FeatureID",
    "ActionGeo_Type", "ActionGeo_FullName", "ActionGeo_CountryCode", "ActionGeo_ADM1Code", "ActionGeo_ADM2Code",
    "ActionGeo_Lat", "ActionGeo_Long", "ActionGeo_FeatureID",
    "DATEADDED", "SOURCEURL",
)

# What each part of an observation is in each layout (csv feeds name theirs in ``columns``).
ROLES = {
    "acled": {"id": "event_id_cnty", "date": "event_date", "reported": "timestamp", "source": "source",
              "note": "notes", "url": None},
    "gdelt": {"id": "GLOBALEVENTID", "date": "SQLDATE", "reported": "DATEADDED", "source": None, "note": None,
              "url": "SOURCEURL"},
}
FIXED_COLUMNS = {"acled": ACLED_COLUMNS, "gdelt": GDELT_COLUMNS}


def roles_of(feed) -> dict[str, str | None]:
    """{role: column} for a feed: id, date, reported, source, note, url (None when it has none)."""
    if feed.format in ROLES:
        return dict(ROLES[feed.format])
    return {role: getattr(feed.columns, role) for role in ("id", "date", "reported", "source", "note", "url")}

# Where each event happened (optional: a file without these columns is read, its rows without places).
GEO_COLUMNS = {
    "acled": {"lat": "latitude", "lon": "longitude", "place": "location", "admin1": "admin1"},
    "gdelt": {"lat": "ActionGeo_Lat", "lon": "ActionGeo_Long", "place": "ActionGeo_FullName"},
}
