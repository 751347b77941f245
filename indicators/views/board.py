"""The scenario board and the indicators x scenarios matrix: HTML fragments, every piece of data escaped."""

from __future__ import annotations

from html import escape

import datetime as dt

import pandas as pd

from ..engine.evaluate import IndicatorStatus
from ..engine.judging import judgment_tension, level_since, standing_judgments
from ..engine.scenarios import SEEN, UNKNOWN, UNSEEN, ScenarioStatus
from ..format.judgments import term_for
from ..format.models import Level

from .render import level_badge
from .theme import LEVEL_COLOURS, LEVEL_WORDS, MUTED, SCORE_LEVELS, STALE_COLOUR, level_fill

BOARD_CSS = """
<style>
.wf-board {display:flex; flex-direction:column; gap:6px; margin:6px 0 10px 0;}
.wf-scenario {border:1px solid #D0D0D0; border-left-width:8px; border-radius:4px; padding:6px 10px; background:#FFFFFF;}
.wf-scenario-head {display:flex; flex-wrap:wrap; align-items:center; gap:4px 10px;}
.wf-scenario-name {font-weight:700; font-size:16px; color:#1A1A1A;}
.wf-chips {display:flex; flex-wrap:wrap; gap:4px 6px; margin-top:4px;}
.wf-chip {display:inline-block; font-size:12.5px; padding:1px 7px; border-radius:10px; border:1px solid #777;
  color:#1A1A1A; background:#FFFFFF; white-space:nowrap;}
.wf-chip-unknown {border-style:dashed; color:#555555; background:#F4F4F4;}
.wf-lookfor {font-size:13px; color:#555555; margin-top:3px;}
.wf-judgment {font-size:13.5px; color:#1A1A1A; margin-top:4px; border-top:1px dotted #D0D0D0; padding-top:3px;}
.wf-judgment details {display:inline;}
.wf-judgment summary {display:inline; cursor:pointer; color:#555555;}
.wf-term {font-weight:700; letter-spacing:.03em;}
.wf-tension {background:#FFF3CD; border:1px solid #C9A227; border-radius:3px; padding:0 5px; font-size:12.5px;}
.wf-matrix {border-collapse:collapse; font-size:13px; margin:6px 0;}
.wf-matrix th, .wf-matrix td {border:1px solid #D0D0D0; padding:3px 8px; text-align:left; vertical-align:middle;}
.wf-matrix th {background:#F4F4F4; font-weight:600;}
.wf-matrix td.wf-nosign {color:#9E9E9E; text-align:center;}
</style>
"""

STATE_MARKS = {SEEN: "&#10003; seen", UNSEEN: "&#9675; not seen", UNKNOWN: "? unknown"}
STRENGTH_MARKS = {"strong": "strong", "moderate": "moderate", "weak": "weak"}


def _score_word(score: int) -> str:
    """An indicator's level score as a word: STALE, NO DATA, NORMAL ... CRITICAL."""
    return "STALE" if score == -2 else LEVEL_WORDS[SCORE_LEVELS[score]]


def sign_chip(item, name: str) -> str:
    """One sign as a chip: seen (filled with the indicator's level colour), not seen (outlined) or
    unknown (dashed grey), always with the words and the level it needs."""
    needs = LEVEL_WORDS[Level(item.sign.at)]
    strength = "" if item.sign.strength == "moderate" else f" &middot; {item.sign.strength}"
    text = f"{STATE_MARKS[item.state]}: {escape(name)} &middot; {_score_word(item.score)}"
    if item.state != SEEN:
        text += f" (needs {needs})"
    style = f' style="{level_fill(SCORE_LEVELS[item.score])};border-color:#1A1A1A"' if item.state == SEEN else ""
    return (f'<span class="wf-chip wf-chip-{item.state}" data-sign="{escape(item.sign.indicator)}" '
            f'data-state="{item.state}"{style}>{text}{strength}</span>')


