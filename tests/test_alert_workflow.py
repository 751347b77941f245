"""Alerts as a workflow: FIRING, ACKNOWLEDGED, SILENCED, RESOLVED; reminders; replays that send nothing
false; `--once` exit codes. Every message goes to a real JSON webhook on localhost; every transition
is an appended line of `.watchfloor/alerts.jsonl`."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from browser import require_chromium
from helpers import indicator, shown, write_watchlist
from indicators.cli import app
from indicators.service.alertstates import read_history
from test_alerts import MARKING, Webhook, add_rows, alert_rows, watch_once

RECORD = Path(".watchfloor") / "alerts.jsonl"


def overall_watchlist(tmp_path: Path, **alerts) -> Path:
    """Troops alone, alerts on the overall level only (5 troops: NORMAL, 25: HIGH)."""
    return write_watchlist(tmp_path / "w", [indicator(unit="troops")], "2022-10-01,troops,5,MoD,,,,,,\n",
                           marking=MARKING, alerts={"overall_at": "elevated", **alerts})


def cli(*arguments: str):
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def record_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / RECORD).read_text(encoding="utf-8").splitlines()]


def hours_pass(folder: Path, hours: float) -> None:
    """As if every recorded moment (raised, sent, acknowledged) lay ``hours`` further back: the clock
    of the reminders, without waiting for it."""
    def earlier(value):
        if isinstance(value, dict):
            return {key: earlier(item) if key not in ("as_of", "until") else item for key, item in value.items()}
        if isinstance(value, list):
            return [earlier(item) for item in value]
        if isinstance(value, str) and len(value) == 25 and value[10] == "T":
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            return (moment - dt.timedelta(hours=hours)).isoformat()
        return value
    path = folder / RECORD
    path.write_text("".join(json.dumps(earlier(line)) + "\n" for line in record_lines(folder)), encoding="utf-8")


def test_a_reminder_goes_out_until_the_alert_is_acknowledged(tmp_path):
    folder = overall_watchlist(tmp_path, remind_every_hours=6)
    hook = Webhook().start()
    try:
        watch_once(folder, "2022-10-01", hook.url)
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        assert watch_once(folder, "2022-10-02", hook.url).exit_code == 0
        alert_id = next(iter(read_history(folder).alerts))
        hours_pass(folder, 5.9)
        assert watch_once(folder, "2022-10-02", hook.url).output == ""  # too early for a reminder
        hours_pass(folder, 0.2)
        reminded = watch_once(folder, "2022-10-02", hook.url)
        assert f"2022-10-02: alert {alert_id} not acknowledged: reminder 1" in reminded.output.splitlines()
        acked = cli("alerts", folder, "--ack", alert_id, "--comment", "seen; asking the attaché", "--by",
                    "ana@example.org")
        assert acked.exit_code == 0, acked.output
        assert acked.stdout == (f"alert {alert_id} acknowledged by ana@example.org: Overall level NORMAL -> HIGH; it "
                                "is no longer reminded\n")
        hours_pass(folder, 7)
        assert watch_once(folder, "2022-10-02", hook.url).output == ""  # acknowledged: no reminder 2
    finally:
        hook.stop()
    assert [title.rsplit(" [", 1)[0] for title in hook.titles()] == [
        "FIRING overall NORMAL -> HIGH", "reminder 1: FIRING overall NORMAL -> HIGH, not acknowledged"]
    assert hook.received[1]["message"].splitlines()[2].startswith(
        f"FIRING {alert_id}: Overall level NORMAL -> HIGH, reminder 1: not acknowledged since 20")
    table = cli("alerts", folder).stdout.splitlines()
    assert table[0] == f"2022-10-02  {alert_id}  ACKNOWLEDGED  Overall level NORMAL -> HIGH"
    assert table[1].startswith("    acknowledged 20") and table[1].endswith(
        " by ana@example.org: seen; asking the attaché")
    again = cli("alerts", folder, "--ack", alert_id, "--comment", "me too", "--by", "bo@example.org")
    assert again.exit_code == 1 and again.stderr.startswith(
        f"Error: alert {alert_id} was already acknowledged by ana@example.org at 20")
    unknown = cli("alerts", folder, "--ack", "wf-20221002-00000000", "--comment", "x")
    assert unknown.exit_code == 2 and unknown.stderr == (
        f'Error: no alert "wf-20221002-00000000" in {folder}/.watchfloor/alerts.jsonl; open alerts: {alert_id} (see: '
        f"watchfloor alerts {folder})\n")
    assert cli("alerts", folder, "--ack", alert_id).exit_code == 2  # a comment is required


def test_a_silence_records_but_does_not_send_and_its_end_sends_once(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator(unit="troops")], "2022-10-01,troops,5,MoD,,,,,,\n",
                             marking=MARKING, alerts={"overall_at": "critical", "indicators_at": "high"})
    hook = Webhook().start()
    until = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    try:
        watch_once(folder, "2022-10-01", hook.url)
        made = cli("silence", folder, "--indicator", "troops", "--until", until, "--comment", "exercise Zapad, known",
                   "--by", "ana@example.org")
        assert made.exit_code == 0, made.output
        silence_id = made.stdout.split()[1].rstrip(":")
        assert made.stdout == (f"silence {silence_id}: alerts on Troops are recorded but not sent through {until} "
                               f"(expire it early with: watchfloor silence {folder} --expire {silence_id})\n")
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        silenced = watch_once(folder, "2022-10-02", hook.url)
        alert_id = next(iter(read_history(folder).alerts))
        assert silenced.exit_code == 0 and silenced.output.splitlines() == [
            f"2022-10-02: alert {alert_id} SILENCED: Troops NORMAL -> HIGH (silence {silence_id}: recorded, not sent)"]
        assert watch_once(folder, "2022-10-03", hook.url).output == ""
        assert hook.received == []  # recorded, not sent
        listed = cli("silence", folder, "--list").stdout.splitlines()
        assert listed == [f"{silence_id}  ACTIVE   Troops through {until}  (by ana@example.org at "
                          f"{read_history(folder).silences[silence_id].at}: exercise Zapad, known)"]
        assert cli("silence", folder, "--expire", silence_id, "--by", "bo@example.org").exit_code == 0
        ended = watch_once(folder, "2022-10-04", hook.url)
        assert f"2022-10-04: alert {alert_id} FIRING again, silence {silence_id} ended: Troops NORMAL -> HIGH" \
            in ended.output.splitlines()
        watch_once(folder, "2022-10-05", hook.url)  # once, not every round
    finally:
        hook.stop()
    assert hook.titles() == [f"silence ended: FIRING Troops NORMAL -> HIGH, still HIGH [{alert_id}]"]
    assert hook.received[0]["message"].splitlines()[2] == (
        f'FIRING {alert_id}: Troops NORMAL -> HIGH: silence {silence_id} (through {until}: "exercise Zapad, known") '
        "ended and it still holds: now HIGH")
    history = read_history(folder).alerts[alert_id].history
    assert [step["event"] for step in history] == ["raised", "silence ended", "message"]
    again = cli("silence", folder, "--expire", silence_id)
    assert again.exit_code == 1 and "was already expired at" in again.stderr


def test_a_silence_that_runs_out_with_the_alert_still_on_sends_once(tmp_path):
    from indicators.service.watching import run_cycle

    folder = write_watchlist(tmp_path / "w", [indicator(unit="troops")], "2022-10-01,troops,5,MoD,,,,,,\n",
                             alerts={"overall_at": "critical", "indicators_at": "high"})
    today = dt.date.today()
    hook = Webhook().start()
    try:
        run_cycle(folder, dt.date(2022, 10, 1), "http://localhost:8501", [hook.url])
        assert cli("silence", folder, "--indicator", "troops", "--until", today, "--comment", "noisy").exit_code == 0
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        run_cycle(folder, dt.date(2022, 10, 2), "http://localhost:8501", [hook.url])
        assert hook.received == []
        after = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(9)).astimezone(dt.timezone.utc)
        for _ in range(2):
            run_cycle(folder, dt.date(2022, 10, 2), "http://localhost:8501", [hook.url], now=after)
    finally:
        hook.stop()
    assert [title.split(" [")[0] for title in hook.titles()] == ["silence ended: FIRING Troops NORMAL -> HIGH, still HIGH"]


def test_a_level_falling_back_resolves_its_alerts_in_one_message_marked_resolved(tmp_path):
    folder = overall_watchlist(tmp_path)
    hook = Webhook().start()
    try:
        watch_once(folder, "2022-10-01", hook.url)
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        watch_once(folder, "2022-10-02", hook.url)
        add_rows(folder, "2022-10-04,troops,35,Reuters,,,,,,\n")  # CRITICAL: a second alert, the first still holds
        watch_once(folder, "2022-10-04", hook.url)
        add_rows(folder, "2022-10-06,troops,4,MoD,,,,,,\n")
        resolved = watch_once(folder, "2022-10-06", hook.url)
    finally:
        hook.stop()
    high, critical = read_history(folder).alerts
    assert resolved.exit_code == 0 and resolved.output.splitlines()[:2] == [
        f"2022-10-06: alert {high} RESOLVED: Overall level NORMAL -> HIGH is over: now NORMAL, below ELEVATED",
        f"2022-10-06: alert {critical} RESOLVED: Overall level HIGH -> CRITICAL is over: now NORMAL, below ELEVATED"]
    assert hook.titles()[2] == f"RESOLVED overall, now NORMAL (+1 more) [{high}]"
    assert hook.received[2]["message"].splitlines()[1:8] == [
        "Test watchlist - as of 2022-10-06",
        f"RESOLVED {high}: Overall level NORMAL -> HIGH (raised as of 2022-10-02) is over: now NORMAL, below ELEVATED",
        "  because index 0.0 -> normal",
        f"  View: http://localhost:8501/alerts?watchlist=w&as_of=2022-10-06&alert={high}",
        f"RESOLVED {critical}: Overall level HIGH -> CRITICAL (raised as of 2022-10-04) is over: now NORMAL, below "
        "ELEVATED",
        "  because index 0.0 -> normal",
        f"  View: http://localhost:8501/alerts?watchlist=w&as_of=2022-10-06&alert={critical}"]
    refused = cli("alerts", folder, "--ack", high, "--comment", "late")
    assert refused.exit_code == 1 and "was resolved at" in refused.stderr and "nothing to acknowledge" in refused.stderr


def test_replaying_an_earlier_day_compares_with_what_was_recorded_then_and_sends_nothing_false(tmp_path):
    folder = overall_watchlist(tmp_path)
    add_rows(folder, "2022-10-10,troops,25,Reuters,,,,,,\n")
    hook = Webhook().start()
    try:
        watch_once(folder, "2022-10-01", hook.url)
        assert watch_once(folder, "2022-10-10", hook.url).exit_code == 0  # the normal run: HIGH, one alert
        replays = [watch_once(folder, day, hook.url) for day in ("2022-10-05", "2022-10-06")]
        alone = overall_watchlist(tmp_path / "alone")  # a record that starts today: the past is a first look
        add_rows(alone, "2022-10-10,troops,25,Reuters,,,,,,\n")
        watch_once(alone, "2022-10-10", hook.url)
        first_look = watch_once(alone, "2022-09-20", hook.url)
        after = watch_once(alone, "2022-09-21", hook.url)
    finally:
        hook.stop()
    assert [result.output for result in replays] == ["", ""]  # NORMAL as recorded on 2022-10-01: no change
    assert [title.rsplit(" [", 1)[0] for title in hook.titles()] == ["FIRING overall NORMAL -> HIGH"]
    assert [alert.state for alert in read_history(folder).alerts.values()] == ["firing"]  # not resolved by the past
    assert first_look.output == ("2022-09-20: first look at this day: nothing is recorded on or before it to compare "
                                 "with (the record starts later); levels recorded, nothing to send\n")
    assert after.output == "" and read_history(alone).alerts == {}


def test_once_exits_0_when_all_is_sent_1_while_anything_is_pending_anywhere_2_for_a_bad_address(tmp_path):
    folder = overall_watchlist(tmp_path, notify=["env:WATCHFLOOR_NOTIFY"])  # unset: a warning, no target
    hook, gone = Webhook().start(), Webhook()
    try:
        assert watch_once(folder, "2022-10-01", hook.url, gone.url).exit_code == 0
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        assert watch_once(folder, "2022-10-02", hook.url, gone.url).exit_code == 1  # not delivered to `gone`
        elsewhere = watch_once(folder, "2022-10-03", hook.url)  # `gone` is not given: still pending for it
        message_id = hook.ids()[0]
        assert elsewhere.exit_code == 1 and elsewhere.output.splitlines()[1:] == [
            f"2022-10-03: message {message_id} is pending for json://127.0.0.1:{gone.port}/hook, which this run does "
            "not send to (no longer in alerts.notify or --notify?); it stays pending"]
        gone.start()
        assert watch_once(folder, "2022-10-03", hook.url, gone.url).exit_code == 0
        assert watch_once(folder, "2022-10-04", hook.url).exit_code == 0
        record = (folder / RECORD).read_bytes()
        for urls, env, said in (
                (["notaurl"], "", '--notify "notaurl" is not an address'),
                ([], "json://ok.example.org/hook, nosuch://token@host", 'an address in env:WATCHFLOOR_NOTIFY '
                                                                       '("nosuch://...") is not an address')):
            bad = CliRunner().invoke(app, ["watch", str(folder), "--once", "--as-of", "2022-10-05"]
                                     + [part for url in urls for part in ("--notify", url)],
                                     env={"WATCHFLOOR_NOTIFY": env})
            assert bad.exit_code == 2, bad.output
            assert bad.stderr == (
                f"Error: {said} Apprise can send to (an unknown service, or parts missing); see Apprise's list of "
                "services, e.g. mailto://, json://, slack://\n")
        assert (folder / RECORD).read_bytes() == record  # refused at start: nothing recorded or sent
    finally:
        hook.stop()
        gone.stop()
    assert hook.ids() == gone.ids() == [message_id]


def test_validate_names_an_address_apprise_cannot_parse(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], "", alerts={"notify": ["nosuch://token@host"]})
    result = cli("validate", folder)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f'{folder}/watchlist.yaml:3: alerts.notify: "nosuch://..." is not an address Apprise can send to (an unknown '
        "service, or parts missing); see Apprise's list of services")


def test_a_scenario_raises_its_own_alert_named_by_its_name(tmp_path):
    scenario = {"id": "offensive", "name": "Offensive from the north", "signs": [{"indicator": "troops", "at": "high"}]}
    folder = write_watchlist(tmp_path / "w", [indicator(unit="troops")], "2022-10-01,troops,5,MoD,,,,,,\n",
                             scenarios=[scenario], alerts={"overall_at": "critical", "scenarios_at": "elevated"})
    hook = Webhook().start()
    try:
        watch_once(folder, "2022-10-01", hook.url)
        add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
        watch_once(folder, "2022-10-02", hook.url)
    finally:
        hook.stop()
    (alert_id, alert), = read_history(folder).alerts.items()
    assert alert.subject == "scenario:offensive"
    assert hook.titles() == [f"FIRING Offensive from the north NORMAL -> ELEVATED [{alert_id}]"]
    assert hook.received[0]["message"].splitlines()[1:3] == [
        f"FIRING {alert_id}: Offensive from the north NORMAL -> ELEVATED",
        "  because Offensive from the north is elevated: 1 of 1 sign seen"]


def test_every_transition_is_appended_and_earlier_lines_stay_byte_for_byte(tmp_path):
    folder = overall_watchlist(tmp_path)
    watch_once(folder, "2022-10-01")
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    watch_once(folder, "2022-10-02")
    alert_id = next(iter(read_history(folder).alerts))
    before = (folder / RECORD).read_bytes()
    cli("alerts", folder, "--ack", alert_id, "--comment", "seen", "--by", "ana@example.org")
    cli("silence", folder, "--overall", "--until", dt.date.today(), "--comment", "drill", "--by", "ana@example.org")
    add_rows(folder, "2022-10-03,troops,4,MoD,,,,,,\n")
    watch_once(folder, "2022-10-03")
    after = (folder / RECORD).read_bytes()
    assert after.startswith(before)
    assert [line["type"] for line in record_lines(folder)] == ["baseline", "evaluation", "ack", "silence", "evaluation"]
    steps = [(step["event"], step.get("by")) for step in read_history(folder).alerts[alert_id].history]
    # resolved while the silence holds: recorded, and not sent
    assert steps == [("raised", None), ("message", None), ("acknowledged", "ana@example.org"), ("resolved", None)]
    assert len(read_history(folder).messages) == 1
    assert json.loads(cli("alerts", folder, "--json").stdout)[0]["state"] == "resolved"


# ---------------------------------------------------------------- the Alerts page


def raised_alert(tmp_path: Path, **access) -> tuple[Path, str]:
    folder = overall_watchlist(tmp_path)
    if access:
        text = (folder / "watchlist.yaml").read_text(encoding="utf-8")
        (folder / "watchlist.yaml").write_text(text + f"access: {json.dumps(access)}\n", encoding="utf-8")
    watch_once(folder, "2022-10-01")
    add_rows(folder, "2022-10-02,troops,25,Reuters,,,,,,\n")
    watch_once(folder, "2022-10-02")
    return folder, next(iter(read_history(folder).alerts))


def test_the_alerts_page_opens_the_alert_of_a_link_and_an_editor_acknowledges_it(monkeypatch, tmp_path):
    from helpers import run_app

    folder, alert_id = raised_alert(tmp_path)
    page = run_app(monkeypatch, root=folder, watchlist="w", as_of="2022-10-02", alert=alert_id, page="alerts")
    assert page.selectbox(key="alert_opened").value == alert_id
    page.text_input(key="ack_comment").input("seen on the Alerts page")
    page.button(key="acknowledge").click().run()
    assert not page.exception
    acknowledged = read_history(folder).alerts[alert_id].acknowledged
    assert acknowledged["comment"] == "seen on the Alerts page"
    assert alert_rows(page)[0][2:4] == ["ACKNOWLEDGED", "Overall level NORMAL -> HIGH"]
    assert page.query_params["alert"] == alert_id  # the URL keeps the alert opened


def _viewer_acknowledges() -> None:
    """An app script run in a viewer's session that calls the page's Acknowledge path directly, as a
    replayed widget action would: the server must refuse it."""
    from pathlib import Path

    import streamlit as st

    from dashboard import alerts_page, auth

    st.session_state[auth.VISITOR_KEY] = auth.Visitor("vic@example.org", "viewer", True)
    alerts_page.acknowledge_from_page(Path(st.session_state["folder"]), st.session_state["alert"], "not mine to ack")


def test_a_viewers_acknowledgement_is_refused_on_the_server(tmp_path):
    from streamlit.testing.v1 import AppTest

    folder, alert_id = raised_alert(tmp_path)
    before = (folder / RECORD).read_bytes()
    script = AppTest.from_function(_viewer_acknowledges)
    script.session_state["folder"], script.session_state["alert"] = str(folder), alert_id
    script.run()
    assert not script.exception
    assert shown(script.error[0].value).startswith("vic@example.org may view this watchlist but not change it")
    assert (folder / RECORD).read_bytes() == before


def test_a_viewer_sees_the_states_and_no_button(monkeypatch, tmp_path):
    from helpers import run_app

    monkeypatch.setattr("dashboard.auth.identify", lambda access, folder, settings=None: _as_viewer())
    folder, alert_id = raised_alert(tmp_path)
    page = run_app(monkeypatch, root=folder, as_of="2022-10-02", alert=alert_id, page="alerts")
    assert alert_rows(page)[0][1:3] == [alert_id, "FIRING"]
    assert not [button for button in page.button if button.key in ("acknowledge", "add_silence")]
    assert any("needs the editor role" in caption.value for caption in page.caption)


def _as_viewer():
    import streamlit as st

    from dashboard import auth

    visitor = auth.Visitor("vic@example.org", "viewer", True)
    st.session_state[auth.VISITOR_KEY] = visitor
    return visitor


def alerts_in_every_state(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A watchlist whose record holds an alert in each state: {state: alert id}."""
    names = {"troops": "Russian troops in Belarus", "rail": "Rail traffic to the border", "drills": "Snap drills"}
    folder = write_watchlist(tmp_path / "w", [indicator(item, name=name) for item, name in names.items()],
                             "".join(f"2022-10-01,{item},5,MoD,,,,,,\n" for item in names), marking=MARKING,
                             alerts={"overall_at": "critical", "indicators_at": "high"})
    watch_once(folder, "2022-10-01")
    add_rows(folder, "".join(f"2022-10-02,{item},25,Reuters,,B,2,,,\n" for item in names))
    watch_once(folder, "2022-10-02")
    ids = {read_history(folder).alerts[alert].subject.split(":")[1]: alert for alert in read_history(folder).alerts}
    cli("alerts", folder, "--ack", ids["rail"], "--comment", "liaison officer confirms", "--by", "ana@example.org")
    cli("silence", folder, "--indicator", "drills", "--until", dt.date.today() + dt.timedelta(days=3), "--comment",
        "announced exercise", "--by", "ana@example.org")
    add_rows(folder, "2022-10-04,troops,5,MoD,,,,,,\n2022-10-04,troops,4,MoD,,,,,,\n")
    add_rows(folder, "2022-10-05,troops,26,Reuters,,B,2,,,\n")
    watch_once(folder, "2022-10-04")
    watch_once(folder, "2022-10-05")
    states = {alert.state: alert.id for alert in read_history(folder).alerts.values()}
    return folder, states


