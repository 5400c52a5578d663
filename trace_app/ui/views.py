"""Which view draws which place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trace_app.ui.admin_views import MembersView, ReposView, SettingsView
from trace_app.ui.bridges_view import BridgesView
from trace_app.ui.session_view import SessionView
from trace_app.ui.sessions_view import NewSessionView, SessionsView

if TYPE_CHECKING:
    from trace_app.ui.shell import Place, Shell, View


def view_for(shell: Shell, place: Place) -> View:
    if place.name == "session" and place.sid:
        return SessionView(shell, place.sid)
    views: dict[
        str,
        type[SessionsView | NewSessionView | ReposView | MembersView | BridgesView | SettingsView],
    ] = {
        "sessions": SessionsView,
        "new": NewSessionView,
        "repos": ReposView,
        "members": MembersView,
        "bridges": BridgesView,
        "settings": SettingsView,
    }
    return views.get(place.name, SessionsView)(shell)
