"""The Alerts page (at /alerts): every alert with its state, one opened with its history, and, for
editors, acknowledging an alert and silencing a subject. Every action is checked on the server
(``auth.require_editor``) whatever the page showed, and appended to the record by
``indicators.alertactions``, the same functions the command line uses."""

from __future__ import annotations

import datetime as dt
import getpass
from html import escape
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from indicators.service.alertactions import acknowledge, add_silence, expire_silence
from indicators.service.alerts import INDICATOR_PREFIX, OVERALL, SCENARIO_PREFIX
from indicators.service.alertstates import ACKNOWLEDGED, FIRING, RESOLVED, SILENCED, Alert, History, read_history
from indicators.store.loader import LoadedWatchlist
from indicators.views.figures import build_index_figure
from indicators.views.render import plain

from . import auth, data, forms

# colour-blind-safe (Okabe-Ito), each always with its word
STATE_STYLE = {FIRING: ("#D55E00", "#FFFFFF", "solid"), ACKNOWLEDGED: ("#0072B2", "#FFFFFF", "solid"),
               SILENCED: ("#DDDDDD", "#1A1A1A", "dashed"), RESOLVED: ("#009E73", "#FFFFFF", "solid")}
ALERTS_CSS = """
<style>
.wf-alerts {border-collapse:collapse; font-size:14px; width:100%;}
.wf-alerts th {text-align:left; background:#F4F4F4; padding:5px 8px; border-bottom:1px solid #D0D0D0;}
.wf-alerts td {padding:5px 8px; border-bottom:1px solid #EEEEEE; vertical-align:top;}
.wf-alerts td.wf-nowrap {white-space:nowrap;}
.wf-alerts tr.wf-opened td {background:#FFF8E1;}
.wf-state {display:inline-block; padding:1px 8px; border-radius:3px; font-weight:700; font-size:12px;
  letter-spacing:.04em; white-space:nowrap;}
</style>
"""
NOT_EDITOR = ("Acknowledging alerts and silencing them needs the editor role (access.editors in watchlist.yaml); "
              "you see every state.")


def state_badge(state: str) -> str:
    background, ink, border = STATE_STYLE[state]
    return (f'<span class="wf-state" style="background:{background};color:{ink};border:1px {border} #555">'
            f"{state.upper()}</span>")


def subject_names(loaded: LoadedWatchlist) -> dict[str, str]:
    """Subject -> name: "Overall level", each indicator's and scenario's name."""
    return {OVERALL: "Overall level",
            **{INDICATOR_PREFIX + item.id: item.name for item in loaded.watchlist.indicators},
            **{SCENARIO_PREFIX + item.id: item.name for item in loaded.watchlist.scenarios}}


def alert_detail(alert: Alert, history: History) -> str:
    """Who acknowledged it, what resolved or silences it, in one cell."""
    parts = []
    if alert.acknowledged:
        done = alert.acknowledged
        parts.append(f"acknowledged by {done['by'] or 'someone'} {done['at']}: {done['comment']}")
    if alert.state == SILENCED and alert.silence:
        silence = history.silences.get(alert.silence)
        parts.append(f"silenced by {alert.silence}" + (f" through {silence.until.isoformat()}: {silence.comment}"
                                                       if silence else ""))
    if alert.resolved:
        parts.append(f"resolved {alert.resolved['at']}: {alert.resolved.get('reason') or ''}")
    if alert.reminders:
        parts.append(f"{alert.reminders} reminder{'' if alert.reminders == 1 else 's'}")
    return "; ".join(parts)