@pytest.mark.browser
def test_the_alerts_page_in_a_browser_opens_a_messages_link_and_acknowledges(tmp_path):
    from browser import chromium_page, served_dashboard, wait_for_app

    require_chromium()
    folder, states = alerts_in_every_state(tmp_path)
    assert sorted(states) == ["acknowledged", "firing", "resolved", "silenced"]
    with served_dashboard(folder) as url, chromium_page() as page:
        page.goto(f"{url}/alerts?watchlist=w&as_of=2022-10-05&alert={states['firing']}")
        wait_for_app(page)
        page.wait_for_selector("text=Open an alert", timeout=60000)
        main = page.inner_text("[data-testid='stMain']")
        for word in ("FIRING", "ACKNOWLEDGED", "SILENCED", "RESOLVED"):
            assert word in main
        page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
        page.get_by_label("Comment (what you saw, or what you are doing about it)").fill("on the phone with Kyiv")
        page.keyboard.press("Tab")
        page.get_by_role("button", name="Acknowledge").click()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and read_history(folder).alerts[states["firing"]].acknowledged is None:
            time.sleep(0.2)
    assert read_history(folder).alerts[states["firing"]].acknowledged["comment"] == "on the phone with Kyiv"


def test_an_acknowledgement_waits_for_the_records_lock_and_records_nothing_without_it(tmp_path, monkeypatch):
    from filelock import FileLock

    folder, alert_id = raised_alert(tmp_path)
    monkeypatch.setattr("indicators.store.writing.LOCK_TIMEOUT_SECONDS", 1)
    before = (folder / RECORD).read_bytes()
    with FileLock(str(folder / ".watchfloor" / ".alerts.jsonl.lock")):  # another writer holds the record
        held = cli("alerts", folder, "--ack", alert_id, "--comment", "seen")
    assert held.exit_code == 1 and held.stderr == ("Error: another program is writing the alert record; nothing was "
                                                   "recorded, try again\n")
    assert (folder / RECORD).read_bytes() == before
    assert cli("alerts", folder, "--ack", alert_id, "--comment", "seen").exit_code == 0  # once it is free


