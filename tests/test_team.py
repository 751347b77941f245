"""Team use: sign-in through a real OpenID Connect provider on localhost (oidc-provider-mock), roles
from watchlist.yaml, who entered every row, and a dashboard that never listens beyond this machine
without sign-in unless told to."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from browser import chromium_browser, free_port, open_from_sidebar, require_chromium, served_dashboard, wait_for_app
from helpers import APP, FIXED_TODAY, REPO, indicator, shown, write_watchlist
from indicators.cli import app

AUDITED_HEADER = "date,indicator,value,source,url,reliability,credibility,status,reported,note,entered_by,entered_at\n"


def team_watchlist(tmp_path: Path) -> Path:
    folder = write_watchlist(tmp_path / "w", [indicator()], "", as_of="2022-10-17", marking="TEAM TEST",
                             access={"viewers": ["*@example.org"], "editors": ["ana@example.org"]})
    (folder / "observations.csv").write_text(AUDITED_HEADER + "2022-10-01,troops,5,MoD,,,,,,,,\n", encoding="utf-8")
    return folder


@pytest.fixture()
def provider():
    import warnings

    import authlib.deprecate  # sets its own warnings to "always"; the test provider uses old Authlib APIs

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=authlib.deprecate.AuthlibDeprecationWarning)
        import oidc_provider_mock
        from oidc_provider_mock._storage import User

    users = [User(sub="ana", claims={"email": "ana@example.org", "email_verified": True}),
             User(sub="vic", claims={"email": "vic@example.org", "email_verified": True}),
             User(sub="eve", claims={"email": "eve@elsewhere.org", "email_verified": True}),
             # anyone can claim an address at many providers: an unverified one gets no role
             User(sub="mal", claims={"email": "ana@example.org", "email_verified": False})]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def auth_text(provider: str, port: int, extra: str = "") -> str:
    return (f'[auth]\nredirect_uri = "http://localhost:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(16)}"\nclient_id = "watchfloor"\nclient_secret = "not-a-secret"\n'
            f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n{extra}')


def auth_file(tmp_path: Path, provider: str, port: int, name: str = "auth.toml") -> Path:
    path = tmp_path / name
    path.write_text(auth_text(provider, port), encoding="utf-8")
    path.chmod(0o600)
    return path


def main_text(page) -> str:
    return page.inner_text("[data-testid='stMain']")


def sign_in(page, url: str | None, who: str) -> None:
    """Sign in as ``who`` with the test provider: from ``url``, or from the sign-in page already open (None)."""
    if url is not None:
        page.goto(url)
        wait_for_app(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=Authenticate predefined users", timeout=30000)
    page.get_by_role("button", name=who, exact=True).click()
    page.wait_for_selector("text=Signed in as", timeout=60000)
    wait_for_app(page)


@pytest.mark.browser
def test_sign_in_roles_and_who_entered_a_row_with_a_real_provider(tmp_path, provider):
    require_chromium()
    folder = team_watchlist(tmp_path)
    port = free_port()
    # not named *.toml, which is all Streamlit loads: serve hands Streamlit the checked configuration itself
    arguments = ("--auth", str(auth_file(tmp_path, provider, port, "team-auth.conf")))
    # one browser; each person on a page of their own context (no cookie carried from one to the next)
    with served_dashboard(folder, 60.0, *arguments, port=port, host_name="localhost") as url, \
            chromium_browser() as new_page:
        with new_page() as page:  # signed out: only the sign-in page, nothing of the data
            page.goto(f"{url}/?page=overview")
            wait_for_app(page)
            page.wait_for_selector("text=Sign in to see the watchlists served here.")
            shown = page.inner_text("body")
            assert "Test watchlist" not in shown and "TEAM TEST" not in shown and "Troops" not in shown
            # an editor signs in from there and adds a row: it carries her address
            sign_in(page, None, "ana")
            assert "Signed in as ana@example.org (editor)" in page.inner_text("body")
            open_from_sidebar(page, "Add data", "add-data")
            # one field at a time, each committed (Tab) and its rerun finished, so that a rerun started
            # by one field cannot redraw the form while the next is being typed
            for name, text in (("Value", "12"), ("Source", "Reuters")):
                box = page.get_by_role("textbox", name=name, exact=True).first
                box.fill(text)
                page.keyboard.press("Tab")
                page.wait_for_timeout(300)
                wait_for_app(page)
                assert box.input_value() == text
            page.get_by_role("button", name="Add observation").click()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(rows := (folder / "observations.csv").read_text(
                    encoding="utf-8").splitlines()) < 3:
                time.sleep(0.2)
            added = rows[-1]
            page.get_by_text("Added to observations.csv:", exact=True).wait_for(timeout=60000)  # and says so
            assert added.startswith("2") and ",troops,12,Reuters," in added
            assert added.split(",")[-2] == "ana@example.org"
            page.get_by_role("button", name="Sign out").click()  # the cookie goes; then the provider's logout
            page.wait_for_url("**/oauth2/end_session**", timeout=60000)
            page.goto(f"{url}/?page=overview")
            wait_for_app(page)
            page.wait_for_selector("text=Sign in to see the watchlists served here.", timeout=60000)
            assert "Troops" not in page.inner_text("body")
        with new_page() as page:  # a viewer sees the data and no form
            sign_in(page, url, "vic")
            assert "Signed in as vic@example.org (viewer)" in page.inner_text("body")
            open_from_sidebar(page, "Add data", "add-data")
            page.wait_for_selector("text=may view this watchlist")
            assert page.get_by_role("button", name="Add observation").count() == 0
            open_from_sidebar(page, "Indicator detail", "indicator")
            page.wait_for_selector("text=History")
            assert page.get_by_role("button", name="Retract").count() == 0
        with new_page() as page:  # signed in, but not listed: no data
            sign_in(page, url, "eve")
            page.wait_for_selector("text=has no access to this watchlist")
            assert "Troops" not in main_text(page)
        with new_page() as page:  # an address the provider has not verified: no role, no data, no form
            page.goto(url)
            wait_for_app(page)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector("text=Authenticate predefined users", timeout=30000)
            page.get_by_role("button", name="mal", exact=True).click()
            page.wait_for_selector("text=is not verified by your sign-in provider", timeout=60000)
            # the run that follows the provider's redirect draws the message before its button: wait for
            # the whole page (a run may not have begun when wait_for_app first looks)
            page.get_by_role("button", name="Sign out").wait_for(timeout=60000)
            wait_for_app(page)
            assert main_text(page) == ("Watchfloor\n\nana@example.org is not verified by your sign-in provider "
                                       "(email_verified is not true), so it gets no role here; verify the address "
                                       "with the provider and sign in again.\n\nSign out")
            page.goto(f"{url}/?page=update")
            wait_for_app(page)
            page.wait_for_selector("text=is not verified by your sign-in provider")
            shown = page.inner_text("body")
            assert "Add observation" not in shown and "Test watchlist" not in shown and "Troops" not in shown


def _viewer_forges_a_write() -> None:
    """An app script run in a viewer's session that calls the write path directly, as a replayed
    widget action would: the server-side check must refuse it."""
    from pathlib import Path

    import streamlit as st

    from dashboard import auth, forms
    from indicators.store.writing import append_observation

    folder = Path(st.session_state["folder"])
    st.session_state[auth.VISITOR_KEY] = auth.Visitor("vic@example.org", "viewer", True)
    forms._report_write(lambda: append_observation(folder, {"date": "2022-10-16", "indicator": "troops",
                                                            "value": "99"}, None, None,
                                                   auth.require_editor().email), "Added:")


def test_a_write_in_a_viewers_session_is_refused_on_the_server(tmp_path):
    folder = team_watchlist(tmp_path)
    before = (folder / "observations.csv").read_bytes()
    script = AppTest.from_function(_viewer_forges_a_write)
    script.session_state["folder"] = str(folder)
    script.run()
    assert not script.exception
    assert "vic@example.org may view this watchlist but not change it" in script.error[0].value.replace("\\", "")
    assert (folder / "observations.csv").read_bytes() == before


def test_serving_beyond_localhost_without_sign_in_is_refused_with_the_reason(tmp_path):
    result = CliRunner().invoke(app, ["serve", str(team_watchlist(tmp_path)), "--host", "0.0.0.0", "--no-browser"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: --host 0.0.0.0 would let anyone who can reach this machine read and change the "
                             "watchlist: turn on sign-in with --auth FILE (see docs/team.md), or pass "
                             "--allow-anonymous to serve without it\n")


def test_an_auth_file_without_what_sign_in_needs_is_refused(tmp_path):
    broken = tmp_path / "auth.toml"
    broken.write_text('[auth]\nclient_id = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", str(team_watchlist(tmp_path)), "--auth", str(broken), "--no-browser"])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: --auth {broken}: the [auth] section lacks redirect_uri, cookie_secret, "
                             "client_secret, server_metadata_url\n")


@pytest.mark.parametrize("text, reason", [
    ("[auth]\nclient_id = ", "is not valid TOML (Invalid value (at end of document))"),
    ("[auth]\nclient_id = \"caf\xe9\"\n", "is not a UTF-8 text file; write it as TOML in UTF-8"),
    ('[auth.google]\nclient_id = "x"\nclient_secret = "y"\nserver_metadata_url = "https://login.example.org/"\n'
     'redirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "z"\n',
     "the [auth] section lacks redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url"),
    ('[auth]\nredirect_uri = "http://localhost:8501/"\ncookie_secret = "z"\nclient_id = "x"\nclient_secret = "y"\n'
     'server_metadata_url = "https://login.example.org/"\n',
     'redirect_uri "http://localhost:8501/" must be the public address followed by /oauth2callback, e.g. '
     "https://watch.example.org/oauth2callback"),
    ('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "z"\nclient_id = "x"\n'
     'client_secret = "y"\nserver_metadata_url = "https://login.example.org/"\nallow_unverified_email = "yes"\n',
     "allow_unverified_email must be true or false (without quotes)"),
])
def test_an_auth_file_that_cannot_be_parsed_or_used_is_refused_whatever_its_name(tmp_path, text, reason):
    broken = tmp_path / "team-auth.conf"
    broken.write_bytes(text.encode("latin-1"))
    result = CliRunner().invoke(app, ["serve", str(team_watchlist(tmp_path)), "--host", "0.0.0.0", "--auth",
                                      str(broken), "--no-browser"])
    assert (result.exit_code, result.stderr) == (2, f"Error: --auth {broken}: {reason}\n")


def test_a_secrets_file_others_can_read_is_warned_about(tmp_path):
    readable = tmp_path / "team-auth.conf"
    readable.write_text(auth_text("http://localhost:1", 8501), encoding="utf-8")
    readable.chmod(0o644)
    with socket.socket() as busy:  # the port is taken: serve stops before starting anything
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", str(team_watchlist(tmp_path)), "--auth", str(readable),
                                          "--port", str(port), "--no-browser"])
        readable.chmod(0o600)
        again = CliRunner().invoke(app, ["serve", str(team_watchlist(tmp_path)), "--auth", str(readable), "--port",
                                         str(port), "--no-browser"])
    assert result.stderr.splitlines()[0] == (
        f"Warning: --auth {readable} can be read by other users of this machine (mode 644); it holds the client "
        f"secret and the cookie secret: chmod 600 {readable}")
    assert result.exit_code == again.exit_code == 2
    assert again.stderr.startswith(f"Error: port {port} is already in use")  # and no warning


AUTH_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "z" * 32,
                         "client_id": "watchfloor", "client_secret": "s",
                         "server_metadata_url": "http://localhost:1/.well-known/openid-configuration"}}


def app_as(monkeypatch, folder: Path, page: str, user: dict | None = None, secrets: dict | None = None,
           requested: bool = True) -> AppTest:
    """The app in AppTest as served with (or without) --auth, for a visitor ``user`` (st.user's claims)."""
    monkeypatch.setenv("WATCHFLOOR_ROOT", str(folder))
    monkeypatch.setenv("WATCHFLOOR_SIGN_IN", "required" if requested else "")
    script = AppTest.from_file(APP, default_timeout=120)
    script.query_params["page"] = page
    if secrets:
        script.secrets = secrets
    if user is not None:
        script.user = user
    script.run()
    assert not script.exception, script.exception
    return script


def visible_text(script: AppTest) -> str:
    return " ".join(str(getattr(element, "value", "")) for element in script.main) + " ".join(
        str(getattr(element, "value", "")) for element in script.sidebar)


@pytest.mark.parametrize("secrets", [None, {"auth": {"client_id": "watchfloor"}}, {"other": {"key": "value"}}])
def test_sign_in_asked_for_but_not_configured_shows_an_error_and_nothing_of_the_data(monkeypatch, tmp_path,
                                                                                     capfd, secrets):
    from dashboard import auth

    auth._reported.clear()  # each reason is printed once per server process
    folder = team_watchlist(tmp_path)
    for page in ("overview", "update"):
        script = app_as(monkeypatch, folder, page, secrets=secrets)
        assert [element.value for element in script.error] == [
            "Sign-in is required here but is not working, so nothing is shown. The server's output says why; its "
            "operator must fix the [auth] configuration (see docs/team.md)."]
        assert len(script.button) == 0 and len(script.text_input) == 0 and len(script.selectbox) == 0
        assert "TEAM TEST" not in visible_text(script) and "Test watchlist" not in visible_text(script)
    reason = ("the sign-in configuration is not usable: the [auth] section lacks redirect_uri, cookie_secret, "
              "client_secret, server_metadata_url" if secrets and "auth" in secrets else
              "sign-in was asked for (serve --auth) but Streamlit has no [auth] configuration")
    assert f"Watchfloor: sign-in is not working: {reason}; every page shows only an error until it is fixed" in \
        capfd.readouterr().err


def test_an_unverified_address_gets_no_role_unless_the_provider_section_allows_it(monkeypatch, tmp_path):
    folder = team_watchlist(tmp_path)
    claims = {"is_logged_in": True, "email": "ana@example.org", "email_verified": False}
    refused = app_as(monkeypatch, folder, "update", claims, AUTH_SECRETS)
    assert [element.value.replace("\\", "") for element in refused.error] == [
        "ana@example.org is not verified by your sign-in provider (email_verified is not true), so it gets no role "
        "here; verify the address with the provider and sign in again."]
    assert [button.label for button in refused.button] == ["Sign out"]
    assert "TEAM TEST" not in visible_text(refused)
    missing = app_as(monkeypatch, folder, "update", {"is_logged_in": True, "email": "ana@example.org"}, AUTH_SECRETS)
    assert "is not verified by your sign-in provider" in shown(missing.error[0].value)  # no claim is not a yes
    verified = app_as(monkeypatch, folder, "update", {**claims, "email_verified": True}, AUTH_SECRETS)
    assert "Add observation" in [button.label for button in verified.button]
    allowing = {"auth": {**AUTH_SECRETS["auth"], "allow_unverified_email": True}}
    allowed = app_as(monkeypatch, folder, "update", claims, allowing)
    assert "Add observation" in [button.label for button in allowed.button]


def test_anonymous_serving_says_so_on_every_page(monkeypatch, tmp_path):
    from test_app import run_app

    monkeypatch.setenv("WATCHFLOOR_ANONYMOUS", "1")
    folder = team_watchlist(tmp_path)
    for page in ("overview", "update"):
        shown = run_app(monkeypatch, root=folder, page=page)
        assert [w.value for w in shown.warning] == ["No sign-in: anyone who can reach this address can read and write."]


def test_the_command_line_records_who_entered_a_row_by_option_or_git(tmp_path):
    folder = team_watchlist(tmp_path)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "config", "user.email", "bo@example.org"], check=True)
    runner = CliRunner()
    assert runner.invoke(app, ["add", str(folder), "--indicator", "troops", "--date", "2022-10-16", "--value", "7"],
                         catch_exceptions=False).exit_code == 0
    assert runner.invoke(app, ["add", str(folder), "--indicator", "troops", "--date", "2022-10-17", "--value", "8",
                               "--by", "cy@example.org"]).exit_code == 0
    lines = (folder / "observations.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[-2] for line in lines[-2:]] == ["bo@example.org", "cy@example.org"]
    assert all(line.split(",")[-1].endswith("Z") and "T" in line.split(",")[-1] for line in lines[-2:])


def test_upgrade_adds_the_columns_once_and_keeps_the_previous_file(tmp_path):
    folder = write_watchlist(tmp_path / "w", [indicator()], '2022-10-01,troops,5,MoD,,,,,,"two\nlines"\n'
                                                            "2022-10-02,troops,6,MoD,,,,,,\n")
    before = (folder / "observations.csv").read_bytes()
    runner = CliRunner()
    first = runner.invoke(app, ["upgrade", str(folder)])
    assert first.exit_code == 0
    assert first.stdout.splitlines()[0] == (f"{folder}/observations.csv: added the columns entered_by, entered_at "
                                            "(the previous file is in .history/)")
    assert (folder / "observations.csv").read_text(encoding="utf-8") == (
        AUDITED_HEADER + '2022-10-01,troops,5,MoD,,,,,,"two\nlines",,\n2022-10-02,troops,6,MoD,,,,,,,,\n')
    assert [p.read_bytes() for p in (folder / ".history").iterdir()] == [before]
    again = runner.invoke(app, ["upgrade", str(folder)])
    assert again.stdout.splitlines()[0] == f"{folder}/observations.csv: already has entered_by and entered_at"
    assert len(list((folder / ".history").iterdir())) == 1
    from indicators.store.loader import load_watchlist

    assert load_watchlist(folder, today=FIXED_TODAY).problems == []


def test_the_activity_page_lists_who_did_what_and_the_previous_versions(monkeypatch, tmp_path):
    from indicators.store.writing import append_observation, edit_observation
    from test_app import run_app

    folder = team_watchlist(tmp_path)
    append_observation(folder, {"date": "2022-10-16", "indicator": "troops", "value": "12"}, today=FIXED_TODAY,
                       entered_by="ana@example.org")
    edit_observation(folder, 3, {"status": "disputed"}, today=FIXED_TODAY, entered_by="bo@example.org")
    shown = run_app(monkeypatch, root=folder, page="activity")
    done = shown.dataframe[0].value
    assert done[["who", "what", "line", "row"]].values.tolist() == [
        ["bo@example.org", "disputed", 3, "2022-10-16 troops 12"]]
    assert shown.dataframe[1].value["file"].tolist() == ["observations.csv"]


def test_init_creates_the_columns_for_who_entered_a_row(tmp_path):
    folder = tmp_path / "new"
    assert CliRunner().invoke(app, ["init", str(folder), "--title", "T"]).exit_code == 0
    assert (folder / "observations.csv").read_text(encoding="utf-8") == AUDITED_HEADER
    assert (folder / "events.csv").read_text(encoding="utf-8").rstrip("\n").endswith(",entered_by,entered_at")
    assert REPO.exists()
