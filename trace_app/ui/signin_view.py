"""Sign in: a server URL and a token, or (on the web) the one-time link's cookie."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import flet as ft

from trace_app.ui import widgets as w
from trace_sync.contract.errors import TraceError


def sign_in_view(
    page: ft.Page,
    server_url: str,
    editable_server: bool,
    sign_in: Callable[[str, str], Awaitable[None]],
) -> ft.Control:
    """The form; ``sign_in(server_url, token)`` raises what the server said."""
    width = None if (page.width or 1280) < w.PHONE_MAX_WIDTH else 420  # a phone: full width
    server = ft.TextField(
        label="Server URL", value=server_url, visible=editable_server, width=width
    )
    token = ft.TextField(label="Token", password=True, can_reveal_password=True, width=width)
    problem = ft.Text("", color=ft.Colors.ERROR)

    async def submit(_e: object) -> None:
        problem.value = "Signing in…"
        page.update()
        try:
            await sign_in((server.value or "").strip(), (token.value or "").strip())
        except TraceError as exc:
            problem.value = f"Could not sign in: {exc}"
            page.update()

    hint = (
        "Open the one-time sign-in link the server printed (run `trace token` for a new one), "
        "or paste a token."
        if not editable_server
        else "Your server's URL and a token (`trace token` prints yours)."
    )
    form = ft.Column(
        [
            w.heading("Sign in to Trace"),
            w.muted(hint, size=14),
            server,
            token,
            ft.Button(content="Sign in", on_click=submit, height=48),
            problem,
        ],
        spacing=16,
        horizontal_alignment=ft.CrossAxisAlignment.START
        if width
        else ft.CrossAxisAlignment.STRETCH,
    )
    token.on_submit = submit
    return w.tag(
        "signin",
        ft.Container(content=form, padding=24, alignment=ft.Alignment.TOP_LEFT, expand=True),
    )
