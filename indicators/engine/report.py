"""Plain-data views of statuses and problems: the JSON the CLI prints and the text tables."""

from __future__ import annotations

import datetime as dt

from ..format.models import Level
from ..format.problems import Problem
from .evaluate import IndicatorStatus, OverallStatus
from .scenarios import UNKNOWN, UNSEEN, scenario_as_dict


def format_value(value: float | None) -> str:
    """A value as an analyst writes it: 9000 -> "9,000", 2.5 -> "2.5", None -> "-"."""
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def quantity(value: float, unit: str) -> str:
    """A number with its unit, singular for one: (1, "reports") -> "1 report", (3, "reports") -> "3 reports"."""
    text = format_value(value)
    if not unit:
        return text
    first, _, rest = unit.partition(" ")
    if value == 1 and first.endswith("s") and not first.endswith("ss") and len(first) > 1:
        unit = first[:-1] + (f" {rest}" if rest else "")
    return f"{text} {unit}"


WINDOW_PHRASES = {"sum": "in the last {} days", "count": "in the last {} days", "max": "at most, over the last {} days",
                  "mean": "on average, over the last {} days"}


def value_phrase(status: IndicatorStatus) -> str:
    """The value as the cards and the CLI write it: "9,000 troops", "1 report in the last 30 days",
    the ordinal label for a scale, "no value" without one."""
    indicator = status.indicator
    if status.value is None:
        return "no value"
    if status.label:
        return status.label
    text = quantity(status.value, indicator.unit)
    if indicator.aggregate != "latest":
        text += " " + WINDOW_PHRASES[indicator.aggregate].format(indicator.window_days)
    return text


SHORT_WINDOW_PHRASES = {"sum": "{} / {} d", "count": "{} / {} d", "max": "{} (max, {} d)", "mean": "{} (mean, {} d)"}


def short_value_phrase(status: IndicatorStatus) -> str:
    """The value for a one-line row: "3 reports / 30 d", "492 tonnes (max, 45 d)", the ordinal label."""
    indicator = status.indicator
    if status.value is None:
        return "no value"
    if status.label:
        return status.label
    text = quantity(status.value, indicator.unit)
    if indicator.aggregate == "latest":
        return text
    return SHORT_WINDOW_PHRASES[indicator.aggregate].format(text, indicator.window_days)


def definition_facts(watchlist, indicator) -> list[tuple[str, str]]:
    """Everything the watchlist says about how one indicator is judged, as (what, how) sentences:
    thresholds in its direction, aggregate and window, staleness, hold, change rule, weight, scale,
    feed, the floors that use it and the scenarios it is a sign of."""
    relation = ">=" if indicator.direction == "up" else "<="
    unit = f" {indicator.unit}" if indicator.unit else ""
    facts = [("id", indicator.id), ("category", indicator.category),
             ("direction", "up: higher is more escalatory" if indicator.direction == "up" else
              "down: lower is more escalatory"),
             ("thresholds", "; ".join(f"{name.upper()} at {relation} {format_value(value)}"
                                      + ("%" if indicator.change else unit) for name, value in
                                      indicator.thresholds.present()))]
    if indicator.aggregate == "latest":
        facts.append(("value", "the latest report (several on that date: the most escalatory)"))
    else:
        facts.append(("value", f"{indicator.aggregate} of the reports over the last {indicator.window_days} days"))
    facts.append(("stale after", f"{indicator.stale_after_days} days without a report" if indicator.stale_after_days
                  else "never (no staleness set)"))
    facts.append(("hold", f"the most escalatory level of the last {indicator.hold_days} days" if
                  (indicator.hold_days or 1) > 1 else "none"))
    if indicator.change:
        rule = indicator.change
        facts.append(("change", f"percent change over the {rule.baseline_days} days before the window; a baseline "
                                f"of at most {format_value(rule.min_baseline)} with a value of at most "
                                f"{format_value(rule.min_value)} is NORMAL"))
    facts.append(("weight", f"{indicator.weight:g} in the overall index"))
    if indicator.levels:
        facts.append(("scale", "; ".join(f"{format_value(key)} = {label}" for key, label in sorted(indicator.levels.items()))))
    if indicator.feed:
        facts.append(("feed", f"rows from feed {indicator.feed.name}"))
    for floor in watchlist.overall.floors:
        if floor.indicator == indicator.id:
            facts.append(("floor", f"at {floor.at.upper()} or above it lifts the overall level to at least "
                                   f"{floor.lifted_level.word}"))
    for scenario in watchlist.scenarios:
        for sign in scenario.signs:
            if sign.indicator == indicator.id:
                facts.append(("scenario sign", f"{scenario.name}: seen at {sign.at.upper()} or above "
                                               f"({sign.strength})"))
    return facts


