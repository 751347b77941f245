"""`watchfloor watch` and `alerts`: level changes reach real receivers on localhost (an SMTP server
and a JSON webhook), at least once and without flapping, whatever fails in between. The workflow of
states (acknowledge, silence, resolve, remind) is in test_alert_workflow.py."""

from __future__ import annotations

import email
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from browser import free_port
from helpers import REPO, indicator, shown, write_watchlist
from indicators.cli import app
from indicators.service.alertstates import read_history

MARKING = "TEST // NOT FOR RELEASE"


class Webhook:
    """A JSON webhook receiver on localhost (what Apprise's json:// posts to); it can be down."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[dict] = []
        self.server = None

    def start(self) -> Webhook:
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:  # started
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def ids(self) -> list[str]:
        """The message id of each message received."""
        return [message["message"].rsplit("Message id: ", 1)[1].split("\n", 1)[0] for message in self.received]

    def titles(self) -> list[str]:
        """Each subject without the watchlist's marking and title."""
        return [message["title"].split(": ", 1)[1] for message in self.received]


@contextmanager
def smtp_server():
    from aiosmtpd.controller import Controller

    class Mailbox:
        def __init__(self):
            self.messages: list[email.message.Message] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.messages.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield mailbox, (f"mailto://127.0.0.1:{controller.port}?from=watch@example.org&to=officer@example.org"
                        "&mode=insecure")
    finally:
        controller.stop()


def troops_watchlist(tmp_path: Path, rows: str = "2022-10-01,troops,5,MoD,,,,,,\n", **troops) -> Path:
    folder = write_watchlist(tmp_path / "w", [indicator(unit="troops", **troops)], rows, marking=MARKING,
                             alerts={"overall_at": "elevated", "indicators_at": "high",
                                     "notify": ["env:WATCHFLOOR_NOTIFY"]})
    return folder


def add_rows(folder: Path, rows: str) -> None:
    with open(folder / "observations.csv", "a", encoding="utf-8") as handle:
        handle.write(rows)


def watch_once(folder: Path, day: str, *urls: str, env: dict | None = None):
    arguments = ["watch", str(folder), "--once", "--as-of", day]
    for url in urls:
        arguments += ["--notify", url]
    return CliRunner().invoke(app, arguments, env=env or {"WATCHFLOOR_NOTIFY": ""})


def test_a_level_change_reaches_mail_and_webhook_with_the_marking_and_the_reasons(tmp_path):
    folder = troops_watchlist(tmp_path)
    hook = Webhook().start()
    try:
        with smtp_server() as (mailbox, mail_url):
            first = watch_once(folder, "2022-10-01", env={"WATCHFLOOR_NOTIFY": f"{mail_url} {hook.url}"})
            assert first.exit_code == 0, first.output
            assert "first look; levels recorded, nothing to send" in first.output
            assert (mailbox.messages, hook.received) == ([], [])
            add_rows(folder, "2022-10-02,troops,25,Reuters,,B,2,,,convoy seen\n")
            second = watch_once(folder, "2022-10-02", env={"WATCHFLOOR_NOTIFY": f"{mail_url} {hook.url}"})
            assert second.exit_code == 0, second.output
            assert len(mailbox.messages) == 1 and len(hook.received) == 1
            mail, posted = mailbox.messages[0], hook.received[0]
    finally:
        hook.stop()
    history = read_history(folder)
    overall, troops = history.alerts
    message = next(iter(history.messages))
    assert mail["Subject"] == f"[{MARKING}] Test watchlist: FIRING overall NORMAL -> HIGH (+1 more) [{overall}]"
    assert posted["title"] == mail["Subject"]
    body = posted["message"]
    assert body.splitlines() == [
        MARKING,
        "Test watchlist - as of 2022-10-02",
        f"FIRING {overall}: Overall level NORMAL -> HIGH (index 66.7)",
        "  because index 66.7 -> high",
        f"  View: http://localhost:8501/alerts?watchlist=w&as_of=2022-10-02&alert={overall}",
        f"FIRING {troops}: Troops NORMAL -> HIGH (25 troops, 2022-10-02, Reuters (B2))",
        f"  View: http://localhost:8501/alerts?watchlist=w&as_of=2022-10-02&alert={troops}",
        "New since 2022-10-01:",
        "  2022-10-02 Troops 25 - Reuters",
        f"Message id: {message}",
        MARKING,
    ]
    assert mail.get_payload(decode=True).decode("utf-8").strip().splitlines() == body.splitlines()