def look_for(status: ScenarioStatus, names: dict[str, str]) -> str:
    """The collection gaps: what would have to be seen, or reported at all, for the signs not seen."""
    wanted = []
    for item in status.signs:
        name = escape(names.get(item.sign.indicator, item.sign.indicator))
        if item.state == UNSEEN:
            wanted.append(f"{name} at {LEVEL_WORDS[Level(item.sign.at)]} or above (now {_score_word(item.score)})")
        elif item.state == UNKNOWN:
            wanted.append(f"{name}: {'a fresh report (stale)' if item.score == -2 else 'any report (no data)'}")
    return "Look for: " + "; ".join(wanted) if wanted else "Every sign is seen."


def scenario_row(status: ScenarioStatus, names: dict[str, str], extra: str = "") -> str:
    """One scenario: its level word and colour, how many signs are seen, each sign as a chip, and what to look for."""
    level = status.level
    strong = f" ({status.strong_seen} strong)" if status.strong_seen else ""
    seen_text = f"{status.seen_count} of {len(status.signs)} signs seen{strong}"
    chips = "".join(sign_chip(item, names.get(item.sign.indicator, item.sign.indicator)) for item in status.signs)
    border = LEVEL_COLOURS[level] if level is not Level.NO_DATA else STALE_COLOUR
    return (f'<div class="wf-scenario" data-scenario="{escape(status.scenario.id)}" data-level="{level.value}" '
            f'style="border-left-color:{border}"><div class="wf-scenario-head">{level_badge(level)}'
            f'<span class="wf-scenario-name">{escape(status.scenario.name)}</span>'
            f'<span class="wf-muted">{seen_text}</span></div>'
            f'<div class="wf-chips">{chips}</div><div class="wf-lookfor">{look_for(status, names)}</div>{extra}</div>')


def scenario_board(scenarios: tuple[ScenarioStatus, ...] | list[ScenarioStatus], statuses: list[IndicatorStatus],
                   extras: dict[str, str] | None = None) -> str:
    """Every scenario of the watchlist, one row each, in watchlist order (empty without scenarios).
    ``extras`` adds trusted HTML per scenario id (its standing judgment)."""
    if not scenarios:
        return ""
    names = {status.indicator.id: status.indicator.name for status in statuses}
    rows = "".join(scenario_row(status, names, (extras or {}).get(status.scenario.id, "")) for status in scenarios)
    return f'{BOARD_CSS}<div class="wf-board" role="list" aria-label="scenarios">{rows}</div>'


def scenario_matrix(scenarios: tuple[ScenarioStatus, ...] | list[ScenarioStatus],
                    statuses: list[IndicatorStatus]) -> str:
    """Indicators (rows) x scenarios (columns): each indicator's level, and in each column whether it
    is a sign of that scenario, at which level, how strong, and whether it is seen; a sign's cell is
    coloured by the indicator's level when seen."""
    if not scenarios:
        return ""
    head = "".join(f"<th>{escape(s.scenario.name)}<br>{level_badge(s.level)}</th>" for s in scenarios)
    signs = {(item.sign.indicator, s.scenario.id): item for s in scenarios for item in s.signs}
    body = []
    for status in statuses:
        indicator = status.indicator
        cells = []
        for scenario in scenarios:
            item = signs.get((indicator.id, scenario.scenario.id))
            if item is None:
                cells.append('<td class="wf-nosign">&ndash;</td>')
                continue
            style = f' style="{level_fill(SCORE_LEVELS[item.score])}"' if item.state == SEEN else ""
            cells.append(f'<td data-sign="{escape(indicator.id)}" data-state="{item.state}"{style}>'
                         f"{STATE_MARKS[item.state]} &middot; {STRENGTH_MARKS[item.sign.strength]} sign at "
                         f"{LEVEL_WORDS[Level(item.sign.at)]}</td>")
        stale = status.stale and status.level is not Level.NO_DATA
        body.append(f"<tr><th>{escape(indicator.name)}</th><td>{level_badge(status.level, stale=stale)}</td>"
                    + "".join(cells) + "</tr>")
    return (f'{BOARD_CSS}<table class="wf-matrix"><thead><tr><th>Indicator</th><th>Level</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            f'<div class="wf-muted" style="color:{MUTED}">A sign is seen when its indicator is current and at the '
            "sign's level or above; unknown when the indicator has no data or is stale.</div>")