def change_phrase(status: IndicatorStatus) -> str:
    """ "+150% over baseline 2" or "new: baseline 0" for an indicator with a change rule."""
    if status.change is None:
        return ""
    baseline = format_value(status.baseline)
    if status.change == float("inf"):
        return f"new activity over a baseline of {baseline}"
    return f"{status.change:+.0f}% over baseline {baseline}"


def value_for_row(indicator, value: float | None) -> str:
    """One observation's value as text: the ordinal label where the scale has one, else the number."""
    if value is None or value != value:
        return ""
    label = indicator.label_for(value) if indicator is not None else None
    return f"{label} ({format_value(value)})" if label else format_value(value)


def status_as_dict(status: IndicatorStatus) -> dict:
    indicator = status.indicator
    return {
        "id": indicator.id,
        "name": indicator.name,
        "category": indicator.category,
        "level": status.level.value,
        "value": status.value,
        "label": status.label,
        "unit": indicator.unit,
        "date": status.date.isoformat() if status.date else None,
        "age_days": status.age_days,
        "stale": status.stale,
        "aggregate": indicator.aggregate,
        "window_days": indicator.window_days,
        "weight": indicator.weight,
        "disagreement": status.disagreement,
        "rows_counted": status.rows_counted,
        "source": status.source or None,
        "url": status.url or None,
        "grade": status.grade or None,
        "raw_level": (status.raw_level or status.level).value,
        "held": status.held,
        "change": None if status.change is None or status.change == float("inf") else round(status.change, 1),
        "baseline": status.baseline,
    }


def overall_as_dict(overall: OverallStatus) -> dict:
    return {"level": overall.level.value, "index": overall.index, "index_level": overall.index_level.value,
            "reasons": list(overall.reasons), "current": overall.current, "total": overall.total,
            "drivers": list(overall.drivers)}


def status_report(title: str, as_of: dt.date, overall: OverallStatus, statuses: list[IndicatorStatus]) -> dict:
    """The document printed by ``watchfloor status --json``."""
    names = {status.indicator.id: status.indicator.name for status in statuses}
    return {"watchlist": title, "as_of": as_of.isoformat(), "overall": overall_as_dict(overall),
            "scenarios": [scenario_as_dict(scenario, names) for scenario in overall.scenarios],
            "indicators": [status_as_dict(status) for status in statuses]}


def status_table(title: str, as_of: dt.date, overall: OverallStatus, statuses: list[IndicatorStatus]) -> str:
    """A fixed-width text table of the statuses, level as a word."""
    headers = ("INDICATOR", "LEVEL", "VALUE", "DATE", "AGE", "NOTE")
    rows = []
    for status in statuses:
        value = "-" if status.value is None else value_phrase(status)
        if status.label:
            value = f"{format_value(status.value)} ({status.label})"
        notes = []
        if status.stale:  # a stale indicator always has a newest row (no row at all is no data)
            notes.append(f"stale: no report for {status.age_days} days")
        if status.disagreement:
            notes.append("sources disagree")
        if status.held:
            notes.append(f"held: {status.raw_level.word} today")
        if status.change is not None:
            notes.append(change_phrase(status))
        if status.grade:
            notes.append(f"grade {status.grade}")
        rows.append((status.indicator.name, status.level.word, value,
                     status.date.isoformat() if status.date else "-",
                     "-" if status.age_days is None else f"{status.age_days}d", "; ".join(notes)))
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    lines = [f"{title} - status as of {as_of.isoformat()}"]
    if overall.index is None:
        lines.append(f"Overall: {overall.level.word} (0 of {overall.total} indicators current)")
    else:
        lines.append(f"Overall: {overall.level.word} (index {overall.index:.1f}; "
                     f"{overall.current} of {overall.total} indicators current)")
    lines.extend(f"  because {reason}" for reason in overall.reasons)
    names = {status.indicator.id: status.indicator.name for status in statuses}
    for scenario in overall.scenarios:
        details = [f"{words}: " + ", ".join(names.get(i, i) for i in scenario.ids(state))
                   for state, words in ((UNSEEN, "not seen"), (UNKNOWN, "unknown")) if scenario.ids(state)]
        lines.append(f"Scenario {scenario.scenario.name}: {scenario.level.word} ({scenario.summary()}"
                     + "".join(f"; {detail}" for detail in details) + ")")
    if overall.drivers:
        lines.append("Driven by: " + ", ".join(names.get(i, i) for i in overall.drivers))
    for heading, ids in not_current(statuses).items():
        if ids:
            lines.append(f"{heading}: " + ", ".join(names.get(i, i) for i in ids))
    lines.append("")
    for row in [headers] + rows:
        lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return "\n".join(lines)