def test_no_message_when_nothing_changed(tmp_path):
    folder = troops_watchlist(tmp_path)
    hook = Webhook().start()
    try:
        for day in ("2022-10-01", "2022-10-02", "2022-10-03"):
            assert watch_once(folder, day, hook.url).exit_code == 0
        add_rows(folder, "2022-10-04,troops,6,MoD,,,,,,\n")  # a new row, still normal
        assert watch_once(folder, "2022-10-04", hook.url).exit_code == 0
    finally:
        hook.stop()
    assert hook.received == [] and read_history(folder).alerts == {}


def test_a_receiver_that_is_down_gets_the_alert_once_it_is_back_exactly_once(tmp_path):
    folder = troops_watchlist(tmp_path)
    hook = Webhook()  # not started: down
    assert watch_once(folder, "2022-10-01", hook.url).exit_code == 0
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    down = watch_once(folder, "2022-10-02", hook.url)
    assert down.exit_code == 1  # --once: a message is still pending
    assert "it stays pending" in down.output
    listed = json.loads(CliRunner().invoke(app, ["alerts", str(folder), "--json"]).stdout)
    assert [(entry["state"], entry["delivery"], entry["messages"][0]["targets"][0]["attempts"])
            for entry in listed] == [("firing", "pending", 1)] * 2
    assert listed[0]["messages"][0]["targets"][0]["last_error"]
    hook.start()
    try:
        back = watch_once(folder, "2022-10-02", hook.url)
        assert back.exit_code == 0, back.output
        again = watch_once(folder, "2022-10-03", hook.url)  # nothing new, nothing pending
        assert again.exit_code == 0
    finally:
        hook.stop()
    message_id = listed[0]["messages"][0]["id"]
    assert hook.ids() == [message_id]
    table = CliRunner().invoke(app, ["alerts", str(folder)]).stdout.splitlines()
    assert table[0] == f"2022-10-02  {listed[0]['id']}  FIRING        Overall level NORMAL -> HIGH"
    assert table[1].startswith(f"    {message_id} (firing) json://127.0.0.1:{hook.port}/hook: delivered ")
    assert table[2] == f"2022-10-02  {listed[1]['id']}  FIRING        Troops NORMAL -> HIGH"


@pytest.mark.slow
def test_a_flapping_indicator_with_a_hold_sends_one_message_not_one_per_cycle(tmp_path):
    days = [f"2022-10-{day:02d}" for day in range(1, 9)]
    rows = "".join(f"{day},troops,{25 if n % 2 else 5},MoD,,,,,,\n" for n, day in enumerate(days))  # 5, 25, 5 ...
    sent = {}
    for hold in (None, 3):
        folder = troops_watchlist(tmp_path / f"hold-{hold}", rows, **({"hold_days": hold} if hold else {}))
        hook = Webhook().start()
        try:
            for day in days:
                watch_once(folder, day, hook.url)
        finally:
            hook.stop()
        sent[hold] = [title.rsplit(" [", 1)[0] for title in hook.titles()]
    raised, resolved = "FIRING overall NORMAL -> HIGH (+1 more)", "RESOLVED overall, now NORMAL (+1 more)"
    assert sent[None] == [raised, resolved] * 3 + [raised]
    assert sent[3] == [raised]  # held high while it flaps


WATCH = [sys.executable, "-m", "indicators.cli", "watch"]


