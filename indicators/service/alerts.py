"""Alerts: what changed since the recorded state, and the record of every alert, transition and message.

The record is ``DIR/.watchfloor/alerts.jsonl``: appended to under its lock (``.alerts.jsonl.lock``),
never rewritten, so that the history of every alert can be replayed (``alertstates``). Each line is
one JSON object:

- ``{"type": "baseline", "as_of", "at", "state"}``: the levels recorded when watching starts;
- ``{"type": "evaluation", "as_of", "at", "since", "state", "alerts", "transitions", "message"}``: one
  round of ``watch`` in which something happened, in one line (all of it or, cut by a crash, none):
  the levels (``state``), the alerts raised (one per notable change of the overall level, an
  indicator's or a scenario's; FIRING, or SILENCED when a silence matches), the transitions of earlier
  alerts (RESOLVED, SILENCED, back to FIRING when a silence ended) and the message to send, if any;
- ``{"type": "ack", "alert", "at", "by", "comment"}``: someone acknowledged an alert;
- ``{"type": "silence", "id", "subject", "until", "at", "by", "comment"}`` and ``{"type": "expire",
  "silence", "at", "by"}``: a silence, and its early end;
- ``{"type": "delivery", "id", "target", "ok", "at", "error"}``: one attempt to send a message to one
  target (a target is a keyed hash of the notification URL, salted with a secret kept beside the
  record in ``.watchfloor/target-key``: the URL itself, which may hold a password or a token, is never
  written, and cannot be recovered from the hash by guessing);
- ``{"type": "alert", ...}``: a message with its changes as written before alerts had states (read,
  never written).

A message is delivered to a target once a ``delivery`` line with ``ok: true`` follows it; until then it
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..engine.evaluate import IndicatorStatus, OverallStatus
from ..engine.report import value_phrase
from ..format.models import LEVEL_SCORES, Alerts, Level, Watchlist

ALERTS_FOLDER = ".watchfloor"
ALERTS_FILE = "alerts.jsonl"
TARGET_KEY_FILE = "target-key"
NOT_CURRENT = "stale"
OVERALL = "overall"
INDICATOR_PREFIX, SCENARIO_PREFIX = "indicator:", "scenario:"


def alerts_path(folder: Path) -> Path:
    return Path(folder) / ALERTS_FOLDER / ALERTS_FILE


# ---- subjects and levels ------------------------------------------------------------------------
# What an alert is about: "overall", "indicator:<id>" or "scenario:<id>".


def state_of(statuses: list[IndicatorStatus], overall: OverallStatus) -> dict:
    """The levels an alert compares: the overall level, each indicator's (``stale`` when stale) and
    each scenario's."""
    return {"overall": overall.level.value,
            "indicators": {s.indicator.id: NOT_CURRENT if s.stale else s.level.value for s in statuses},
            "scenarios": {s.scenario.id: s.level.value for s in overall.scenarios}}


def level_in(state: dict, subject: str) -> str | None:
    """The subject's level in a recorded state; None when the state does not hold it."""
    if subject == OVERALL:
        return state.get("overall")
    if subject.startswith(INDICATOR_PREFIX):
        return state.get("indicators", {}).get(subject.removeprefix(INDICATOR_PREFIX))
    return state.get("scenarios", {}).get(subject.removeprefix(SCENARIO_PREFIX))


def rule_level(rules: Alerts, subject: str) -> str | None:
    """The level from which the subject is alerted on (None: it is not watched)."""
    if subject == OVERALL:
        return rules.overall_at
    return rules.indicators_at if subject.startswith(INDICATOR_PREFIX) else rules.scenarios_at


def subject_of(change: dict) -> str:
    """The subject of a change; changes recorded before scenarios were watched name it ``what``."""
    if "subject" in change:
        return change["subject"]
    return OVERALL if change.get("what") == OVERALL else INDICATOR_PREFIX + str(change.get("what"))


def rank(level: str | None) -> int:
    """normal 0 ... critical 3; no data, stale and unknown rank below normal."""
    try:
        return LEVEL_SCORES.get(Level(level), -1)
    except ValueError:  # "stale", None
        return -1


def is_known(level: str | None) -> bool:
    """A level someone can act on: normal to critical (not no data, not stale)."""
    return rank(level) >= 0


def _notable(old: str, new: str, at: str) -> bool:
    """A change is notified when the level enters, leaves or moves within ``at`` or above."""
    threshold = rank(at)
    return old != new and (rank(old) >= threshold or rank(new) >= threshold)


def changes_between(rules: Alerts, old: dict, new: dict, statuses: list[IndicatorStatus],
                    overall: OverallStatus) -> list[dict]:
    """Every notable change from ``old`` to ``new`` state, overall first, then indicators and
    scenarios in watchlist order, each with its reasons."""
    changes = []
    if _notable(old.get("overall", "no_data"), new["overall"], rules.overall_at):
        changes.append({"subject": OVERALL, "name": "Overall level", "from": old.get("overall", "no_data"),
                        "to": new["overall"], "index": overall.index, "reasons": list(overall.reasons)})
    if rules.indicators_at is not None:
        by_id = {s.indicator.id: s for s in statuses}
        for indicator_id, level in new["indicators"].items():
            before = old.get("indicators", {}).get(indicator_id, "no_data")
            if _notable(before, level, rules.indicators_at):
                status = by_id[indicator_id]
                changes.append({"subject": INDICATOR_PREFIX + indicator_id, "name": status.indicator.name,
                                "from": before, "to": level,
                                "value": value_phrase(status) if status.value is not None else None,
                                "date": status.date.isoformat() if status.date else None,
                                "source": status.source or None, "grade": status.grade or None})
    # a state recorded before scenarios were watched holds none: nothing to compare them with yet
    if rules.scenarios_at is not None and "scenarios" in old:
        from ..engine.scenarios import scenario_reason

        for status in overall.scenarios:
            before = old["scenarios"].get(status.scenario.id, "no_data")
            if _notable(before, status.level.value, rules.scenarios_at):
                changes.append({"subject": SCENARIO_PREFIX + status.scenario.id, "name": status.scenario.name,
                                "from": before, "to": status.level.value, "reasons": [scenario_reason(status)]})
    return changes