def not_current(statuses: list[IndicatorStatus]) -> dict[str, list[str]]:
    """Ids of the indicators left out of the overall index, by reason: {"No data": [...], "Stale": [...]}."""
    return {"No data": [s.indicator.id for s in statuses if s.level is Level.NO_DATA],
            "Stale": [s.indicator.id for s in statuses if s.stale and s.level is not Level.NO_DATA]}


def problems_summary(problems: list[Problem]) -> str:
    files = sorted({problem.file for problem in problems})
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{len(problems)} {noun} in {', '.join(files)}" if problems else "no problems"


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame):
    """A copy of ``frame`` safe to open in a spreadsheet: text cells that start like a formula
    (=, +, -, @, tab, carriage return) get a leading apostrophe, so they are shown, never run."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or str(safe[column].dtype) in ("str", "string", "category"):
            text = safe[column].astype(str)
            risky = text.str.startswith(FORMULA_PREFIXES) & safe[column].notna()
            safe[column] = text.where(~risky, "'" + text).where(safe[column].notna(), None)
    return safe


def csv_download(frame) -> bytes:
    """UTF-8 (with BOM, for Excel) CSV bytes of a frame, with formulas neutralised and ISO dates."""
    return neutralise_formulas(frame).to_csv(index=False, date_format="%Y-%m-%d").encode("utf-8-sig")


def days_phrase(days: int) -> str:
    return f"{days} day{'' if days == 1 else 's'}"


def backtest_table(watchlist, result) -> str:
    """``watchfloor backtest`` as text: one line per target, which indicators warned first, what the
    warning rests on (with ``--robustness``), and the false alarms in the quiet days, or that none
    could be tested. Indicators and scenarios are named by name."""
    names = {indicator.id: indicator.name for indicator in watchlist.indicators}
    judged = "the overall level" if result.scenario is None else \
        f'scenario "{watchlist.scenario(result.scenario).name}"'
    lines = [f"{watchlist.title} - backtest of {judged} at {result.level.value} or above, "
             f"{result.start.isoformat()} to {result.end.isoformat()} ({days_phrase(result.days)})", ""]
    rows = [("TARGET", "WARNED", "FIRST WARNING", "LEAD")]
    for target in result.targets:
        rows.append((target.date.isoformat(), "yes" if target.warned else "no",
                     target.first_warning.isoformat() if target.first_warning else "-",
                     days_phrase(target.lead_days) if target.lead_days is not None else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    for target in result.targets:
        early = sorted((date, indicator_id) for indicator_id, date in target.indicators.items() if date)
        named = ", ".join(f"{names.get(indicator_id, indicator_id)} from {date.isoformat()}"
                          for date, indicator_id in early)
        lines.append(f"{target.date.isoformat()}: indicators at {result.level.value} or above on the eve: "
                     f"{named or 'none'}")
        if target.robustness is not None:
            lines.append(f"{target.date.isoformat()}: {robustness_sentence(target, names)}")
    lines.append(false_alarm_sentence(result))
    return "\n".join(lines)


def robustness_sentence(target, names: dict[str, str]) -> str:
    """What a target's warning rests on, for people: the rows whose absence costs lead, as file:line."""
    weights = target.robustness
    rows = f"{weights.rows} row{'' if weights.rows == 1 else 's'} of the lead window"
    if not weights.rows:
        return "no row of observations.csv became known in the lead window: nothing to leave out"
    if not weights.weakest:
        return (f"the warning rests on no single row: leaving out any one of the {rows} keeps "
                f"{days_phrase(target.lead_days or 0)} of lead")
    parts = [f"observations.csv:{row.line} ({names.get(row.indicator, row.indicator)}, {row.date.isoformat()}): "
             + (f"{days_phrase(row.lead_days_without)} without it" if row.lead_days_without else
                "no warning without it") for row in weights.weakest]
    return ("the warning rests on: " + "; ".join(parts) + f" (each of the {rows} left out in turn; least lead "
            f"left: {days_phrase(weights.min_lead_days)})")


