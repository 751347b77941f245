"""What one round of ``watch`` records: the alerts it raises, the transitions of earlier alerts, and
the items of its one message. A pure function of the replayed history, the rules, the levels now and
the time; ``watching`` appends the result as one record before it sends anything.

- A notable change raises an alert: FIRING, or SILENCED when a silence holds its subject. A change
  down below the rule's level raises none: it resolves the subject's open alerts (when none is open,
  the rise came before watching began: the change is recorded as an alert resolved at once).
- An open alert is RESOLVED when its subject's level is known and below the rule's level (one raised
  by a level going stale or out of data: when the level is known again); a stale level resolves
  nothing, since missing is never green. The resolution is sent when the alert was, and no silence
  holds it.
- An open alert is SILENCED when a silence on its subject starts; when the silence ends (expired,
  or its day is over) with the alert still open, it is FIRING again (ACKNOWLEDGED when it was
  acknowledged) and the message says so.
- An alert FIRING (not acknowledged, not silenced) whose last message is ``remind_every_hours`` old
  is sent again as "reminder N".

A round as of a day touches only alerts raised as of that day or earlier: replaying the past never
resolves or reminds what was raised later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..format.models import Alerts
from .alerts import (INDICATOR_PREFIX, OVERALL, is_known, level_in, level_word, new_alert_id, rank, rule_level,
                     subject_of)
from .alertstates import ACKNOWLEDGED, FIRING, RESOLVED, SILENCED, Alert, History, parse_time


@dataclass
class Round:
    """What a round records: alerts raised, transitions of earlier ones, and the items of its message."""

    raised: list[dict] = field(default_factory=list)
    transitions: list[dict] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.raised or self.transitions or self.items)


def plan_round(history: History, rules: Alerts, as_of: dt.date, state: dict, changes: list[dict],
               now: dt.datetime) -> Round:
    """The round as of ``as_of`` (see the module's description): ``state`` holds the levels now,
    ``changes`` the notable changes since the recorded state, ``now`` the time (aware)."""
    result = Round()
    reasons = {subject_of(change): change.get("reasons") for change in changes}
    open_before = history.open_alerts(up_to=as_of)
    resolving = set()
    for alert in open_before:
        silence = history.silence_for(alert.subject, now)
        resolved = resolution(alert, state, rules)
        if resolved is not None:
            reason, level = resolved
            resolving.add(alert.subject)
            result.transitions.append({"alert": alert.id, "to": RESOLVED, "level": level, "reason": reason})
            if alert.announced and silence is None:
                result.items.append(resolved_item(alert, level, reason, reasons.get(alert.subject)))
        elif silence is not None and (alert.state != SILENCED or alert.silence != silence.id):
            result.transitions.append({"alert": alert.id, "to": SILENCED, "silence": silence.id})
        elif silence is None and alert.state == SILENCED:
            back = ACKNOWLEDGED if alert.acknowledged else FIRING
            ended = history.silences.get(alert.silence or "")
            result.transitions.append({"alert": alert.id, "to": back, "event": "silence ended",
                                       "reason": f"silence {alert.silence} ended"})
            result.items.append({"kind": "silence ended", "alert": alert.id, "state": back, **_named(alert),
                                 "now": level_in(state, alert.subject), "silence": alert.silence,
                                 "until": ended.until.isoformat() if ended else None,
                                 "comment": ended.comment if ended else None})
        elif alert.state == FIRING and reminder_due(alert, rules, now):
            result.items.append({"kind": "reminder", "alert": alert.id, "state": FIRING, **_named(alert),
                                 "number": alert.reminders + 1,
                                 "now": level_in(state, alert.subject), "raised_at": alert.raised_at})
    for change in changes:
        subject = subject_of(change)
        silence = history.silence_for(subject, now)
        rule = rule_level(rules, subject)
        if is_known(change["to"]) and rule is not None and rank(change["to"]) < rank(rule):
            if subject in resolving:
                continue  # the resolution of its open alerts says it
            reason = (f"now {level_word(change['to'])}, below {level_word(rule)}; no alert was open (the rise came "
                      "before this record began)")
            alert_id = new_alert_id(as_of)
            result.raised.append({"id": alert_id, **change, "subject": subject, "state": RESOLVED, "reason": reason})
            if silence is None:
                result.items.append({"kind": "resolved", "alert": alert_id, "state": RESOLVED, **change,
                                     "subject": subject, "now": change["to"], "reason": reason})
            continue
        alert_id = new_alert_id(as_of)
        if silence is not None:
            result.raised.append({"id": alert_id, **change, "subject": subject, "state": SILENCED,
                                  "silence": silence.id})
        else:
            result.raised.append({"id": alert_id, **change, "subject": subject, "state": FIRING})
            result.items.append({"kind": "firing", "alert": alert_id, "state": FIRING, **change, "subject": subject})
    return result


def resolution(alert: Alert, state: dict, rules: Alerts) -> tuple[str, str | None] | None:
    """(why, the level now) when the alert is over, else None."""
    level = level_in(state, alert.subject)
    kind = "indicators" if alert.subject.startswith(INDICATOR_PREFIX) else "scenarios"
    if level is None:
        return f"{alert.name} is no longer in the watchlist", None
    rule = rule_level(rules, alert.subject)
    if rule is None:
        return f"{kind} are no longer alerted on (alerts.{kind}_at is not set)", level
    if not is_known(alert.change.get("to")):  # raised by a level going stale or out of data
        return (f"{alert.name} is known again: {level_word(level)}", level) if is_known(level) else None
    if is_known(level) and rank(level) < rank(rule):
        return f"now {level_word(level)}, below {level_word(rule)}", level
    return None


def reminder_due(alert: Alert, rules: Alerts, now: dt.datetime) -> bool:
    """A FIRING alert already told is told again once ``remind_every_hours`` have passed since its last message."""
    if rules.remind_every_hours is None or not alert.announced or alert.last_message_at is None:
        return False
    return now - parse_time(alert.last_message_at) >= dt.timedelta(hours=rules.remind_every_hours)


def resolved_item(alert: Alert, level: str | None, reason: str, reasons: list[str] | None) -> dict:
    item = {"kind": "resolved", "alert": alert.id, "state": RESOLVED, **_named(alert), "now": level, "reason": reason,
            "raised_as_of": alert.as_of.isoformat()}
    if reasons and alert.subject == OVERALL:
        item["reasons"] = reasons
    return item


def _named(alert: Alert) -> dict:
    """What a message needs to name an alert: its subject, name and the change that raised it."""
    return {"subject": alert.subject, "name": alert.name, "from": alert.change.get("from"),
            "to": alert.change.get("to")}


__all__ = ["Round", "plan_round", "reminder_due", "resolution"]
