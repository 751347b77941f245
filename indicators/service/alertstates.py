"""The state of every alert, silence and message, replayed from the record (``alerts.jsonl``).

An alert is raised by one notable change of a subject's level (the overall level, an indicator's, a
scenario's) and moves, each move an appended record, between:

- FIRING: raised and not acknowledged;
- ACKNOWLEDGED: someone said they saw it (who, when, a comment); it is no longer reminded;
- SILENCED: a silence matches its subject: recorded, not sent, not reminded;
- RESOLVED: the level that raised it fell back below the rule's level (final).

A message is what ``watch`` sends: one per round, carrying every alert raised, resolved, reminded or
out of a silence in that round; it is delivered once every target it was recorded for has it.
Nothing here writes; the same replay serves ``watch``, ``alerts``, ``silence`` and the Alerts page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .alerts import OVERALL, alerts_path, change_summary, read_records, subject_of

FIRING, ACKNOWLEDGED, SILENCED, RESOLVED = "firing", "acknowledged", "silenced", "resolved"
STATES = (FIRING, ACKNOWLEDGED, SILENCED, RESOLVED)


def parse_time(text: str) -> dt.datetime:
    """A recorded time (ISO 8601, UTC); one without a zone is read as UTC."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@dataclass
class Alert:
    """One alert and everything that happened to it, oldest first in ``history``."""

    id: str
    subject: str
    change: dict  # name, from, to and the details of the change that raised it
    as_of: dt.date
    raised_at: str
    state: str = FIRING
    acknowledged: dict | None = None  # {"by", "at", "comment"}
    resolved: dict | None = None  # {"at", "as_of", "level", "reason"}
    silence: str | None = None  # the silence that holds it, while SILENCED
    messages: list[tuple[str, str]] = field(default_factory=list)  # (message id, kind) of each message about it
    reminders: int = 0
    last_message_at: str | None = None
    history: list[dict] = field(default_factory=list)  # {"at", "state", ...}: every transition

    @property
    def name(self) -> str:
        return self.change.get("name", self.subject)

    @property
    def is_open(self) -> bool:
        return self.state != RESOLVED

    @property
    def announced(self) -> bool:
        """Some message carried it (an alert raised while silenced is not told until its silence ends)."""
        return bool(self.messages)

    def summary(self) -> str:
        return change_summary(self.change)

    def move(self, state: str, at: str, event: str | None = None, **details) -> None:
        """Record a transition to ``state`` in ``history`` (``event`` names it when it is not the state
        itself: an acknowledgement of a SILENCED alert leaves it SILENCED)."""
        self.state = state
        self.history.append({"at": at, "event": event or state,
                             **{key: value for key, value in details.items() if value is not None}})


@dataclass
class Silence:
    """A silence: alerts on ``subject`` are recorded but not sent, through ``until`` (local date)."""

    id: str
    subject: str
    until: dt.date
    at: str
    by: str
    comment: str
    expired: dict | None = None  # {"at", "by"} when ended early with --expire

    def active(self, now: dt.datetime) -> bool:
        """Holds at ``now``: made before it, not expired, and ``until`` not over (local time)."""
        return self.expired is None and parse_time(self.at) <= now and now.astimezone().date() <= self.until

    def state(self, now: dt.datetime) -> str:
        if self.expired is not None:
            return "expired"
        return "active" if self.active(now) else "ended"

    def as_dict(self, names: dict[str, str], now: dt.datetime) -> dict:
        return {"id": self.id, "subject": self.subject, "name": subject_name(self.subject, names),
                "until": self.until.isoformat(), "state": self.state(now), "at": self.at, "by": self.by,
                "comment": self.comment, "expired": self.expired}


@dataclass
class Message:
    """One message ``watch`` recorded, and what became of it for each target."""

    record: dict
    delivered: dict[str, str] = field(default_factory=dict)  # target -> when
    failures: dict[str, list[dict]] = field(default_factory=dict)  # target -> failed attempts

    @property
    def id(self) -> str:
        return self.record["id"]

    def pending_targets(self) -> list[str]:
        return [target for target in self.record.get("targets", []) if target not in self.delivered]

    @property
    def state(self) -> str:
        targets = self.record.get("targets", [])
        if not targets:
            return "no target"
        if not self.pending_targets():
            return "delivered"
        return "pending" if not self.delivered else "partly delivered"

    def label(self, target: str) -> str:
        return self.record.get("labels", {}).get(target, target)

    def alert_ids(self) -> list[str]:
        return [item["alert"] for item in self.record.get("items", []) if item.get("alert")]

    def as_dict(self) -> dict:
        record = self.record
        return {"id": self.id, "kind": message_kind(record), "created": record.get("created"),
                "as_of": record.get("as_of"), "state": self.state, "alerts": self.alert_ids(),
                "targets": [{"target": target, "label": self.label(target), "delivered": self.delivered.get(target),
                             "attempts": len(self.failures.get(target, [])) + (target in self.delivered),
                             "last_error": (self.failures.get(target) or [{}])[-1].get("error")
                             if target not in self.delivered else None}
                            for target in record.get("targets", [])]}


