"""Who is looking: sign-in through Streamlit's own OpenID Connect (``st.login``) when the server was
started with ``--auth``, and the role the watchlist's ``access`` section gives them.

Without ``--auth`` the dashboard serves this machine only (or anyone, with ``--allow-anonymous``,
which every page then says), and whoever uses it may edit. The visitor is worked out again from
the server's session at the top of every run, never taken from anything the browser sends."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from indicators.format.models import Access
from indicators.service.serving import ANONYMOUS_VARIABLE, SIGN_IN_VARIABLE, sign_in_problem
from indicators.store.activity import git_user_email
from indicators.store.writing import WriteRefused

VISITOR_KEY = "_watchfloor_visitor"


@dataclass(frozen=True)
class Visitor:
    email: str | None
    role: str | None  # editor, viewer, or None: no access
    signed_in: bool
    refusal: str | None = None  # why a signed-in visitor gets no role whatever the access list says

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


@dataclass(frozen=True)
class SignIn:
    """Whether sign-in is on, and why it cannot work when it is on but broken (then nothing is shown)."""

    required: bool
    problem: str | None = None
    allow_unverified_email: bool = False


def sign_in_settings() -> SignIn:
    """Sign-in is on when ``serve --auth`` asked for it or Streamlit's secrets hold [auth]. It fails
    closed: asked for but not configured, or secrets that cannot be read, is a problem, never "off"."""
    from streamlit.errors import StreamlitSecretNotFoundError

    requested = os.environ.get(SIGN_IN_VARIABLE) == "required"
    try:
        secrets = st.secrets.to_dict()
    except StreamlitSecretNotFoundError as error:
        if getattr(error, "error_id", None) != "no-secrets-found":
            return SignIn(True, f"Streamlit's secrets cannot be read ({error})")
        secrets = {}
    except Exception as error:  # noqa: BLE001 - whatever breaks the secrets, sign-in is not silently off
        return SignIn(True, f"Streamlit's secrets cannot be read ({error})")
    if "auth" not in secrets:
        return SignIn(True, "sign-in was asked for (serve --auth) but Streamlit has no [auth] configuration") \
            if requested else SignIn(False)
    problem = sign_in_problem(secrets)
    section = secrets["auth"]
    provider = section.get("default") if isinstance(section.get("default"), dict) else section
    allow = provider.get("allow_unverified_email", section.get("allow_unverified_email", False)) is True
    return SignIn(True, f"the sign-in configuration is not usable: {problem}" if problem else None, allow)


def sign_in_required() -> bool:
    return sign_in_settings().required


SIGN_IN_BROKEN = ("Sign-in is required here but is not working, so nothing is shown. The server's output says "
                  "why; its operator must fix the [auth] configuration (see docs/team.md).")
_reported: set[str] = set()


def report_broken_sign_in(problem: str) -> None:
    """The reason goes to the server's output (once), not to the unidentified visitor."""
    if problem not in _reported:
        _reported.add(problem)
        print(f"Watchfloor: sign-in is not working: {problem}; every page shows only an error until it is fixed",
              file=sys.stderr, flush=True)


def anonymous_exposure() -> bool:
    return bool(os.environ.get(ANONYMOUS_VARIABLE))


def email_is_verified(claims) -> bool:
    """The provider says it checked the address (OpenID Connect's ``email_verified``): a JSON true,
    or the text "true" that some providers send."""
    verified = claims.get("email_verified")
    return verified is True or (isinstance(verified, str) and verified.strip().lower() == "true")


def refusal(settings: SignIn) -> str | None:
    """Why the signed-in user gets no role on any watchlist, whatever the access lists say, or None.
    The address counts only when the provider verified it, unless the [auth] section allows
    unverified addresses (``allow_unverified_email = true``): many providers let anyone claim any address."""
    email = st.user.get("email")
    if not email:
        return ("Your sign-in gave no e-mail address, and Watchfloor gives roles by address; ask your provider's "
                "administrator to release the email claim.")
    if not settings.allow_unverified_email and not email_is_verified(st.user):
        return (f"{email} is not verified by your sign-in provider (email_verified is not true), so it gets no "
                "role here; verify the address with the provider and sign in again.")
    return None


def identify(access: Access, folder: Path, settings: SignIn | None = None) -> Visitor:
    """The visitor of this run (kept in the session for the forms of the same run)."""
    settings = settings or sign_in_settings()
    if not settings.required:
        visitor = Visitor(git_user_email(folder) or None, "editor", False)
    elif settings.problem is not None or not st.user.is_logged_in:
        visitor = Visitor(None, None, False)
    elif (reason := refusal(settings)) is not None:
        visitor = Visitor(st.user.get("email"), None, True, reason)
    else:
        email = st.user.get("email")
        visitor = Visitor(email, access.role_of(email), True)
    st.session_state[VISITOR_KEY] = visitor
    return visitor


def current() -> Visitor:
    return st.session_state.get(VISITOR_KEY, Visitor(None, None, False))


def require_editor() -> Visitor:
    """Checked by every write on the server, whatever the page showed: a viewer's session cannot write."""
    visitor = current()
    if not visitor.can_edit:
        raise WriteRefused(f"{visitor.email or 'this session'} may view this watchlist but not change it "
                           "(editors are listed under access.editors in watchlist.yaml); nothing was written")
    return visitor
