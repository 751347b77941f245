"""``watchfloor watch``: evaluate a watchlist whenever its files change, record every alert and its
transitions, and deliver each message through Apprise, at least once, whatever fails.

One round: load the files, evaluate as of the day, compare with the levels recorded on or before
that day (never a later one), decide what the round records (``alertrounds``: alerts raised, resolved,
silenced, reminded) and append it as one record, under the record's lock, before sending anything;
then send every pending message to every target that has not had it. A failed send stays pending: it
is retried on later rounds with backoff (1, 2, 4 ... minutes, at most an hour) and at once after a
restart. Killing the process at any point loses nothing: a message is on disk before it is sent, and
a delivery is recorded after it succeeded (a receiver may see a message twice; its id lets it drop
the repeat).
"""

from __future__ import annotations

import atexit
import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..engine.rules import evaluate_watchlist
from ..format.models import Alerts, apprise_rejects
from ..store.loader import LoadedWatchlist, files_signature, load_watchlist
from .alertmessages import alert_link, format_message
from .alertrounds import plan_round
from .alerts import (ALERTS_FOLDER, Target, append_locked, append_record, change_summary, changes_between,
                     ensure_record_folder, new_id, now_utc, record_lock, rows_since, state_of, target_list,
                     target_secret, unsalted_target_key)
from .alertstates import History, read_history, replay
from .sending import Sender
from .serving import _die_with_parent  # a send never outlives the watch that started it

DEFAULT_URL_BASE = "http://localhost:8501"
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 3600


class WatchError(Exception):
    """Watching cannot start or go on; the message says why in plain words."""


@dataclass
class CycleResult:
    baseline: bool = False
    baseline_before_record: bool = False  # the first look at a day earlier than anything recorded
    raised: list[dict] = field(default_factory=list)  # the alerts raised this round, as recorded
    transitions: list[dict] = field(default_factory=list)  # of earlier alerts, with "summary"
    reminded: list[tuple[str, int]] = field(default_factory=list)  # (alert id, reminder number)
    message: str | None = None  # the id of the message recorded this round
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (message id, target, target label)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)  # (message id, target, label, error)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)  # (message id, label): pending, not sent to here
    problems: list[str] = field(default_factory=list)
    held: str | None = None  # why levels were not compared this round (a feed could not be read completely)

    @property
    def pending(self) -> bool:
        """A message is still pending for a target (one of this run's, or one it no longer sends to)."""
        return bool(self.failed or self.elsewhere)



ALERTS_EXTRA_MISSING = ('sending needs the alerts extra (Apprise), which is not installed: pip install -c '
                        'constraints.txt -e ".[alerts]" in a checkout, or pip install "watchfloor[alerts]"')
DEFAULT_SEND_SECONDS = 30.0


_sender = Sender(_die_with_parent if sys.platform.startswith("linux") else None)
atexit.register(_sender.stop)


def _send(url: str, title: str, body: str, seconds: float = DEFAULT_SEND_SECONDS) -> str | None:
    """Send one message to one Apprise URL within ``seconds`` in all (starting, connecting, writing,
    reading the answer); None when it was accepted, else the reason. The send runs in a sender process
    (``sending.py``), kept for the next message, that is stopped at the deadline: a receiver that never
    answers, or trickles its answer byte by byte (each read well within any socket timeout), cannot keep
    ``watch`` or its lock past it."""
    try:
        import apprise  # noqa: F401
    except ImportError:
        return ALERTS_EXTRA_MISSING
    return _sender.send(url, title, body, seconds)


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


def shown_target(target: Target) -> str:
    """A target named without its secrets: where it came from, and its scheme."""
    scheme = target.url.split("://", 1)[0] + "://..." if "://" in target.url else target.url
    if target.origin.startswith("env:"):
        return f'an address in {target.origin} ("{scheme}")'
    return f'{target.origin} "{scheme}"'


def check_targets(targets: list[Target]) -> None:
    """Refuse to start (WatchError) when there is somewhere to send and Apprise is missing, or cannot
    parse an address: found now, not once an alert is due."""
    if not targets:
        return
    for target in targets:
        rejected = apprise_rejects(target.url)
        if rejected is None:
            raise WatchError(ALERTS_EXTRA_MISSING)
        if rejected:
            raise WatchError(f"{shown_target(target)} is not an address Apprise can send to (an unknown service, or "
                             "parts missing); see Apprise's list of services, e.g. mailto://, json://, slack://")