def alerts_table_html(history: History, opened: str | None) -> str:
    """Every alert, newest first, with its state as a coloured word; the opened one highlighted."""
    rows = []
    for alert in reversed(list(history.alerts.values())):
        cells = [f'<td class="wf-nowrap">{alert.as_of.isoformat()}</td>',
                 f'<td class="wf-nowrap">{escape(alert.id)}</td>', f"<td>{state_badge(alert.state)}</td>",
                 f"<td>{escape(alert.summary())}</td>", f"<td>{escape(alert_detail(alert, history))}</td>",
                 f"<td>{escape(history.delivery(alert))}</td>"]
        marked = ' class="wf-opened"' if alert.id == opened else ""
        rows.append(f"<tr{marked}>{''.join(cells)}</tr>")
    head = "".join(f"<th>{name}</th>" for name in ("as of", "alert id", "state", "alert", "acknowledged, resolved, "
                                                   "silenced", "messages"))
    return f'{ALERTS_CSS}<table class="wf-alerts"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def history_html(alert: Alert) -> str:
    """An alert's transitions and messages, oldest first."""
    rows = []
    for step in alert.history:
        event = step["event"] if step["event"] != "message" else f"message {step['message']} ({step['kind']}" + (
            f" {step['number']}" if step.get("number") else "") + ")"
        said = "; ".join(str(step[key]) for key in ("by", "comment", "reason", "silence") if step.get(key))
        rows.append(f'<tr><td class="wf-nowrap">{escape(step["at"])}</td><td>{escape(event)}</td>'
                    f"<td>{escape(said)}</td></tr>")
    head = "<tr><th>when (UTC)</th><th>what</th><th>by, comment, reason</th></tr>"
    return f'{ALERTS_CSS}<table class="wf-alerts"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def acting_person(visitor) -> str:
    return visitor.email or getpass.getuser()


def acknowledge_from_page(folder: Path, alert_id: str, comment: str) -> None:
    """The Acknowledge button: the role is checked here, on the server, before anything is appended."""
    forms._report_write(lambda: acknowledge(folder, alert_id, acting_person(auth.require_editor()), comment),
                        f"Acknowledged {alert_id}:", {"ack_comment": ""})


def silence_from_page(folder: Path, subject: str, until: dt.date, comment: str) -> None:
    forms._report_write(lambda: add_silence(folder, subject, until, acting_person(auth.require_editor()),
                                            comment)[1], "Silence recorded:", {"silence_comment": ""})


def expire_from_page(folder: Path, silence_id: str) -> None:
    forms._report_write(lambda: expire_silence(folder, silence_id, acting_person(auth.require_editor())),
                        f"Silence {silence_id} expired:")


def opened_alert(history: History) -> str | None:
    """The alert a link opened (``?alert=ID``, read once per session) or the one picked since."""
    asked = st.query_params.get("alert")
    if asked and st.session_state.get("_alert_asked") != asked:
        st.session_state["_alert_asked"] = asked
        if asked in history.alerts:
            st.session_state["alert_opened"] = asked
        else:
            st.warning(plain(f'No alert "{asked}" in this watchlist\'s record; the link may be for another watchlist.'),
                       icon="⚠️")
    return st.session_state.get("alert_opened")


def render_opened(folder: Path, history: History, alert: Alert, visitor) -> None:
    with st.container(border=True):
        st.html(f"{ALERTS_CSS}<div>{state_badge(alert.state)} <b>{escape(alert.id)}</b>: {escape(alert.summary())} "
                f"<span class='wf-muted'>as of {alert.as_of.isoformat()}, raised {escape(alert.raised_at)}</span></div>")
        change = alert.change
        source = change.get("source") and change["source"] + (f" ({change['grade']})" if change.get("grade") else "")
        details = ", ".join(part for part in (change.get("value"), change.get("date"), source) if part)
        said = ([f"value {details}"] if details else []) + [f"because {reason}" for reason in change.get("reasons") or []]
        if said:
            st.caption(plain("; ".join(said)))
        st.html(history_html(alert))
        if alert.state == RESOLVED or alert.acknowledged:
            return
        if not visitor.can_edit:
            st.caption(NOT_EDITOR)
            return
        comment = st.text_input("Comment (what you saw, or what you are doing about it)", key="ack_comment")
        if st.button("Acknowledge", key="acknowledge", type="primary"):
            acknowledge_from_page(folder, alert.id, comment)


