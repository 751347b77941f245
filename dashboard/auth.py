"""Who is looking: sign-in through Streamlit's own OpenID Connect (``st.login``) when the server was
started with ``--auth``, and the role the watchlist's ``access`` section gives them.

Without ``--auth`` the dashboard serves this machine only (or anyone, with ``--allow-anonymous``,
which every page then says), and whoever uses it may edit. The visitor is worked out again from
the server's session at the top of every run, never taken from anything the browser sends."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from indicators.activity import git_user_email
from indicators.models import Access
from indicators.writing import WriteRefused

ANONYMOUS_VARIABLE = "WATCHFLOOR_ANONYMOUS"
VISITOR_KEY = "_watchfloor_visitor"


@dataclass(frozen=True)
class Visitor:
    email: str | None
    role: str | None  # editor, viewer, or None: no access
    signed_in: bool

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


def sign_in_required() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all: no sign-in
        return False


def anonymous_exposure() -> bool:
    return bool(os.environ.get(ANONYMOUS_VARIABLE))


def identify(access: Access, folder: Path) -> Visitor:
    """The visitor of this run (kept in the session for the forms of the same run)."""
    if not sign_in_required():
        visitor = Visitor(git_user_email(folder) or None, "editor", False)
    elif not st.user.is_logged_in:
        visitor = Visitor(None, None, False)
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
