"""What a watchlist folder holds: the names of its files and the columns each file must and may have.

Imports nothing: a command can name the files it is about to read before it loads the rest of the
library (see ``indicators.store.readahead``).
"""

WATCHLIST_FILE = "watchlist.yaml"
OBSERVATIONS_FILE = "observations.csv"
EVENTS_FILE = "events.csv"
JUDGMENTS_FILE = "judgments.csv"
PLACES_FILE = "places.csv"

OBSERVATION_REQUIRED = ("date", "indicator", "value")
OBSERVATION_COLUMNS = OBSERVATION_REQUIRED + ("source", "url", "reliability", "credibility", "status",
                                             "reported", "note")
# the text columns of a typed observation row, hand-entered or from a feed
ROW_TEXT_COLUMNS = ("status", "reliability", "credibility", "source", "url", "note")
EVENT_REQUIRED = ("date", "title")
EVENT_COLUMNS = EVENT_REQUIRED + ("category", "description", "source", "url", "end_date")
JUDGMENT_REQUIRED = ("date", "scenario", "likelihood")
JUDGMENT_COLUMNS = JUDGMENT_REQUIRED + ("confidence", "rationale", "source", "url", "analyst", "reported")
PLACE_COLUMNS = ("place", "lat", "lon")  # optional columns of observations.csv and events.csv
AUDIT_COLUMNS = ("entered_by", "entered_at")  # who wrote a row from the app or the CLI, and when (UTC)

# the rows files the loader reads: (columns the header must name, columns it reads, columns whose
# values repeat: read as categories, as the checks go over distinct values)
ROWS_FILES = {
    OBSERVATIONS_FILE: (OBSERVATION_REQUIRED, OBSERVATION_COLUMNS + PLACE_COLUMNS,
                        ("date", "indicator", "value", "reliability", "credibility", "status", "reported")),
    EVENTS_FILE: (EVENT_REQUIRED, EVENT_COLUMNS + PLACE_COLUMNS, ()),
    JUDGMENTS_FILE: (JUDGMENT_REQUIRED, JUDGMENT_COLUMNS, ()),
}