def test_killed_between_recording_and_sending_the_alert_is_delivered_after_a_restart(tmp_path):
    folder = troops_watchlist(tmp_path)
    assert watch_once(folder, "2022-10-01").exit_code == 0
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    # a receiver that accepts the connection and never answers: watch is caught sending
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    process = subprocess.Popen(WATCH + [str(folder), "--as-of", "2022-10-02", "--once", "--notify",
                                        f"json://127.0.0.1:{port}/hook"], cwd=REPO,
                               env={**os.environ, "WATCHFLOOR_NOTIFY": ""}, stdout=subprocess.DEVNULL)
    try:
        silent.settimeout(60)
        connection, _ = silent.accept()  # watch is sending now: the message must already be on disk
        recorded = list(read_history(folder).messages.values())
        assert len(recorded) == 1 and recorded[0].delivered == {}  # recorded, not yet sent
        assert [alert.state for alert in read_history(folder).alerts.values()] == ["firing", "firing"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        connection.close()
    finally:
        silent.close()
        if process.poll() is None:
            process.kill()
    hook = Webhook(port).start()  # the receiver is back on the same address
    try:
        restarted = watch_once(folder, "2022-10-02", hook.url)
        assert restarted.exit_code == 0, restarted.output
    finally:
        hook.stop()
    assert hook.ids() == [recorded[0].id]
    history = read_history(folder)
    assert [message.state for message in history.messages.values()] == ["delivered"]
    assert [(alert.state, history.delivery(alert)) for alert in history.alerts.values()] == [("firing", "delivered")] * 2


def test_a_second_watch_on_the_same_folder_refuses_to_run(tmp_path):
    folder = troops_watchlist(tmp_path)
    first = subprocess.Popen(WATCH + [str(folder), "--every", "1h"], cwd=REPO, stdout=subprocess.PIPE,
                             env={**os.environ, "WATCHFLOOR_NOTIFY": ""}, text=True)
    try:
        assert "first look" in first.stdout.readline() + first.stdout.readline()
        second = CliRunner().invoke(app, ["watch", str(folder), "--once"], env={"WATCHFLOOR_NOTIFY": ""})
        assert second.exit_code == 2
        assert second.stderr == (f"Error: another watchfloor watch is already running on {folder}; only one may send "
                                 "its alerts\n")
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)


def test_alert_settings_are_checked_like_the_rest_of_the_file(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "",
                             alerts={"overall_at": "hihg", "notify": ["env:WATCHFLOOR_NOTIFY", "not a url"]})
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.stdout.splitlines()[:2] == [
        f"{folder}/watchlist.yaml:3: alerts.overall_at: \"hihg\" is not valid: it must be 'elevated', 'high' or "
        "'critical'",
        f"{folder}/watchlist.yaml:4: alerts.notify: \"not a url\" is neither an Apprise URL (scheme://...) nor "
        "env:NAME"]


@pytest.mark.parametrize("every, message", [("soon", '--every "soon" is not a duration; write e.g. 30s, 10m or 1h'),
                                            ("0s", "--every 0s is out of range; give between 1s and 7 days (168h)")])
def test_watch_usage_errors_exit_2_with_the_reason(tmp_path, every, message):
    folder = troops_watchlist(tmp_path)
    result = CliRunner().invoke(app, ["watch", str(folder), "--every", every])
    assert result.exit_code == 2 and result.stderr == f"Error: {message}\n"


def test_the_alerts_page_lists_each_alert_with_its_delivery_state_and_marks_the_index(monkeypatch, tmp_path):
    from test_app import run_app

    folder = troops_watchlist(tmp_path)
    assert watch_once(folder, "2022-10-01").exit_code == 0
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    hook = Webhook()  # down: the alert stays pending
    watch_once(folder, "2022-10-02", hook.url)
    overall, troops = read_history(folder).alerts
    app = run_app(monkeypatch, root=folder, page="alerts", as_of="2022-10-02")
    assert alert_rows(app) == [["2022-10-02", troops, "FIRING", "Troops NORMAL -> HIGH", "", "pending"],
                               ["2022-10-02", overall, "FIRING", "Overall level NORMAL -> HIGH", "", "pending"]]
    assert [metric.value for metric in app.metric] == ["2", "0", "0", "0", "1"]
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)
    marks = next(trace for trace in chart["data"] if trace.get("name") == "alert")
    assert marks["x"][0].startswith("2022-10-02") and overall in marks["hovertext"][0]