def message_kind(record: dict) -> str:
    """What a message is about, by its items: "firing", "resolved", "reminder", "silence ended" (the
    kinds it carries, most urgent first, joined by "+")."""
    kinds = []
    for kind in ("firing", "silence ended", "resolved", "reminder"):
        if any(item.get("kind") == kind for item in record.get("items", [])):
            kinds.append(kind)
    return "+".join(kinds) or "firing"


@dataclass
class History:
    """Everything the record holds, replayed in order."""

    alerts: dict[str, Alert] = field(default_factory=dict)  # in the order raised
    messages: dict[str, Message] = field(default_factory=dict)
    silences: dict[str, Silence] = field(default_factory=dict)
    states: list[tuple[dt.date, dict]] = field(default_factory=list)  # (as of, levels) in record order
    problems: list[str] = field(default_factory=list)  # lines set aside

    def state_on_or_before(self, day: dt.date) -> tuple[dict | None, dt.date | None]:
        """The levels as recorded for ``day`` or the latest day before it (the last recorded of that
        day), never a later one; (None, None) when nothing was recorded that early."""
        best = None
        for as_of, state in self.states:
            if as_of <= day and (best is None or as_of >= best[0]):
                best = (as_of, state)
        return (best[1], best[0]) if best else (None, None)

    @property
    def last_as_of(self) -> dt.date | None:
        return max((as_of for as_of, _ in self.states), default=None)

    def open_alerts(self, up_to: dt.date | None = None) -> list[Alert]:
        """Alerts not resolved, raised as of ``up_to`` or earlier (a round as of a day never touches an
        alert raised as of a later day)."""
        return [alert for alert in self.alerts.values()
                if alert.is_open and (up_to is None or alert.as_of <= up_to)]

    def pending_messages(self) -> list[Message]:
        return [message for message in self.messages.values() if message.pending_targets()]

    def silence_for(self, subject: str, now: dt.datetime) -> Silence | None:
        """The active silence on ``subject`` that lasts longest, if any."""
        matching = [silence for silence in self.silences.values() if silence.subject == subject and silence.active(now)]
        return max(matching, key=lambda silence: silence.until, default=None)

    def find(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    def messages_of(self, alert: Alert) -> list[Message]:
        seen = dict.fromkeys(message_id for message_id, _ in alert.messages)
        return [self.messages[message_id] for message_id in seen if message_id in self.messages]

    def messages_without_alert(self) -> list[Message]:
        return [message for message in self.messages.values() if not message.alert_ids()]

    def delivery(self, alert: Alert) -> str:
        """How the messages about an alert fared: "not sent" (none yet: raised while silenced), "delivered",
        "pending", "partly delivered", "no target"."""
        states = [message.state for message in self.messages_of(alert)]
        if not states:
            return "not sent"
        for state in ("pending", "partly delivered"):
            if state in states:
                return state
        return "delivered" if "delivered" in states else "no target"

    def alert_as_dict(self, alert: Alert) -> dict:
        """One alert as ``watchfloor alerts --json`` prints it: its state, who acknowledged it, its
        silence, its messages with their delivery, and every transition."""
        return {"id": alert.id, "subject": alert.subject, "name": alert.name, "as_of": alert.as_of.isoformat(),
                "raised_at": alert.raised_at, "state": alert.state, "summary": alert.summary(),
                "change": alert.change, "acknowledged": alert.acknowledged, "resolved": alert.resolved,
                "silence": alert.silence, "reminders": alert.reminders, "delivery": self.delivery(alert),
                "messages": [message.as_dict() for message in self.messages_of(alert)], "history": alert.history}


def read_history(folder: Path) -> History:
    """Replay ``DIR/.watchfloor/alerts.jsonl``: every alert with its state and history, every message
    with its deliveries, every silence; lines cut by a crash are named in ``problems``."""
    history = History()
    read = read_records(folder)
    history.problems = read.problems
    for number, record in zip(read.lines, read.records):
        try:
            replay(history, record)
        except (KeyError, TypeError, ValueError, AttributeError):  # a line edited by hand, or from a newer version
            history.problems.append(f"{alerts_path(folder)}:{number}: record: is not a record this version can read "
                                    "(a field is missing or of the wrong kind); it is set aside, the other records "
                                    "still count")
    return history


def replay(history: History, record: dict) -> None:
    """Apply one record to the history (in record order)."""
    kind = record.get("type")
    if kind in ("baseline", "evaluation", "alert"):
        history.states.append((dt.date.fromisoformat(record["as_of"]), record["state"]))
    if kind == "evaluation":
        _replay_evaluation(history, record)
    elif kind == "alert":
        _replay_legacy(history, record)
    elif kind == "ack":
        alert = history.alerts.get(record["alert"])
        if alert is not None and alert.is_open and alert.acknowledged is None:
            alert.acknowledged = {"by": record.get("by") or "", "at": record["at"], "comment": record.get("comment", "")}
            # acknowledged while silenced: it stays SILENCED, and comes back ACKNOWLEDGED
            alert.move(SILENCED if alert.state == SILENCED else ACKNOWLEDGED, record["at"], ACKNOWLEDGED,
                       by=record.get("by"), comment=record.get("comment"))
    elif kind == "silence":
        history.silences[record["id"]] = Silence(record["id"], record["subject"], dt.date.fromisoformat(record["until"]),
                                                 record["at"], record.get("by") or "", record.get("comment", ""))
    elif kind == "expire":
        silence = history.silences.get(record["silence"])
        if silence is not None and silence.expired is None:
            silence.expired = {"at": record["at"], "by": record.get("by") or ""}
    elif kind == "delivery":
        message = history.messages.get(record.get("id"))
        if message is not None:
            if record.get("ok"):
                message.delivered.setdefault(record["target"], record["at"])
            else:
                message.failures.setdefault(record["target"], []).append(record)


def _replay_evaluation(history: History, record: dict) -> None:
    at, as_of = record["at"], dt.date.fromisoformat(record["as_of"])
    for raised in record.get("alerts", []):
        change = {key: value for key, value in raised.items() if key not in ("id", "state", "silence", "reason")}
        alert = Alert(raised["id"], raised["subject"], change, as_of, at)
        alert.move(raised["state"], at, "raised", silence=raised.get("silence"), reason=raised.get("reason"),
                   as_of=as_of.isoformat())
        alert.silence = raised.get("silence")
        if raised["state"] == RESOLVED:
            alert.resolved = {"at": at, "as_of": as_of.isoformat(), "level": raised["to"], "reason": raised.get("reason")}
        history.alerts[alert.id] = alert
    for transition in record.get("transitions", []):
        alert = history.alerts.get(transition["alert"])
        if alert is None or not alert.is_open:
            continue
        state = transition["to"]
        alert.silence = transition.get("silence") if state == SILENCED else None
        if state == RESOLVED:
            alert.resolved = {"at": at, "as_of": as_of.isoformat(), "level": transition.get("level"),
                              "reason": transition.get("reason")}
        alert.move(state, at, transition.get("event"), silence=transition.get("silence"),
                   reason=transition.get("reason"), as_of=as_of.isoformat())
    if record.get("message"):
        _add_message(history, {**record["message"], "as_of": record["as_of"], "created": at})


def _add_message(history: History, message: dict) -> None:
    history.messages[message["id"]] = Message(message)
    for item in message.get("items", []):
        alert = history.alerts.get(item.get("alert"))
        if alert is None:
            continue
        alert.messages.append((message["id"], item["kind"]))
        alert.last_message_at = message["created"]
        alert.history.append({"at": message["created"], "event": "message", "kind": item["kind"],
                              "message": message["id"], **({"number": item["number"]} if "number" in item else {})})
        if item["kind"] == "reminder":
            alert.reminders = max(alert.reminders, item.get("number", alert.reminders + 1))


def _replay_legacy(history: History, record: dict) -> None:
    """A message written before alerts had states: one alert per change (the message's id when it has one
    change, else ``ID-1``, ``ID-2`` ...); a change down to NORMAL is already over."""
    changes = record.get("changes", [])
    items = []
    for number, change in enumerate(changes, start=1):
        alert_id = record["id"] if len(changes) == 1 else f"{record['id']}-{number}"
        alert = Alert(alert_id, subject_of(change), {**change, "subject": subject_of(change)},
                      dt.date.fromisoformat(record["as_of"]), record["created"])
        alert.move(FIRING, record["created"], "raised", as_of=record["as_of"])
        if change.get("to") == "normal":
            alert.resolved = {"at": record["created"], "as_of": record["as_of"], "level": "normal",
                              "reason": "recorded before alerts had states"}
            alert.move(RESOLVED, record["created"], reason="recorded before alerts had states")
        history.alerts[alert_id] = alert
        items.append({"kind": "firing", "alert": alert_id, **change})
    _add_message(history, {**record, "items": items, "legacy": True})


def subject_name(subject: str, names: dict[str, str]) -> str:
    """"Overall level", or the indicator's or scenario's name (its id when it is no longer defined)."""
    if subject == OVERALL:
        return "Overall level"
    return names.get(subject, subject.split(":", 1)[-1])


__all__ = ["ACKNOWLEDGED", "FIRING", "RESOLVED", "SILENCED", "STATES", "Alert", "History", "Message", "Silence",
           "message_kind", "parse_time", "read_history", "replay", "subject_name"]
