"""What people do to alerts: acknowledge one, silence a subject until a day, end a silence early.

Each is checked against the record and appended to it under the record's lock (so that ``watch``
cannot resolve an alert between the check and the append), never rewriting a line. The command line
and the Alerts page call the same functions; the page checks the visitor's role first.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..store.writing import WriteRefused
from .alerts import INDICATOR_PREFIX, OVERALL, SCENARIO_PREFIX, alerts_path, append_locked, new_id, now_utc, record_lock
from .alertstates import RESOLVED, read_history

MAX_COMMENT = 2000


class AlertActionRefused(WriteRefused):
    """Nothing was recorded; the message says why (the alert is resolved, the silence is over ...)."""


class UnknownInRecord(AlertActionRefused):
    """The id names no alert or silence of the record (a usage error: the message lists the ids)."""


def _checked_comment(comment: str) -> str:
    text = " ".join(comment.split())
    if not text:
        raise AlertActionRefused("a comment is required: say what you saw or why (--comment \"...\")")
    if len(text) > MAX_COMMENT:
        raise AlertActionRefused(f"the comment has {len(text)} characters; keep it to {MAX_COMMENT}")
    return text


def _open_ids(history) -> str:
    ids = [alert.id for alert in history.alerts.values() if alert.is_open]
    return ("open alerts: " + ", ".join(ids[-10:])) if ids else "no alert is open"


def acknowledge(folder: Path, alert_id: str, by: str, comment: str) -> str:
    """Record that ``by`` saw the alert (with ``comment``); refused when it is resolved or already
    acknowledged. Returns the line appended."""
    text = _checked_comment(comment)
    if not alerts_path(folder).exists():
        raise UnknownInRecord(f"{folder} has no alert record yet (watchfloor watch {folder} makes it); nothing to "
                              "acknowledge")
    with record_lock(folder):
        history = read_history(folder)
        alert = history.find(alert_id)
        if alert is None:
            raise UnknownInRecord(f'no alert "{alert_id}" in {folder}/.watchfloor/alerts.jsonl; {_open_ids(history)} '
                                  f"(see: watchfloor alerts {folder})")
        if alert.state == RESOLVED:
            raise AlertActionRefused(f"alert {alert_id} ({alert.summary()}) was resolved at {alert.resolved['at']} "
                                     f"({alert.resolved.get('reason')}); there is nothing to acknowledge")
        if alert.acknowledged is not None:
            done = alert.acknowledged
            raise AlertActionRefused(f"alert {alert_id} was already acknowledged by {done['by'] or 'someone'} at "
                                     f"{done['at']}: {done['comment']}")
        return append_locked(folder, {"type": "ack", "alert": alert_id, "at": now_utc(), "by": by, "comment": text})


def subject_for(indicator: str | None, scenario: str | None, overall: bool, watchlist) -> str:
    """The subject of a silence from exactly one of --indicator, --scenario, --overall, checked against
    the watchlist (UnknownInRecord names the ids it has)."""
    given = [name for name, value in (("--indicator", indicator), ("--scenario", scenario), ("--overall", overall))
             if value]
    if len(given) != 1:
        raise UnknownInRecord("give exactly one of --indicator ID, --scenario ID or --overall"
                              + (f" (got {' and '.join(given)})" if given else ""))
    if overall:
        return OVERALL
    if indicator is not None:
        ids = [item.id for item in watchlist.indicators]
        if indicator not in ids:
            raise UnknownInRecord(f'--indicator "{indicator}" is not an indicator of this watchlist; ids: {", ".join(ids)}')
        return INDICATOR_PREFIX + indicator
    ids = [item.id for item in watchlist.scenarios]
    if scenario not in ids:
        raise UnknownInRecord(f'--scenario "{scenario}" is not a scenario of this watchlist; '
                              + (f"ids: {', '.join(ids)}" if ids else "it declares none"))
    return SCENARIO_PREFIX + scenario


def add_silence(folder: Path, subject: str, until: dt.date, by: str, comment: str,
                today: dt.date | None = None) -> tuple[str, str]:
    """Silence ``subject`` through ``until`` (local date): its alerts are recorded, not sent. Returns
    (the silence's id, the line appended)."""
    text = _checked_comment(comment)
    today = today or dt.date.today()
    if until < today:
        raise UnknownInRecord(f"--until {until.isoformat()} is in the past; a silence lasts through a day from today "
                              f"({today.isoformat()}) on")
    silence_id = new_id("s", today)
    with record_lock(folder):
        line = append_locked(folder, {"type": "silence", "id": silence_id, "subject": subject,
                                      "until": until.isoformat(), "at": now_utc(), "by": by, "comment": text})
    return silence_id, line


def expire_silence(folder: Path, silence_id: str, by: str, now: dt.datetime | None = None) -> str:
    """End a silence now; its subject's alerts are sent again from the next round of ``watch`` (which
    says once that the silence ended while an alert still holds)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if not alerts_path(folder).exists():
        raise UnknownInRecord(f"{folder} has no alert record yet, so no silence to expire")
    with record_lock(folder):
        history = read_history(folder)
        silence = history.silences.get(silence_id)
        if silence is None:
            ids = ", ".join(history.silences) or "none"
            raise UnknownInRecord(f'no silence "{silence_id}" in {folder}/.watchfloor/alerts.jsonl; silences: {ids}')
        if silence.expired is not None:
            raise AlertActionRefused(f"silence {silence_id} was already expired at {silence.expired['at']} by "
                                     f"{silence.expired['by'] or 'someone'}")
        if not silence.active(now):
            raise AlertActionRefused(f"silence {silence_id} already ended (it lasted through {silence.until.isoformat()})")
        return append_locked(folder, {"type": "expire", "silence": silence_id, "at": now_utc(), "by": by})


__all__ = ["AlertActionRefused", "UnknownInRecord", "acknowledge", "add_silence", "expire_silence", "subject_for"]
