"""``watchfloor watch``: evaluate a watchlist whenever its files change, record every notable level
change as an alert, and deliver it through Apprise, at least once, whatever fails.

One cycle: load the files, evaluate as of the day, compare with the last recorded state, append an
alert when something notable changed (before sending anything), then send every pending alert to
every target that has not had it. A failed send stays pending: it is retried on later cycles with
backoff (1, 2, 4 ... minutes, at most an hour) and at once after a restart. Killing the process at any
point loses nothing: an alert is on disk before it is sent, and a delivery is recorded after it
succeeded (a receiver may see an alert twice; its id lets it drop the repeat).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .alerts import (ALERTS_FOLDER, AlertEntry, append_record, changes_between, ensure_record_folder, level_word,
                     new_alert_id, now_utc, read_history, resolve_targets, rows_since, state_of, target_secret,
                     unsalted_target_key)
from .loader import LoadedWatchlist, files_signature, load_watchlist
from .models import Alerts
from .rules import evaluate_watchlist
from .serving import _die_with_parent  # a send never outlives the watch that started it

DEFAULT_URL_BASE = "http://localhost:8501"
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 3600


class WatchError(Exception):
    """Watching cannot start or go on; the message says why in plain words."""


@dataclass
class CycleResult:
    recorded: str | None = None  # the id of the alert recorded this cycle
    baseline: bool = False
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (alert id, target, target label)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)  # (alert id, target, label, error)
    problems: list[str] = field(default_factory=list)
    held: str | None = None  # why levels were not compared this round (a feed could not be read completely)


def permalink(url_base: str, as_of: dt.date) -> str:
    return f"{url_base.rstrip('/')}/?page=alerts&as_of={as_of.isoformat()}"


def format_message(record: dict) -> tuple[str, str]:
    """(title, body) of an alert as text: the marking first and last, every change with its reasons,
    what was reported since the last message, the permalink and the alert id."""
    marking = record.get("marking") or ""
    changes = record["changes"]
    overall = next((change for change in changes if change["what"] == "overall"), None)
    if overall:
        headline = f"overall {level_word(overall['from'])} -> {level_word(overall['to'])}"
    else:
        headline = f"{len(changes)} indicator{'s' if len(changes) != 1 else ''} changed"
    title = f"{'[' + marking + '] ' if marking else ''}{record['watchlist']}: {headline} [{record['id']}]"
    lines = [marking] if marking else []
    lines.append(f"{record['watchlist']} - as of {record['as_of']}")
    for change in changes:
        words = f"{level_word(change['from'])} -> {level_word(change['to'])}"
        if change["what"] == "overall":
            index = f" (index {change['index']:.1f})" if change.get("index") is not None else ""
            lines.append(f"Overall level: {words}{index}")
            lines.extend(f"  because {reason}" for reason in change.get("reasons", []))
        else:
            detail = ", ".join(part for part in (change.get("value"), change.get("date"),
                                                 change.get("source") and f"{change['source']}"
                                                 f"{' (' + change['grade'] + ')' if change.get('grade') else ''}")
                               if part)
            lines.append(f"{change['name']}: {words}{' (' + detail + ')' if detail else ''}")
    observations, events = record.get("observations", []), record.get("events", [])
    if observations or events:
        lines.append(f"New since {record.get('since') or 'the last message'}:")
        for row in observations:
            value = "" if row["value"] is None else f" {row['value']:g}"
            status = "" if row["status"] == "reported" else f" [{row['status']}]"
            source = f" - {row['source']}" if row.get("source") else ""
            lines.append(f"  {row['date']} {row['indicator']}{value}{status}{source}")
        lines.extend(f"  Event {event['date']}: {event['title']}" for event in events)
    lines.append(f"View: {record['url']}")
    lines.append(f"Alert id: {record['id']}")
    if marking:
        lines.append(marking)
    return title, "\n".join(lines)


ALERTS_EXTRA_MISSING = ('sending needs the alerts extra (Apprise), which is not installed: pip install -c '
                        'constraints.txt -e ".[alerts]" in a checkout, or pip install "watchfloor[alerts]"')
DEFAULT_SEND_SECONDS = 30.0


def _send(url: str, title: str, body: str, seconds: float = DEFAULT_SEND_SECONDS) -> str | None:
    """Send one message to one Apprise URL within ``seconds`` in all (starting, connecting, writing,
    reading the answer); None when it was accepted, else the reason. The send runs in a child process
    that is killed at the deadline: a receiver that never answers, or trickles its answer byte by byte
    (each read well within any socket timeout), cannot keep ``watch`` or its lock past it."""
    try:
        import apprise  # noqa: F401
    except ImportError:
        return ALERTS_EXTRA_MISSING
    request = json.dumps({"url": url, "title": title, "body": body})  # on stdin: never in the process list
    try:  # the script alone, not the package: the child starts in a fraction of a second
        done = subprocess.run([sys.executable, str(Path(__file__).with_name("sending.py"))], input=request,
                              capture_output=True, text=True, timeout=seconds,
                              preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    except subprocess.TimeoutExpired:
        return (f"no complete answer within {seconds:g} s (the receiver is down, too slow or hanging); "
                "given up for now")
    try:
        return json.loads(done.stdout)["error"]
    except (ValueError, KeyError, TypeError):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the sending process failed (exit code {done.returncode}: {last})"


def _labels(targets: dict[str, str]) -> dict[str, str]:
    """Target key -> the URL with its secrets hidden (as Apprise shows it), for the record and the screen."""
    try:
        import apprise
    except ImportError:  # without the extra: only the scheme (the alert is recorded and stays pending)
        return {key: url.split("://", 1)[0] + "://..." for key, url in targets.items()}
    labels = {}
    for key, url in targets.items():
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        labels[key] = plugin.url(privacy=True).split("?", 1)[0] if plugin else url.split("://", 1)[0] + "://..."
    return labels


def _incompleteness(summary) -> str:
    if summary.failed:
        return f"feed {summary.name} cannot be read ({summary.failed})"
    count = len(summary.files_left_out)
    return (f"feed {summary.name} has {count} file{'s' if count != 1 else ''} that cannot be read "
            f"({', '.join(summary.files_left_out[:3])}{', ...' if count > 3 else ''})")


def _alert_rules(loaded: LoadedWatchlist) -> Alerts:
    return loaded.watchlist.alerts or Alerts()


def run_cycle(folder: Path, as_of: dt.date, url_base: str, extra_urls: list[str],
              retry_due: Callable[[str, str], bool] = lambda alert_id, target: True,
              today: dt.date | None = None, send_seconds: float = DEFAULT_SEND_SECONDS) -> CycleResult:
    """One evaluation and delivery round (see the module's description)."""
    result = CycleResult()
    loaded = load_watchlist(folder, today=today)
    if loaded.watchlist is None:
        raise WatchError(f"{folder}/watchlist.yaml cannot be used; see: watchfloor validate {folder}")
    rules = _alert_rules(loaded)
    targets, result.problems = resolve_targets(rules, extra_urls, target_secret(folder))
    statuses, overall = evaluate_watchlist(loaded.watchlist, loaded.observations, as_of)
    state = state_of(statuses, overall)
    history = read_history(folder)
    result.problems += history.problems
    incomplete = [summary for summary in loaded.feeds.values() if not summary.complete]
    if incomplete:  # a fed indicator that drops out would move the index: no level is compared, nothing new sent
        result.held = "; ".join(_incompleteness(summary) for summary in incomplete)
    elif history.last_state is None:
        append_record(folder, {"type": "baseline", "at": now_utc(), "as_of": as_of.isoformat(), "state": state})
        result.baseline = True
    else:
        changes = changes_between(rules, history.last_state, state, statuses, overall)
        if changes:
            observations, events = rows_since(loaded.observations, loaded.events, loaded.watchlist,
                                              history.last_as_of, as_of)
            labels = _labels(targets)
            record = {"type": "alert", "id": new_alert_id(as_of), "created": now_utc(), "as_of": as_of.isoformat(),
                      "since": history.last_as_of.isoformat() if history.last_as_of else None,
                      "watchlist": loaded.watchlist.title, "marking": loaded.watchlist.marking,
                      "changes": changes, "observations": observations, "events": events,
                      "url": permalink(url_base, as_of), "state": state, "targets": list(targets),
                      "labels": labels}
            append_record(folder, record)  # on disk before any attempt to send it
            result.recorded = record["id"]
            history.alerts.append(AlertEntry(record))
    deliver_pending(folder, history.alerts, targets, retry_due, result, send_seconds)
    return result


def deliver_pending(folder: Path, alerts: list[AlertEntry], targets: dict[str, str],
                    retry_due: Callable[[str, str], bool], result: CycleResult,
                    send_seconds: float = DEFAULT_SEND_SECONDS) -> None:
    # alerts recorded before the folder had its secret name their targets by an unsalted hash
    earlier_names = {unsalted_target_key(url): url for url in targets.values()}
    for entry in alerts:
        labels = entry.record.get("labels", {})
        title, body = format_message(entry.record)
        for target in entry.pending_targets():
            url = targets.get(target) or earlier_names.get(target)
            label = labels.get(target, target)
            if url is None:
                continue  # no longer configured: stays pending, shown as such by `alerts`
            if not retry_due(entry.id, target):
                continue
            error = _send(url, title, body, send_seconds)
            append_record(folder, {"type": "delivery", "id": entry.id, "target": target, "ok": error is None,
                                   "at": now_utc(), **({"error": error} if error else {})})
            if error is None:
                entry.delivered[target] = now_utc()
                result.sent.append((entry.id, target, label))
            else:
                entry.failures.setdefault(target, []).append({"error": error})
                result.failed.append((entry.id, target, label, error))


class Backoff:
    """When a failed delivery is tried again within one running ``watch``: 1, 2, 4 ... minutes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.next_try: dict[tuple[str, str], float] = {}
        self.failures: dict[tuple[str, str], int] = {}

    def due(self, alert_id: str, target: str) -> bool:
        return self.clock() >= self.next_try.get((alert_id, target), 0.0)

    def failed(self, alert_id: str, target: str) -> None:
        count = self.failures.get((alert_id, target), 0) + 1
        self.failures[(alert_id, target)] = count
        self.next_try[(alert_id, target)] = self.clock() + min(FIRST_RETRY_SECONDS * 2 ** (count - 1),
                                                              LONGEST_RETRY_SECONDS)

    def succeeded(self, alert_id: str, target: str) -> None:
        self.next_try.pop((alert_id, target), None)
        self.failures.pop((alert_id, target), None)


def watch(folder: Path, every_seconds: float, once: bool, url_base: str, extra_urls: list[str],
          as_of: dt.date | None, say: Callable[[str], None], poll_seconds: float = 1.0,
          send_seconds: float = DEFAULT_SEND_SECONDS) -> CycleResult | None:
    """Watch ``folder`` until stopped (or one cycle with ``once``). Only one watch per folder: a
    second one exits with WatchError. Each send is given up after ``send_seconds``, so a hanging
    receiver never holds the folder's lock longer than that per pending target."""
    from filelock import FileLock, Timeout

    ensure_record_folder(folder)
    lock = FileLock(str(folder / ALERTS_FOLDER / "watch.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise WatchError(f"another watchfloor watch is already running on {folder}; only one may send its "
                         "alerts") from None
    try:
        backoff = Backoff()
        last_signature, last_run = None, 0.0
        while True:
            signature = files_signature(folder)
            now = time.monotonic()
            due_retry = any(now >= when for when in backoff.next_try.values())
            if signature != last_signature or now - last_run >= every_seconds or due_retry or once:
                day = as_of or dt.date.today()
                result = run_cycle(folder, day, url_base, extra_urls, backoff.due, send_seconds=send_seconds)
                for alert_id, target, _, _ in result.failed:
                    backoff.failed(alert_id, target)
                for alert_id, target, _ in result.sent:
                    backoff.succeeded(alert_id, target)
                _report(result, day, say)
                last_signature, last_run = signature, time.monotonic()
            if once:
                return result
            time.sleep(poll_seconds)
    finally:
        lock.release()


def _report(result: CycleResult, day: dt.date, say: Callable[[str], None]) -> None:
    for problem in result.problems:
        say(f"warning: {problem}")
    if result.held:
        say(f"{day.isoformat()}: levels not compared, nothing new recorded or sent: {result.held} (see: watchfloor "
            "validate); pending alerts are still delivered")
    if result.baseline:
        say(f"{day.isoformat()}: first look; levels recorded, nothing to send")
    if result.recorded:
        say(f"{day.isoformat()}: alert {result.recorded} recorded")
    for alert_id, _, label in result.sent:
        say(f"{day.isoformat()}: alert {alert_id} sent to {label}")
    for alert_id, _, label, error in result.failed:
        say(f"{day.isoformat()}: alert {alert_id} not delivered to {label}: {error}; it stays pending")


def parse_every(text: str) -> float:
    """Seconds from "90", "30s", "10m", "1h"."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text)
    except ValueError:
        raise WatchError(f'--every "{text}" is not a duration; write e.g. 30s, 10m or 1h') from None
    if not 1 <= seconds <= 7 * 86400:
        raise WatchError(f"--every {text} is out of range; give between 1s and 7 days (168h)")
    return seconds