def render_silences(folder: Path, loaded: LoadedWatchlist, history: History, visitor) -> None:
    names = subject_names(loaded)
    now = dt.datetime.now(dt.timezone.utc)
    st.markdown("**Silences**: alerts on a silenced subject are recorded (SILENCED) but not sent; when a silence "
                "ends while an alert still holds, one message says so. The same as: watchfloor silence DIR.")
    found = [silence.as_dict(names, now) for silence in history.silences.values()]
    if found:
        st.dataframe(pd.DataFrame([{"silence": item["id"], "state": item["state"].upper(), "subject": item["name"],
                                    "through": item["until"], "by": item["by"], "comment": item["comment"]}
                                   for item in sorted(found, key=lambda item: item["state"] != "active")]),
                     hide_index=True, width="stretch")
    if not visitor.can_edit:
        return
    columns = st.columns([2, 1, 3, 1])
    subject = columns[0].selectbox("Silence", list(names), format_func=names.get, key="silence_subject")
    today = dt.date.today()
    until = columns[1].date_input("Through", value=today + dt.timedelta(days=1), min_value=today,
                                  key="silence_until", format="YYYY-MM-DD")
    comment = columns[2].text_input("Why", key="silence_comment", placeholder="a known noisy feed, a planned exercise")
    if columns[3].button("Add silence", key="add_silence"):
        silence_from_page(folder, subject, until, comment)
    active = [item["id"] for item in found if item["state"] == "active"]
    if active:
        columns = st.columns([3, 1])
        chosen = columns[0].selectbox("Active silence", active, key="silence_to_expire",
                                      format_func=lambda sid: f"{sid}: {history.silences[sid].comment}")
        if columns[1].button("Expire now", key="expire_silence"):
            expire_from_page(folder, chosen)


def render_alerts(folder: Path, loaded: LoadedWatchlist, as_of: dt.date, visitor) -> dict:
    """The page; returns the query parameters it keeps in the URL (the opened alert)."""
    history = read_history(folder)
    for problem in history.problems:
        st.warning(plain(problem), icon="⚠️")
    st.caption("Recorded by watchfloor watch in .watchfloor/alerts.jsonl, every change of state appended, never "
               "rewritten. The same as: watchfloor alerts DIR.")
    if not history.alerts:
        st.info("No alerts recorded yet. Start watching this folder with: watchfloor watch DIR "
                "(see docs/alerts.md).")
        render_silences(folder, loaded, history, visitor)
        return {}
    counts = {state: sum(alert.state == state for alert in history.alerts.values())
              for state in (FIRING, ACKNOWLEDGED, SILENCED, RESOLVED)}
    columns = st.columns(5)
    for column, (state, label) in zip(columns, ((FIRING, "Firing, not acknowledged"), (ACKNOWLEDGED, "Acknowledged"),
                                                (SILENCED, "Silenced"), (RESOLVED, "Resolved"))):
        column.metric(label, counts[state])
    columns[4].metric("Messages not yet delivered", len(history.pending_messages()))
    if not visitor.can_edit:
        st.caption(NOT_EDITOR)
    opened = opened_alert(history)
    ids = list(reversed(list(history.alerts)))
    picked = st.selectbox("Open an alert", [None] + ids, key="alert_opened",
                          format_func=lambda i: "(none)" if i is None else
                          f"{i} · {history.alerts[i].state.upper()} · {history.alerts[i].summary()}")
    if picked is not None:
        render_opened(folder, history, history.alerts[picked], visitor)
    st.html(alerts_table_html(history, opened))
    render_silences(folder, loaded, history, visitor)
    render_alert_marks(folder, loaded, history, as_of)
    return {"alert": picked}


def render_alert_marks(folder: Path, loaded: LoadedWatchlist, history: History, as_of: dt.date) -> None:
    """The alerts as marks on the index timeline (alerts recorded after the as-of date too: the record is
    not data)."""
    dates = sorted({alert.as_of for alert in history.alerts.values()})
    start = min(dates[0], as_of) - dt.timedelta(days=30)
    end = max(dates[-1], as_of)
    _, index, _ = data.history(folder, end)
    shown = index.loc[pd.Timestamp(start):pd.Timestamp(end)]
    figure = build_index_figure(shown, loaded.events.iloc[0:0], as_of, start, end, False,
                                loaded.watchlist.overall.cutoffs)
    at = [pd.Timestamp(day) for day in dates]
    values = [float(shown["index"].get(day, float("nan"))) for day in at]
    hover = [escape(", ".join(f"{alert.id} ({alert.state.upper()}): {alert.summary()}"
                              for alert in history.alerts.values() if alert.as_of == day)) for day in dates]
    figure.add_trace(go.Scatter(x=at, y=values, mode="markers+text", name="alert", text=["ALERT"] * len(at),
                                textposition="top center", marker=dict(symbol="triangle-down", size=13,
                                                                       color="#1A1A1A"),
                                hovertext=hover, hoverinfo="text", cliponaxis=False))
    st.plotly_chart(figure, width="stretch", key="alerts_chart",
                    config={"displaylogo": False, "toImageButtonOptions": {
                        "format": "png", "scale": 2, "filename": f"{loaded.folder.name}-alerts-{as_of.isoformat()}"}})