def run_cycle(folder: Path, as_of: dt.date, url_base: str, extra_urls: list[str],
              retry_due: Callable[[str, str], bool] = lambda message_id, target: True,
              today: dt.date | None = None, send_seconds: float = DEFAULT_SEND_SECONDS,
              now: dt.datetime | None = None, strict_targets: bool = False) -> CycleResult:
    """One evaluation and delivery round (see the module's description). ``strict_targets``: check
    every address first (the first round of a watch)."""
    result = CycleResult()
    loaded = load_watchlist(folder, today=today)
    if loaded.watchlist is None:
        raise WatchError(f"{folder}/watchlist.yaml cannot be used; see: watchfloor validate {folder}")
    rules = _alert_rules(loaded)
    targets, result.problems = target_list(rules, extra_urls, target_secret(folder))
    if strict_targets:
        check_targets(targets)
    statuses, overall = evaluate_watchlist(loaded.watchlist, loaded.observations, as_of)
    state = state_of(statuses, overall)
    moment = now or dt.datetime.now(dt.timezone.utc)
    incomplete = [summary for summary in loaded.feeds.values() if not summary.complete]
    with record_lock(folder):  # decided and appended as one: an acknowledgement cannot slip in between
        history = read_history(folder)
        result.problems += history.problems
        recorded_before, since = history.state_on_or_before(as_of)
        if incomplete:  # a fed indicator that drops out would move the index: no level is compared, nothing new sent
            result.held = "; ".join(_incompleteness(summary) for summary in incomplete)
        elif recorded_before is None:
            record = {"type": "baseline", "at": now_utc(), "as_of": as_of.isoformat(), "state": state}
            append_locked(folder, record)
            result.baseline, result.baseline_before_record = True, history.last_as_of is not None
        else:
            changes = changes_between(rules, recorded_before, state, statuses, overall)
            planned = plan_round(history, rules, as_of, state, changes, moment)
            if planned.empty and "scenarios" not in recorded_before:
                # levels recorded before scenarios were compared: record them once, to compare with from now on
                append_locked(folder, {"type": "baseline", "at": now_utc(), "as_of": as_of.isoformat(), "state": state})
            elif not planned.empty:
                record = {"type": "evaluation", "at": moment.replace(microsecond=0).isoformat(),
                          "as_of": as_of.isoformat(), "since": since.isoformat(), "state": state,
                          "alerts": planned.raised, "transitions": planned.transitions, "message": None}
                if planned.items:
                    record["message"] = _message(loaded, folder, planned.items, targets, url_base, as_of, since)
                append_locked(folder, record)  # on disk before any attempt to send it
                _note(result, history, record)
                replay(history, record)
    deliver_pending(folder, history, targets, retry_due, result, send_seconds)
    return result


def _message(loaded: LoadedWatchlist, folder: Path, items: list[dict], targets: list[Target], url_base: str,
             as_of: dt.date, since: dt.date) -> dict:
    observations, events = rows_since(loaded.observations, loaded.events, loaded.watchlist, since, as_of)
    keyed = {target.key: target.url for target in targets}
    return {"id": new_id("m", as_of), "watchlist": loaded.watchlist.title, "marking": loaded.watchlist.marking,
            "since": since.isoformat(), "observations": observations, "events": events,
            "items": [{**item, "view": alert_link(url_base, Path(folder).resolve().name, as_of, item["alert"])}
                      for item in items],
            "targets": list(keyed), "labels": _labels(keyed)}


def _note(result: CycleResult, history: History, record: dict) -> None:
    """What the round recorded, for the report."""
    result.raised = record["alerts"]
    for transition in record["transitions"]:
        alert = history.alerts[transition["alert"]]
        result.transitions.append({**transition, "summary": alert.summary()})
    if record["message"]:
        result.message = record["message"]["id"]
        result.reminded = [(item["alert"], item["number"]) for item in record["message"]["items"]
                           if item["kind"] == "reminder"]