def false_alarm_sentence(result) -> str:
    """False alarms in the quiet days, or plainly that no day was left to test them."""
    windows = (f"{days_phrase(result.lead_window)} before to {days_phrase(result.after_window)} after each target")
    if not result.quiet_days:
        return (f"False alarms: not tested: no day from {result.start.isoformat()} to {result.end.isoformat()} "
                f"lies outside the targets' windows ({windows}); widen the period with --from and --to, or "
                "narrow --lead-window and --after-window")
    return (f"False alarms: {days_phrase(result.false_alarm_days)} at {result.level.value} or above in "
            f"{days_phrase(result.quiet_days)} outside the targets' windows ({windows}): "
            f"rate {100 * result.false_alarm_rate:.1f}%")


def scores_table(watchlist, scores) -> str:
    """``watchfloor score`` as text: a line per scenario (judgments, resolved, open, Brier, reference,
    skill), one over all, then how often each likelihood band came true."""
    def number(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [f"{watchlist.title} - judgments scored as of {scores.as_of.isoformat()}: each read as \"happens within "
             f"{days_phrase(scores.horizon_days)}\"", ""]
    rows = [("SCENARIO", "JUDGMENTS", "RESOLVED", "OPEN", "BRIER", "REFERENCE", "SKILL")]
    names = {scenario.id: scenario.name for scenario in watchlist.scenarios}
    for scenario_id, line in list(scores.scenarios.items()) + [("", scores.all)]:
        rows.append((names.get(scenario_id, "All scenarios"), str(line.judgments), str(line.resolved), str(line.open),
                     number(line.brier), number(line.reference_brier), number(line.skill, 2)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines += ["", "Brier: mean of (probability - outcome)^2, 0 is perfect; reference: always forecasting the base rate "
              "of the resolved outcomes; skill: 1 - Brier / reference (above 0: better than the base rate).",
              "How often each likelihood band came true (resolved judgments):"]
    for item in scores.reliability:
        if item.resolved:
            lines.append(f"  {item.term.label}: {item.came_true} of {item.resolved} came true "
                         f"({100 * item.frequency:.0f}%)")
        else:
            lines.append(f"  {item.term.label}: no resolved judgment")
    return "\n".join(lines)


def alerts_table(entries: list[dict], loose_messages: list[dict] = (), silences: list[dict] = ()) -> str:
    """The alert history as text: one line per alert with its state, then who acknowledged it, what
    resolved or silenced it, and one line per message about it and target with its delivery."""
    if not entries and not loose_messages:
        return "No alerts recorded (watchfloor watch records them in .watchfloor/alerts.jsonl)."
    lines = []
    for entry in entries:
        lines.append(f"{entry['as_of']}  {entry['id']}  {entry['state'].upper():<12}  {entry['summary']}")
        if entry["acknowledged"]:
            done = entry["acknowledged"]
            lines.append(f"    acknowledged {done['at']} by {done['by'] or 'someone'}: {done['comment']}")
        if entry["silence"] and entry["state"] == "silenced":
            lines.append(f"    silenced by {entry['silence']} (see: watchfloor silence DIR --list)")
        if entry["resolved"]:
            lines.append(f"    resolved {entry['resolved']['at']}: {entry['resolved']['reason']}")
        if not entry["messages"]:
            lines.append("    no message sent (silenced)")
        for message in entry["messages"]:
            lines.extend(_message_lines(message))
    for message in loose_messages:
        lines.append(f"{message['as_of']}  {message['id']}  message about no alert")
        lines.extend(_message_lines(message))
    active = [silence for silence in silences if silence["state"] == "active"]
    if active:
        lines.append(f"{len(active)} silence{'' if len(active) == 1 else 's'} active: "
                     + "; ".join(f"{silence['name']} through {silence['until']} ({silence['id']})" for silence in active))
    return "\n".join(lines)


def _message_lines(message: dict) -> list[str]:
    lines = []
    if not message["targets"]:
        return [f"    {message['id']} ({message['kind']}): no target"]
    for target in message["targets"]:
        if target["delivered"]:
            lines.append(f"    {message['id']} ({message['kind']}) {target['label']}: delivered {target['delivered']}")
        else:
            error = f"; last error: {target['last_error']}" if target["last_error"] else ""
            lines.append(f"    {message['id']} ({message['kind']}) {target['label']}: pending after "
                         f"{target['attempts']} attempt{'' if target['attempts'] == 1 else 's'}{error}")
    return lines