# ---- ids, targets and the folder's secret -------------------------------------------------------


def new_id(prefix: str, day: dt.date) -> str:
    """A stable id (``wf-`` an alert, ``m-`` a message, ``s-`` a silence): the same on every attempt to
    send a message, so receivers can drop repeats."""
    return f"{prefix}-{day:%Y%m%d}-{secrets.token_hex(4)}"


def new_alert_id(as_of: dt.date) -> str:
    return new_id("wf", as_of)


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


@dataclass(frozen=True)
class Target:
    """Somewhere to send to: its key in the record, its URL, and where the URL came from (``--notify``,
    ``alerts.notify`` or ``env:NAME``), to name it without showing a secret."""

    key: str
    url: str
    origin: str


def resolve_targets(rules: Alerts | None, extra: list[str], secret: bytes) -> tuple[dict[str, str], list[str]]:
    """{target key: URL} from the watchlist's ``notify`` (``env:NAME`` read from the environment) and
    the command line; and the problems (an unset variable) in plain words."""
    targets, problems = target_list(rules, extra, secret)
    return {target.key: target.url for target in targets}, problems


def target_list(rules: Alerts | None, extra: list[str], secret: bytes) -> tuple[list[Target], list[str]]:
    """The targets in order (each URL once), with where each came from; and the problems in plain words."""
    found, problems = [], []
    entries = [(entry, "alerts.notify") for entry in (rules.notify if rules else [])]
    for entry, origin in entries + [(entry, "--notify") for entry in extra]:
        if entry.startswith("env:"):
            value = os.environ.get(entry[4:], "")
            if not value.strip():
                problems.append(f"{entry}: the environment variable {entry[4:]} is not set; set it to one or more "
                                "Apprise URLs")
            found.extend((part, entry) for part in value.replace(",", " ").split() if part)
        else:
            found.append((entry, origin))
    targets: dict[str, Target] = {}
    for url, origin in found:
        key = target_key(url, secret)
        targets.setdefault(key, Target(key, url, origin))
    return list(targets.values()), problems


def rows_since(observations: pd.DataFrame, events: pd.DataFrame, watchlist: Watchlist, since: dt.date | None,
               as_of: dt.date, limit: int = 20) -> tuple[list[dict], list[dict]]:
    """Observations reported and events dated after ``since`` (the last message) up to ``as_of``."""
    from ..engine.changes import events_between, observations_between

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


@contextmanager
def record_lock(folder: Path):
    """The record's lock (``.watchfloor/.alerts.jsonl.lock``), held by every writer of the record:
    ``watch`` while it decides and appends a round, an acknowledgement or a silence while it checks
    and appends. Only appends happen under it, never a send."""
    from ..store.writing import file_lock

    ensure_record_folder(folder)
    with file_lock(alerts_path(folder)):
        yield


def append_record(folder: Path, record: dict) -> str:
    """Append one record as a JSON line, flushed to disk, under the record's lock; a failed write leaves
    the file as it was. A last line left without its end by a crash gets one first, so the new record
    is a line of its own. Returns the line written."""
    with record_lock(folder):
        return append_locked(folder, record)


def append_locked(folder: Path, record: dict) -> str:
    """``append_record`` for a caller that holds the record's lock."""
    from ..store.writing import append_bytes

    path = alerts_path(folder)
    size = path.stat().st_size if path.exists() else 0
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    line = (text + "\n").encode("utf-8")
    if size and not _ends_with_newline(path, size):
        line = b"\n" + line
    append_bytes(path, line, size)
    return text


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


@dataclass
class Records:
    """The readable records, oldest first, the line of each, and a sentence for each line set aside."""

    records: list[dict]
    problems: list[str]
    lines: list[int] = field(default_factory=list)


def read_records(folder: Path) -> Records:
    """Every record, oldest first. A line that is not a whole JSON record (cut short by a crash, even
    inside a character) is named with its line and set aside: the records around it still count."""
    path = alerts_path(folder)
    if not path.exists():
        return Records([], [])
    records, problems, lines = [], [], []
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
        lines.append(number)
    return Records(records, problems, lines)


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def level_word(level: str) -> str:
    return NOT_CURRENT.upper() if level == NOT_CURRENT else Level(level).word


def change_summary(change: dict) -> str:
    """"Troops NORMAL -> HIGH": one change on one line."""
    return f"{change['name']} {level_word(change['from'])} -> {level_word(change['to'])}"


def changes_summary(changes: list[dict]) -> str:
    """"Overall level NORMAL -> HIGH; Troops NORMAL -> HIGH": changes on one line."""
    return "; ".join(change_summary(change) for change in changes)


__all__ = ["ALERTS_FOLDER", "ALERTS_FILE", "OVERALL", "Records", "Target", "alerts_path", "append_locked",
           "append_record", "change_summary", "changes_between", "changes_summary", "ensure_record_folder",
           "is_known", "level_in", "level_word", "new_alert_id", "new_id", "now_utc", "rank", "read_records",
           "record_lock", "resolve_targets", "rows_since", "rule_level", "state_of", "subject_of", "target_key",
           "target_list", "target_secret", "unsalted_target_key"]