def deliver_pending(folder: Path, history: History, targets: list[Target],
                    retry_due: Callable[[str, str], bool], result: CycleResult,
                    send_seconds: float = DEFAULT_SEND_SECONDS) -> None:
    """Send every pending message to every target of this run that has not had it; a message pending
    for a target this run does not send to is noted in ``result.elsewhere``."""
    urls = {target.key: target.url for target in targets}
    # messages recorded before the folder had its secret name their targets by an unsalted hash
    earlier_names = {unsalted_target_key(url): url for url in urls.values()}
    for message in history.pending_messages():
        title, body = format_message(message.record)
        for target in message.pending_targets():
            url = urls.get(target) or earlier_names.get(target)
            label = message.label(target)
            if url is None:
                result.elsewhere.append((message.id, label))  # stays pending, shown as such by `alerts`
                continue
            if not retry_due(message.id, target):
                continue
            error = _send(url, title, body, send_seconds)
            append_record(folder, {"type": "delivery", "id": message.id, "target": target, "ok": error is None,
                                   "at": now_utc(), **({"error": error} if error else {})})
            if error is None:
                message.delivered[target] = now_utc()
                result.sent.append((message.id, target, label))
            else:
                message.failures.setdefault(target, []).append({"error": error})
                result.failed.append((message.id, target, label, error))


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
    """Watch ``folder`` until stopped (or one round with ``once``). Only one watch per folder: a
    second one exits with WatchError, as does an address Apprise cannot parse (checked in the first
    round, before anything is recorded). Each send is given up after ``send_seconds``, so a hanging
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
        last_signature, last_run, first = None, 0.0, True
        while True:
            signature = files_signature(folder)
            now = time.monotonic()
            due_retry = any(now >= when for when in backoff.next_try.values())
            if signature != last_signature or now - last_run >= every_seconds or due_retry or once:
                day = as_of or dt.date.today()
                result = run_cycle(folder, day, url_base, extra_urls, backoff.due, send_seconds=send_seconds,
                                   strict_targets=first)
                first = False
                for message_id, target, _, _ in result.failed:
                    backoff.failed(message_id, target)
                for message_id, target, _ in result.sent:
                    backoff.succeeded(message_id, target)
                _report(result, day, say)
                last_signature, last_run = signature, time.monotonic()
            if once:
                return result
            time.sleep(poll_seconds)
    finally:
        lock.release()


def _report(result: CycleResult, day: dt.date, say: Callable[[str], None]) -> None:
    when = day.isoformat()
    for problem in result.problems:
        say(f"warning: {problem}")
    if result.held:
        say(f"{when}: levels not compared, nothing new recorded or sent: {result.held} (see: watchfloor "
            "validate); pending messages are still delivered")
    if result.baseline_before_record:
        say(f"{when}: first look at this day: nothing is recorded on or before it to compare with (the record "
            "starts later); levels recorded, nothing to send")
    elif result.baseline:
        say(f"{when}: first look; levels recorded, nothing to send")
    for alert in result.raised:
        words = f"{alert['state'].upper()}: {change_summary(alert)}"
        if alert["state"] == "silenced":
            words += f" (silence {alert['silence']}: recorded, not sent)"
        elif alert["state"] == "resolved":
            words += f" ({alert['reason']})"
        say(f"{when}: alert {alert['id']} {words}")
    for transition in result.transitions:
        detail = {"resolved": lambda t: f"RESOLVED: {t['summary']} is over: {t['reason']}",
                  "silenced": lambda t: f"SILENCED by silence {t['silence']}: {t['summary']}"}.get(
            transition["to"], lambda t: f"{t['to'].upper()} again, {t['reason']}: {t['summary']}")(transition)
        say(f"{when}: alert {transition['alert']} {detail}")
    for alert_id, number in result.reminded:
        say(f"{when}: alert {alert_id} not acknowledged: reminder {number}")
    for message_id, _, label in result.sent:
        say(f"{when}: message {message_id} sent to {label}")
    for message_id, _, label, error in result.failed:
        say(f"{when}: message {message_id} not delivered to {label}: {error}; it stays pending")
    for message_id, label in result.elsewhere:
        say(f"{when}: message {message_id} is pending for {label}, which this run does not send to (no longer in "
            "alerts.notify or --notify?); it stays pending")


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
