"""Alerts: what changed since the last recorded state, and the record of every alert and delivery.

The record is ``DIR/.watchfloor/alerts.jsonl``, appended to and never rewritten. Each line is one
JSON object:

- ``{"type": "baseline", ...}``: the state recorded when watching starts on a folder with no record;
- ``{"type": "alert", "id", "created", "as_of", "changes", "state", "targets", ...}``: an alert, written
  before any attempt to send it (the state it carries is the new last state);
- ``{"type": "delivery", "id", "target", "ok", "at", "error"}``: one attempt to send an alert to one
  target (a target is a keyed hash of the notification URL, salted with a secret kept beside the
  record in ``.watchfloor/target-key``: the URL itself, which may hold a password or a token, is never
  written, and cannot be recovered from the hash by guessing).

An alert is delivered to a target once a ``delivery`` line with ``ok: true`` follows it; until then it
is pending. A line cut short by a crash is named and set aside, and the next record starts on a line
of its own. Nothing here sends anything (see ``watching``); nothing here imports streamlit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .evaluate import IndicatorStatus, OverallStatus
from .models import LEVEL_SCORES, Alerts, Level, Watchlist
from .report import value_phrase

ALERTS_FOLDER = ".watchfloor"
ALERTS_FILE = "alerts.jsonl"
TARGET_KEY_FILE = "target-key"
NOT_CURRENT = "stale"


def alerts_path(folder: Path) -> Path:
    return Path(folder) / ALERTS_FOLDER / ALERTS_FILE


def state_of(statuses: list[IndicatorStatus], overall: OverallStatus) -> dict:
    """The levels an alert compares: the overall level and each indicator's (``stale`` when stale)."""
    return {"overall": overall.level.value,
            "indicators": {s.indicator.id: NOT_CURRENT if s.stale else s.level.value for s in statuses}}


def _rank(level: str) -> int:
    """normal 0 ... critical 3; no data and stale rank below normal."""
    try:
        return LEVEL_SCORES.get(Level(level), -1)
    except ValueError:  # "stale"
        return -1


def _notable(old: str, new: str, at: str) -> bool:
    """A change is notified when the level enters, leaves or moves within ``at`` or above."""
    threshold = _rank(at)
    return old != new and (_rank(old) >= threshold or _rank(new) >= threshold)


def changes_between(rules: Alerts, old: dict, new: dict, statuses: list[IndicatorStatus],
                    overall: OverallStatus) -> list[dict]:
    """Every notable change from ``old`` to ``new`` state, overall first, with its reasons."""
    changes = []
    if _notable(old.get("overall", "no_data"), new["overall"], rules.overall_at):
        changes.append({"what": "overall", "name": "Overall level", "from": old.get("overall", "no_data"),
                        "to": new["overall"], "index": overall.index, "reasons": list(overall.reasons)})
    if rules.indicators_at is not None:
        by_id = {s.indicator.id: s for s in statuses}
        for indicator_id, level in new["indicators"].items():
            before = old.get("indicators", {}).get(indicator_id, "no_data")
            if _notable(before, level, rules.indicators_at):
                status = by_id[indicator_id]
                changes.append({"what": indicator_id, "name": status.indicator.name, "from": before, "to": level,
                                "value": value_phrase(status) if status.value is not None else None,
                                "date": status.date.isoformat() if status.date else None,
                                "source": status.source or None, "grade": status.grade or None})
    return changes


def new_alert_id(as_of: dt.date) -> str:
    """A stable id for one alert: the same on every attempt to send it, so receivers can drop repeats."""
    return f"wf-{as_of:%Y%m%d}-{secrets.token_hex(4)}"


