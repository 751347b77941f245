"""Data entry in the app: add observations, events and judgments, change the status of a row, fix a typo.

Every write goes through ``indicators.writing``: checked by the file rules, locked, and refused when
the file changed on disk since the app read it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from indicators.engine.report import format_value
from indicators.format.folder import EVENT_COLUMNS, EVENTS_FILE, JUDGMENT_COLUMNS, JUDGMENTS_FILE, OBSERVATIONS_FILE
from indicators.format.judgments import CONFIDENCE_LEVELS, TERMS, term_for
from indicators.format.models import CREDIBILITY_GRADES, OBSERVATION_STATUSES, RELIABILITY_GRADES
from indicators.store.loader import LoadedWatchlist
from indicators.store.writing import (RowRejected, WriteRefused, append_event, append_judgment, append_observation,
                                      edit_observation, identical_observations, preview_line)
from indicators.views.render import plain

from . import auth

# After a successful add each field goes back to its empty value. The value must be set, not the key
# removed: a removed key lets the browser send back what was typed, and the next Add would repeat the row.
OBSERVATION_FORM_KEYS = {"new_value": "", "new_source": "", "new_url": "", "new_reliability": "",
                         "new_credibility": "", "new_status": "reported", "new_reported": None, "new_note": "",
                         "confirm_duplicate": False, "new_place": "", "new_lat": "", "new_lon": ""}
EVENT_FORM_KEYS = {"event_end": None, "event_title": "", "event_category": "", "event_source": "", "event_url": "",
                   "event_description": "", "event_place": "", "event_lat": "", "event_lon": ""}
PLACE_HELP = ("A name from places.csv or the gazetteer (GeoNames cities of 15,000 people or more), or coordinates "
              "in decimal degrees (WGS84). The file needs place, lat and lon columns to record them.")


def place_inputs(prefix: str) -> dict[str, str]:
    """Where it happened: a place name, or latitude and longitude (all optional)."""
    columns = st.columns([2, 1, 1])
    return {"place": columns[0].text_input("Place", key=f"{prefix}_place", help=PLACE_HELP).strip(),
            "lat": columns[1].text_input("Latitude", key=f"{prefix}_lat", placeholder="e.g. 52.04").strip(),
            "lon": columns[2].text_input("Longitude", key=f"{prefix}_lon", placeholder="e.g. 29.22").strip()}


def _report_write(write, success: str, clear: dict | tuple[str, ...] = ()) -> None:
    """Run a write and say what happened; on refusal nothing was written and the view reloads.
    After a successful write the form's fields in ``clear`` are set to their empty values (a tuple of
    keys: removed, for fields drawn afresh with their value from the file)."""
    try:
        line = write()
    except RowRejected as error:
        for problem in error.problems:
            st.error(plain(f"{problem.field}: {problem.message}. Nothing was written."))
        return
    except (WriteRefused, TimeoutError) as error:
        st.error(plain(f"{error or 'Another program is writing this file; try again.'}"))
        st.button("Reload the files as they are now", key="reload_after_refusal")
        return
    st.session_state["last_write"] = (success, line.rstrip("\r\n"))
    st.session_state["_clear_form"] = clear
    st.rerun()


def clear_submitted_form() -> None:
    """Empty the fields of the form just written (before its widgets are drawn again)."""
    fields = st.session_state.pop("_clear_form", ())
    for key in fields:
        if isinstance(fields, dict):
            st.session_state[key] = fields[key]
        else:
            st.session_state.pop(key, None)


def show_last_write() -> None:
    """The last write's message, and the exact line written, shown as text (never as Markdown)."""
    written = st.session_state.pop("last_write", None)
    if written:
        message, line = written
        st.success(plain(message), icon="✅")
        st.code(line, language=None)