def judgment_html(scenario_id: str, judgment: pd.Series | None, tension: str | None, compact: bool = False) -> str:
    """The standing judgment under a scenario: the ICD 203 term with its range (never a bare number),
    the confidence, date, analyst and source, the rationale on demand, and a mark when it and the
    indicators point different ways. ``compact``: the term, range and date on one short line."""
    if compact:
        if judgment is None:
            return f'<span class="wf-muted" data-judgment="{escape(scenario_id)}">no judgment recorded</span>'
        term = term_for(judgment["likelihood"])
        mark = (f' <span class="wf-tension" title="{escape(tension, quote=True)}">&#9888; '
                + ("predates the latest evidence" if tension.startswith("judgment predates") else "differs")
                + "</span>") if tension else ""
        confidence = f", {escape(judgment['confidence'])} confidence" if judgment["confidence"] else ""
        return (f'<span data-judgment="{escape(scenario_id)}">Judgment: <span class="wf-term">'
                f"{escape(term.word.upper())}</span> ({term.band}){confidence}, {judgment['date']:%Y-%m-%d}{mark}"
                "</span>")
    marker = f'<div class="wf-judgment" data-judgment="{escape(scenario_id)}">'
    if judgment is None:
        return marker + ('<span class="wf-muted">No judgment recorded (watchfloor judge, or the Add data '
                         "page).</span></div>")
    term = term_for(judgment["likelihood"])
    confidence = f", {escape(judgment['confidence'])} confidence" if judgment["confidence"] else ""
    who = " &middot; ".join(escape(str(part)) for part in (judgment["analyst"], judgment["source"]) if part)
    known = judgment["reported"] if judgment["reported"] > judgment["date"] else None
    parts = [f'Judgment: <span class="wf-term">{escape(term.word.upper())}</span> ({term.band}){confidence} '
             f"&middot; {judgment['date']:%Y-%m-%d}"
             + (f" (known {known:%Y-%m-%d})" if known is not None else "") + (f" &middot; {who}" if who else "")]
    if judgment["rationale"]:
        parts.append(f" <details><summary>rationale</summary> {escape(str(judgment['rationale']))}</details>")
    if tension:
        parts.append(f' <span class="wf-tension">&#9888; {escape(tension)}</span>')
    return marker + "".join(parts) + "</div>"


def judgment_extras(scenarios, judgments: pd.DataFrame, as_of: dt.date, history: pd.DataFrame,
                    compact: bool = False) -> dict[str, str]:
    """{scenario id: its standing judgment as HTML} for ``scenario_board``; ``history`` holds the daily
    ``scenario:<id>`` level scores up to the as-of date (for when the level last changed)."""
    standing = standing_judgments(judgments, as_of)
    upto = history.loc[:pd.Timestamp(as_of)]
    extras = {}
    for status in scenarios:
        column = f"scenario:{status.scenario.id}"
        since = level_since(upto[column].to_numpy(), upto.index) if column in upto else None
        judgment = standing.get(status.scenario.id)
        happened = status.scenario.happened
        if happened is not None and happened <= as_of:  # the forecasts are settled: no tension to flag
            if compact:
                extras[status.scenario.id] = f"<b>Happened on {happened.isoformat()}</b>"
                continue
            extras[status.scenario.id] = (f'<div class="wf-judgment"><b>Happened on {happened.isoformat()}</b>'
                                          + (" &middot; last judgment before it:" if judgment is not None else "")
                                          + "</div>" + (judgment_html(status.scenario.id, judgment, None)
                                                        if judgment is not None else ""))
            continue
        extras[status.scenario.id] = judgment_html(status.scenario.id, judgment,
                                                   judgment_tension(status.level, judgment, since), compact)
    return extras