def alert_rows(app) -> list[list[str]]:
    """The cells of the Alerts page's table of alerts, as text."""
    import re
    from html import unescape

    page = "\n".join(element.proto.body for element in app.get("html"))
    table = page[page.index('<table class="wf-alerts"><thead><tr><th>as of'):]
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    return [[unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body)]


# ---------------------------------------------------------------- a record cut by a crash, slow receivers, secrets


@pytest.mark.parametrize("cut", ["mid-line", "inside a character"])
def test_a_record_cut_by_a_crash_is_named_and_set_aside_and_the_alert_goes_out_once(monkeypatch, tmp_path, cut):
    folder = write_watchlist(tmp_path / "w", [indicator(name="Troops – Belarus", unit="troops")],
                             "2022-10-01,troops,5,MoD,,,,,,\n", marking=MARKING,
                             alerts={"overall_at": "elevated", "indicators_at": "high"})
    hook = Webhook()  # down while the first alert is recorded
    assert watch_once(folder, "2022-10-01", hook.url).exit_code == 0
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    watch_once(folder, "2022-10-02", hook.url)
    path = folder / ".watchfloor" / "alerts.jsonl"
    baseline, alert = path.read_bytes().split(b"\n")[:2]
    at = alert.index("–".encode()) + 1 if cut == "inside a character" else len(alert) // 2
    path.write_bytes(baseline + b"\n" + alert[:at])  # a crash while the alert was written: it was never sent
    hook.start()
    try:
        first = watch_once(folder, "2022-10-02", hook.url)
        second = watch_once(folder, "2022-10-03", hook.url)
    finally:
        hook.stop()
    warning = (f"warning: {path}:2: record: is not a whole record (cut short by a crash while it was written?); it "
               "is set aside, the other records still count")
    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert warning in first.output.splitlines() and warning in second.output.splitlines()
    assert len(hook.ids()) == 1  # recorded again once, sent once: not a new id every round
    assert path.read_bytes().startswith(baseline + b"\n" + alert[:at] + b"\n")  # the cut line stays as it was
    history = read_history(folder)
    assert list(history.messages) == hook.ids()
    listed = CliRunner().invoke(app, ["alerts", str(folder)])
    assert listed.exit_code == 0 and listed.stderr == warning + "\n"
    first = list(history.alerts)[0]
    assert listed.stdout.splitlines()[0] == f"2022-10-02  {first}  FIRING        Overall level NORMAL -> HIGH"
    assert f"    {hook.ids()[0]} (firing) json://127.0.0.1:{hook.port}/hook: delivered " in listed.stdout
    from test_app import run_app

    page = run_app(monkeypatch, root=folder, page="alerts", as_of="2022-10-03")
    assert [shown(item.value) for item in page.warning] == [warning.removeprefix("warning: ")]
    assert sorted(row[1] for row in alert_rows(page)) == sorted(history.alerts)


