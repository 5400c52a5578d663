"""Which view draws which place."""

from __future__ import annotations

from trace_app.ui.admin_views import MembersView, ReposView
from trace_app.ui.bridges_view import BridgesView
from trace_app.ui.inbox_view import InboxView
from trace_app.ui.navigator import Navigator, View, ViewPlace
from trace_app.ui.new_session_view import NewSessionView
from trace_app.ui.session_view import SessionView
from trace_app.ui.sessions_view import SessionsView
from trace_app.ui.settings_view import SettingsView
from trace_app.ui.usage_view import UsageView


def view_for(nav: Navigator, place: ViewPlace) -> View:
    if place.name == "session" and place.sid:
        return SessionView(nav, place.sid)
    views: dict[
        str,
        type[
            SessionsView
            | InboxView
            | NewSessionView
            | ReposView
            | MembersView
            | BridgesView
            | SettingsView
            | UsageView
        ],
    ] = {
        "sessions": SessionsView,
        "inbox": InboxView,
        "new": NewSessionView,
        "repos": ReposView,
        "members": MembersView,
        "bridges": BridgesView,
        "settings": SettingsView,
        "usage": UsageView,
    }
    return views.get(place.name, SessionsView)(nav)