def test_alerts_recorded_before_they_had_states_are_listed_and_resolved(tmp_path):
    scenario = {"id": "offensive", "name": "Offensive from the north", "signs": [{"indicator": "troops", "at": "high"}]}
    folder = write_watchlist(tmp_path / "w", [indicator(unit="troops")],
                             "2022-10-01,troops,5,MoD,,,,,,\n2022-10-02,troops,25,Reuters,,,,,,\n", scenarios=[scenario],
                             alerts={"overall_at": "elevated", "indicators_at": "high", "scenarios_at": "elevated"})
    (folder / ".watchfloor").mkdir()
    earlier = [{"type": "baseline", "at": "2022-10-01T06:00:00+00:00", "as_of": "2022-10-01",
                "state": {"overall": "normal", "indicators": {"troops": "normal"}}},
               {"type": "alert", "id": "wf-20221002-0000abcd", "created": "2022-10-02T06:00:00+00:00",
                "as_of": "2022-10-02", "watchlist": "Test watchlist", "marking": "", "url": "http://localhost:8501/",
                "changes": [{"what": "overall", "name": "Overall level", "from": "normal", "to": "high"},
                            {"what": "troops", "name": "Troops", "from": "normal", "to": "high"}],
                "state": {"overall": "high", "indicators": {"troops": "high"}}, "targets": [], "labels": {}}]
    (folder / RECORD).write_text("".join(json.dumps(line) + "\n" for line in earlier), encoding="utf-8")
    listed = json.loads(cli("alerts", folder, "--json").stdout)
    assert [(entry["id"], entry["subject"], entry["state"]) for entry in listed] == [
        ("wf-20221002-0000abcd-1", "overall", "firing"), ("wf-20221002-0000abcd-2", "indicator:troops", "firing")]
    assert watch_once(folder, "2022-10-02").output == ""  # the scenario, ELEVATED, is no change: first compared now
    add_rows(folder, "2022-10-03,troops,4,MoD,,,,,,\n")
    resolved = watch_once(folder, "2022-10-03").output.splitlines()
    assert resolved[0].endswith("RESOLVED: Offensive from the north ELEVATED -> NORMAL (now NORMAL, below ELEVATED; "
                                "no alert was open (the rise came before this record began))")
    assert resolved[1:] == [
        "2022-10-03: alert wf-20221002-0000abcd-1 RESOLVED: Overall level NORMAL -> HIGH is over: now NORMAL, below "
        "ELEVATED",
        "2022-10-03: alert wf-20221002-0000abcd-2 RESOLVED: Troops NORMAL -> HIGH is over: now NORMAL, below HIGH"]