@contextmanager
def trickling_receiver(seconds: float = 90):
    """A receiver that accepts, reads the request and answers one byte every half second (for at most
    ``seconds``): each read returns before any socket timeout, so only a total deadline stops it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.recv(65536)
            deadline = time.monotonic() + seconds
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" * 100:
                    if stop.is_set() or time.monotonic() > deadline:
                        break
                    connection.send(bytes([byte]))
                    time.sleep(0.5)
            except OSError:
                pass
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.slow
def test_a_receiver_that_trickles_its_answer_is_given_up_at_the_deadline_and_the_lock_released(tmp_path):
    folder = troops_watchlist(tmp_path)
    assert watch_once(folder, "2022-10-01").exit_code == 0
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    with trickling_receiver() as port:
        url = f"json://127.0.0.1:{port}/hook"
        started = time.monotonic()
        process = subprocess.run(WATCH + [str(folder), "--once", "--as-of", "2022-10-02", "--notify", url,
                                          "--send-timeout", "2"], cwd=REPO, capture_output=True, text=True,
                                 env={**os.environ, "WATCHFLOOR_NOTIFY": ""}, timeout=120)
        elapsed = time.monotonic() - started
        message_id = next(iter(read_history(folder).messages))
        assert process.returncode == 1, process.stdout + process.stderr  # still pending
        assert (f"2022-10-02: message {message_id} not delivered to json://127.0.0.1:{port}/hook: no complete answer "
                "within 2 s (the receiver is down, too slow or hanging); given up for now; it stays pending"
                ) in process.stdout.splitlines()
        assert elapsed < 20  # start-up and evaluation, plus the 2 s: not the receiver's 90 s
        # the lock went with the process: the next round runs (and tries again)
        again = CliRunner().invoke(app, ["watch", str(folder), "--once", "--as-of", "2022-10-02", "--notify", url,
                                         "--send-timeout", "2"], env={"WATCHFLOOR_NOTIFY": ""})
    assert again.exit_code == 1 and "another watchfloor watch" not in again.output
    assert [message.state for message in read_history(folder).messages.values()] == ["pending"]


def test_one_sender_serves_message_after_message_and_a_new_one_follows_a_send_cut_off_at_its_deadline():
    """Apprise loads its plugins once per sender, not once per message; a send past its deadline stops
    the sender with it, and a sender that stopped between messages is started again: nothing is lost."""
    from indicators.service.sending import Sender

    sender, hook = Sender(), Webhook().start()
    try:
        assert sender.send(hook.url, "Watchfloor", "one", 30) is None
        first = sender.process.pid
        assert sender.send(hook.url, "Watchfloor", "two", 30) is None
        assert sender.process.pid == first  # the same sender: no new process, no plugins loaded again
        with trickling_receiver() as port:
            started = time.monotonic()
            error = sender.send(f"json://127.0.0.1:{port}/hook", "Watchfloor", "three", 2)
            assert time.monotonic() - started < 10
        assert error == ("no complete answer within 2 s (the receiver is down, too slow or hanging); "
                         "given up for now")
        assert sender.process is None  # stopped with its send
        assert sender.send(hook.url, "Watchfloor", "four", 30) is None
        second = sender.process.pid
        assert second != first
        os.kill(second, signal.SIGKILL)  # stopped between messages, by anyone
        sender.process.wait()
        assert sender.send(hook.url, "Watchfloor", "five", 30) is None
        assert sender.process.pid != second
        assert [message["message"] for message in hook.received] == ["one", "two", "four", "five"]
    finally:
        sender.stop()
        hook.stop()


def test_targets_are_named_by_a_hash_keyed_with_the_folders_secret(tmp_path):
    import hashlib
    import hmac

    folder = troops_watchlist(tmp_path)
    hook = Webhook().start()
    url = f"json://watch:hunter2@127.0.0.1:{hook.port}/hook"
    try:
        assert watch_once(folder, "2022-10-01", url).exit_code == 0
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        assert watch_once(folder, "2022-10-02", url).exit_code == 0
    finally:
        hook.stop()
    record = next(iter(read_history(folder).messages.values())).record
    target = record["targets"][0]
    guesses = [url.replace("hunter2", word) for word in ("123456", "password", "hunter2", "letmein", "")]
    assert target not in {hashlib.sha256(guess.encode()).hexdigest()[:16] for guess in guesses}  # guessing fails
    secret_file = folder / ".watchfloor" / "target-key"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert target == hmac.new(secret_file.read_bytes().strip(), url.encode(), hashlib.sha256).hexdigest()[:16]
    assert "hunter2" not in (folder / ".watchfloor" / "alerts.jsonl").read_text(encoding="utf-8")
    assert (folder / ".watchfloor" / ".gitignore").read_text() == "*\n"  # record, lock and secret stay out of git
    other = troops_watchlist(tmp_path / "other")
    assert watch_once(other, "2022-10-01", url).exit_code == 0
    assert (other / ".watchfloor" / "target-key").read_bytes() != secret_file.read_bytes()


def test_an_alert_recorded_before_targets_were_salted_is_still_delivered(tmp_path):
    from indicators.service.alerts import append_record, unsalted_target_key

    folder = troops_watchlist(tmp_path)
    assert watch_once(folder, "2022-10-01").exit_code == 0
    hook = Webhook().start()
    state, _ = read_history(folder).state_on_or_before(date(2022, 10, 1))
    append_record(folder, {"type": "alert", "id": "wf-20221002-0000abcd", "created": "2022-10-02T00:00:00+00:00",
                           "as_of": "2022-10-02", "watchlist": "Test watchlist", "marking": MARKING,
                           "changes": [], "url": "http://localhost:8501/", "state": state,
                           "targets": [unsalted_target_key(hook.url)], "labels": {}})
    try:
        assert watch_once(folder, "2022-10-02", hook.url).exit_code == 0
    finally:
        hook.stop()
    assert hook.ids() == ["wf-20221002-0000abcd"]


def test_without_the_alerts_extra_watch_names_the_install_command_before_recording_anything(tmp_path):
    folder = troops_watchlist(tmp_path)
    assert watch_once(folder, "2022-10-01").exit_code == 0
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    before = (folder / ".watchfloor" / "alerts.jsonl").read_bytes()
    # a real process whose Apprise cannot be imported, as in an installation without the extra
    missing = tmp_path / "no-apprise" / "apprise"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'apprise'\", name='apprise')\n")
    result = subprocess.run(WATCH + [str(folder), "--once", "--as-of", "2022-10-02", "--notify",
                                     "json://127.0.0.1:9/hook"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "WATCHFLOOR_NOTIFY": "", "PYTHONPATH": str(missing.parent)}, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ('Error: sending needs the alerts extra (Apprise), which is not installed: pip install -c '
                             'constraints.txt -e ".[alerts]" in a checkout, or pip install "watchfloor[alerts]"\n')
    assert (folder / ".watchfloor" / "alerts.jsonl").read_bytes() == before  # nothing recorded, nothing lost


def test_a_feed_that_cannot_be_read_holds_the_comparison_and_sends_no_false_alert(tmp_path):
    import gzip

    tallies = {"id": "tallies", "name": "Tallies", "category": "Fed", "aggregate": "count", "window_days": 30,
               "thresholds": {"elevated": 5}, "feed": {"name": "tally"}}
    folder = write_watchlist(tmp_path / "w", [indicator(unit="troops"), tallies], "2022-10-01,troops,15,MoD,,,,,,\n",
                             marking=MARKING, alerts={"overall_at": "elevated"},
                             feeds={"tally": {"format": "csv", "path": "feeds/*.csv.gz", "columns": {"date": "day"}}})
    export = folder / "feeds" / "tally.csv.gz"
    export.parent.mkdir()
    good = gzip.compress(b"day,note\n2022-10-01,one report\n")
    export.write_bytes(good)  # troops ELEVATED, tallies NORMAL: index 16.7, NORMAL
    hook = Webhook().start()
    try:
        assert watch_once(folder, "2022-10-02", hook.url).exit_code == 0
        export.write_bytes(good[:-12])  # a download cut short: were tallies to drop out, the index would be 33.3
        cut = watch_once(folder, "2022-10-03", hook.url)
        export.unlink()  # the export folder is gone
        gone = watch_once(folder, "2022-10-04", hook.url)
        export.write_bytes(good)
        back = watch_once(folder, "2022-10-05", hook.url)
    finally:
        hook.stop()
    assert (cut.exit_code, gone.exit_code, back.exit_code) == (1, 1, 0)
    assert cut.output.splitlines()[-1] == (
        "2022-10-03: levels not compared, nothing new recorded or sent: feed tally has 1 file that cannot be read "
        "(feeds/tally.csv.gz) (see: watchfloor validate); pending messages are still delivered")
    assert gone.output.splitlines()[-1] == (
        '2022-10-04: levels not compared, nothing new recorded or sent: feed tally cannot be read (its path '
        '"feeds/*.csv.gz" matches no file) (see: watchfloor validate); pending messages are still delivered')
    assert hook.received == [] and read_history(folder).alerts == {}