def _date_text(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else ""


def render_add_observation(folder: Path, loaded: LoadedWatchlist, today: dt.date) -> None:
    st.subheader("Add observation", anchor=False)
    indicators = {indicator.id: indicator for indicator in loaded.watchlist.indicators if indicator.feed is None}
    if not indicators:
        st.info("Every indicator of this watchlist takes its rows from a feed; feed rows are read-only here.")
        return
    indicator_id = st.selectbox("Indicator", list(indicators), format_func=lambda i: indicators[i].name,
                                key="new_indicator")
    indicator = indicators[indicator_id]
    left, right = st.columns(2)
    date = left.date_input("Date", value=min(today, loaded.default_as_of(today)), key="new_date",
                           format="YYYY-MM-DD")
    if indicator.levels:
        scale = sorted(indicator.levels)
        level = right.selectbox("Level", scale, key="new_level",
                                format_func=lambda k: f"{format_value(k)} - {indicator.levels[k]}")
        value = format_value(level)
    else:
        hint = " (may stay empty: each row counts once)" if indicator.aggregate == "count" else ""
        value = right.text_input(f"Value{hint}", key="new_value", help=plain(f"a number, in {indicator.unit or 'units'}"))
    source = left.text_input("Source", key="new_source")
    url = right.text_input("URL", key="new_url", placeholder="https://")
    reliability = left.selectbox("Reliability (Admiralty A-F)", ("",) + RELIABILITY_GRADES, key="new_reliability")
    credibility = right.selectbox("Credibility (Admiralty 1-6)", ("",) + CREDIBILITY_GRADES, key="new_credibility")
    status = left.selectbox("Status", OBSERVATION_STATUSES, key="new_status")
    reported = right.date_input("Reported (when it became known; empty = the date)", value=None,
                                key="new_reported", format="YYYY-MM-DD")
    note = st.text_area("Note", key="new_note")
    values = {"date": _date_text(date), "indicator": indicator_id, "value": value.strip(), "source": source,
              "url": url, "reliability": reliability, "credibility": credibility,
              "status": "" if status == "reported" else status, "reported": _date_text(reported), "note": note,
              **place_inputs("new")}
    path = folder / OBSERVATIONS_FILE
    try:
        line = preview_line(path, values)
    except WriteRefused as error:
        st.error(plain(str(error)))
        return
    st.caption(f"This line will be added to {OBSERVATIONS_FILE}:")
    st.code(line.rstrip("\r\n"), language=None)
    twins = identical_observations(loaded.observations, values)
    confirmed = True
    if twins:
        st.warning(f"{OBSERVATIONS_FILE} already has this exact row (line {', '.join(map(str, twins))}). "
                   "Add it again only if it is a second, separate report.")
        confirmed = st.checkbox("Yes, add it again", key="confirm_duplicate")
    if st.button("Add observation", key="add_observation", type="primary", disabled=not confirmed):
        _report_write(lambda: append_observation(folder, values, loaded.snapshots.get(OBSERVATIONS_FILE), today,
                                                  auth.require_editor().email),
                      f"Added to {OBSERVATIONS_FILE}:", OBSERVATION_FORM_KEYS)


def render_add_event(folder: Path, loaded: LoadedWatchlist) -> None:
    st.subheader("Add event", anchor=False)
    left, right = st.columns(2)
    date = left.date_input("Date", value=loaded.default_as_of(), key="event_date", format="YYYY-MM-DD")
    end_date = right.date_input("Until (for events that last)", value=None, key="event_end", format="YYYY-MM-DD")
    title = st.text_input("Title", key="event_title")
    category = left.text_input("Category", key="event_category")
    source = right.text_input("Source", key="event_source")
    url = left.text_input("URL", key="event_url", placeholder="https://")
    description = st.text_area("Description", key="event_description")
    values = {"date": _date_text(date), "title": title, "category": category, "description": description,
              "source": source, "url": url, "end_date": _date_text(end_date), **place_inputs("event")}
    path = folder / EVENTS_FILE
    try:
        line = preview_line(path, values, EVENT_COLUMNS)
    except WriteRefused as error:
        st.error(plain(str(error)))
        return
    st.caption(f"This line will be added to {EVENTS_FILE}:")
    st.code(line.rstrip("\r\n"), language=None)
    if st.button("Add event", key="add_event"):
        _report_write(lambda: append_event(folder, values, loaded.snapshots.get(EVENTS_FILE),
                                            auth.require_editor().email),
                      f"Added to {EVENTS_FILE}:", EVENT_FORM_KEYS)


JUDGMENT_FORM_KEYS = {"judgment_likelihood": None, "judgment_confidence": "", "judgment_rationale": "",
                      "judgment_source": "", "judgment_url": "", "judgment_analyst": "", "judgment_reported": None}


def render_add_judgment(folder: Path, loaded: LoadedWatchlist, today: dt.date) -> None:
    """An estimative judgment: how likely a scenario is, in the seven ICD 203 terms (never a bare
    number), with its confidence, rationale and source."""
    st.subheader("Add judgment", anchor=False)
    scenarios = {scenario.id: scenario for scenario in loaded.watchlist.scenarios}
    left, right = st.columns(2)
    scenario_id = left.selectbox("Scenario", list(scenarios), format_func=lambda i: scenarios[i].name,
                                 key="judgment_scenario")
    date = right.date_input("Date (when it was made)", value=min(today, loaded.default_as_of(today)),
                            key="judgment_date", format="YYYY-MM-DD")
    likelihood = left.selectbox("Likelihood (ICD 203)", [term.word for term in TERMS], index=None,
                                key="judgment_likelihood", placeholder="pick a term",
                                format_func=lambda word: term_for(word).label)
    confidence = right.selectbox("Confidence", ("",) + CONFIDENCE_LEVELS, key="judgment_confidence",
                                 help="Kept apart from the likelihood (ICD 203): how sound the evidence and "
                                      "reasoning are.")
    rationale = st.text_area("Rationale (the words of the judgment, the evidence)", key="judgment_rationale")
    source = left.text_input("Source", key="judgment_source")
    url = right.text_input("URL", key="judgment_url", placeholder="https://")
    analyst = left.text_input("Analyst (a person or a body)", key="judgment_analyst")
    reported = right.date_input("Published (when it became known; empty = the date)", value=None,
                                key="judgment_reported", format="YYYY-MM-DD")
    values = {"date": _date_text(date), "scenario": scenario_id, "likelihood": likelihood or "",
              "confidence": confidence, "rationale": rationale, "source": source, "url": url, "analyst": analyst,
              "reported": _date_text(reported)}
    try:
        line = preview_line(folder / JUDGMENTS_FILE, values, JUDGMENT_COLUMNS)
    except WriteRefused as error:
        st.error(plain(str(error)))
        return
    st.caption(f"This line will be added to {JUDGMENTS_FILE}:")
    st.code(line.rstrip("\r\n"), language=None)
    if st.button("Add judgment", key="add_judgment", disabled=likelihood is None):
        _report_write(lambda: append_judgment(folder, values, loaded.snapshots.get(JUDGMENTS_FILE), today,
                                               auth.require_editor().email),
                      f"Added to {JUDGMENTS_FILE}:", JUDGMENT_FORM_KEYS)


def render_row_actions(folder: Path, loaded: LoadedWatchlist, rows, today: dt.date) -> None:
    """Confirm, dispute (with a reason, added to the note) or retract a row (the row is kept), or fix a
    typo in it. ``rows`` are the rows the page shows; the picker lists them as they are now on disk."""
    rows = rows.sort_values(["date", "line"], ascending=[False, True])
    if "feed" in rows.columns:
        rows = rows[rows["feed"] == ""]  # feed rows are read-only: they change with the feed's files
    if rows.empty:
        return
    st.markdown("**Change a row**")
    labels = {int(row.line): f"line {row.line}: {row.date:%Y-%m-%d} {format_value(row.value) if row.value == row.value else ''}"
              f" ({row.status}{'; ' + row.source if row.source else ''})" for row in rows.itertuples()}
    if st.session_state.get("edit_line") not in labels:
        st.session_state.pop("edit_line", None)
    line = st.selectbox("Row", list(labels), format_func=labels.get, key="edit_line")
    row = rows[rows["line"] == line].iloc[0]
    # A click reruns the script, which reads the files afresh: the edit must be checked against the
    # file as the page showed it when the user clicked, or a colleague's save in between (a row
    # inserted above) would move another row onto the clicked line number.
    current = loaded.snapshots.get(OBSERVATIONS_FILE)
    shown_folder, shown = st.session_state.get("rows_as_shown", (None, None))
    snapshot = shown if shown_folder == str(folder) and shown is not None else current
    st.session_state["rows_as_shown"] = (str(folder), current)
    reason = st.text_input("Reason for a dispute (added to the note)", key="dispute_reason")
    columns = st.columns(3)
    for column, (word, label) in zip(columns, (("confirmed", "Confirm"), ("disputed", "Dispute"),
                                               ("retracted", "Retract"))):
        if column.button(label, key=f"set_{word}", disabled=row["status"] == word):
            changes = {"status": word}
            if word == "disputed" and reason.strip():
                note = str(row["note"] or "").strip()
                changes["note"] = f"{note} Disputed: {reason.strip()}".strip()
            _report_write(lambda changes=changes: edit_observation(folder, line, changes, snapshot, today,
                                                                     auth.require_editor().email),
                          f"Line {line} is now {word}:", ("dispute_reason",))
    with st.expander("Fix a typo in this row"):
        fixed = {
            "date": st.text_input("Date", value=f"{row['date']:%Y-%m-%d}", key=f"fix_date_{line}"),
            "value": st.text_input("Value", value="" if row["value"] != row["value"] else format_value(
                row["value"]).replace(",", ""), key=f"fix_value_{line}"),
            "source": st.text_input("Source", value=str(row["source"]), key=f"fix_source_{line}"),
            "url": st.text_input("URL", value=str(row["url"]), key=f"fix_url_{line}"),
            "note": st.text_area("Note", value=str(row["note"]), key=f"fix_note_{line}"),
        }
        if st.button("Save the fix", key="save_fix"):
            _report_write(lambda: edit_observation(folder, line, fixed, snapshot, today, auth.require_editor().email),
                          f"Line {line} fixed:",
                          tuple(f"fix_{name}_{line}" for name in fixed))