def target_key(url: str, secret: bytes) -> str:
    """How a target is named in the record: a keyed hash of its URL (the folder's secret as the key),
    so that a password in the URL cannot be found by hashing guesses."""
    return hmac.new(secret, url.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def unsalted_target_key(url: str) -> str:
    """How records written before the folder had a secret name a target (read, never written)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def target_secret(folder: Path) -> bytes:
    """The folder's secret for target names, made once (readable by its owner only) beside the record;
    ``.watchfloor/`` keeps itself out of git."""
    record_folder = ensure_record_folder(folder)
    path = record_folder / TARGET_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes().strip()
        if len(secret) >= 32:
            return secret
        raise OSError(f"{path} is damaged (it should hold 64 hexadecimal characters); delete it and run watch "
                      "again (pending alerts are then sent under new target names)") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secrets.token_hex(32).encode("ascii") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path.read_bytes().strip()


def ensure_record_folder(folder: Path) -> Path:
    """``.watchfloor/``, with a .gitignore of its own: the record, the lock and the secret stay out of git
    even when the watchlist's .gitignore does not name the folder."""
    record_folder = Path(folder) / ALERTS_FOLDER
    record_folder.mkdir(exist_ok=True)
    ignore = record_folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return record_folder


def rows_since(observations: pd.DataFrame, events: pd.DataFrame, watchlist: Watchlist, since: dt.date | None,
               as_of: dt.date, limit: int = 20) -> tuple[list[dict], list[dict]]:
    """Observations reported and events dated after ``since`` (the last message) up to ``as_of``."""
    from .changes import events_between, observations_between

    since = since or as_of - dt.timedelta(days=7)
    names = {indicator.id: indicator.name for indicator in watchlist.indicators}
    rows = observations_between(observations, since, as_of).head(limit)
    found = [{"date": f"{row.date:%Y-%m-%d}", "indicator": names.get(row.indicator, row.indicator),
              "value": None if row.value != row.value else float(row.value), "source": row.source or None,
              "grade": f"{row.reliability}{row.credibility}" or None, "status": row.status,
              "note": row.note or None} for row in rows.itertuples()]
    happened = [{"date": f"{row.date:%Y-%m-%d}", "title": row.title, "source": row.source or None}
                for row in events_between(events, since, as_of).head(limit).itertuples()]
    return found, happened


# ---- the record ---------------------------------------------------------------------------------


def append_record(folder: Path, record: dict) -> None:
    """Append one record as a JSON line, flushed to disk; a failed write leaves the file as it was. A
    last line left without its end by a crash gets one first, so the new record is a line of its own."""
    from .writing import append_bytes

    path = alerts_path(folder)
    ensure_record_folder(folder)
    size = path.stat().st_size if path.exists() else 0
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    if size and not _ends_with_newline(path, size):
        line = b"\n" + line
    append_bytes(path, line, size)


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


@dataclass
class Records:
    """The readable records, oldest first, and a sentence for each line set aside."""

    records: list[dict]
    problems: list[str]


def read_records(folder: Path) -> Records:
    """Every record, oldest first. A line that is not a whole JSON record (cut short by a crash, even
    inside a character) is named with its line and set aside: the records around it still count."""
    path = alerts_path(folder)
    if not path.exists():
        return Records([], [])
    records, problems = [], []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError):
            problems.append(f"{path}:{number}: record: is not a whole record (cut short by a crash while it was "
                            "written?); it is set aside, the other records still count")
            continue
        records.append(record)
    return Records(records, problems)


@dataclass
class AlertEntry:
    """One alert with what became of it: delivered, or pending with its attempts."""

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

    def as_dict(self) -> dict:
        record = self.record
        return {"id": self.id, "created": record["created"], "as_of": record["as_of"], "state": self.state,
                "changes": record["changes"],
                "targets": [{"target": target, "label": record.get("labels", {}).get(target, target),
                             "delivered": self.delivered.get(target),
                             "attempts": len(self.failures.get(target, [])) + (target in self.delivered),
                             "last_error": (self.failures.get(target) or [{}])[-1].get("error")
                             if target not in self.delivered else None}
                            for target in record.get("targets", [])],
                "url": record.get("url")}


@dataclass
class History:
    alerts: list[AlertEntry]
    last_state: dict | None
    last_as_of: dt.date | None
    problems: list[str] = field(default_factory=list)  # lines set aside


def read_history(folder: Path) -> History:
    entries: dict[str, AlertEntry] = {}
    last_state, last_as_of = None, None
    read = read_records(folder)
    for record in read.records:
        kind = record.get("type")
        if kind in ("baseline", "alert"):
            last_state = record.get("state")
            last_as_of = dt.date.fromisoformat(record["as_of"])
        if kind == "alert":
            entries[record["id"]] = AlertEntry(record)
        elif kind == "delivery" and record.get("id") in entries:
            entry = entries[record["id"]]
            if record.get("ok"):
                entry.delivered.setdefault(record["target"], record["at"])
            else:
                entry.failures.setdefault(record["target"], []).append(record)
    return History(list(entries.values()), last_state, last_as_of, read.problems)


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def resolve_targets(rules: Alerts | None, extra: list[str], secret: bytes) -> tuple[dict[str, str], list[str]]:
    """{target key: URL} from the watchlist's ``notify`` (``env:NAME`` read from the environment) and
    the command line; and the problems (an unset variable) in plain words."""
    urls, problems = [], []
    for entry in list(rules.notify if rules else []) + list(extra):
        if entry.startswith("env:"):
            value = os.environ.get(entry[4:], "")
            if not value.strip():
                problems.append(f"{entry}: the environment variable {entry[4:]} is not set; set it to one or more "
                                "Apprise URLs")
            urls.extend(part for part in value.replace(",", " ").split() if part)
        else:
            urls.append(entry)
    return {target_key(url, secret): url for url in urls}, problems


def level_word(level: str) -> str:
    return NOT_CURRENT.upper() if level == NOT_CURRENT else Level(level).word


def changes_summary(changes: list[dict]) -> str:
    """"Overall level NORMAL -> HIGH; Troops NORMAL -> HIGH": an alert's changes on one line."""
    return "; ".join(f"{change['name']} {level_word(change['from'])} -> {level_word(change['to'])}"
                     for change in changes)


__all__ = ["ALERTS_FOLDER", "ALERTS_FILE", "AlertEntry", "History", "alerts_path", "append_record", "changes_between",
           "changes_summary", "ensure_record_folder", "level_word", "new_alert_id", "now_utc", "read_history",
           "read_records", "resolve_targets", "rows_since", "state_of", "target_key", "target_secret",
           "unsalted_target_key"]
