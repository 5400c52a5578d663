"""Small shared pieces: status chips, the monospace font, tagged controls."""

from __future__ import annotations

from pathlib import Path

import flet as ft
from flet.controls.base_control import control

from trace_app.workspace_state import STATUS_LABELS

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MONO = "Mono"
FONTS = {MONO: "fonts/DejaVuSansMono.ttf"}
#: Below this width the phone layout is used (bottom navigation, one pane).
PHONE_MAX_WIDTH = 720

STATUS_COLOURS = {
    "created": ft.Colors.BLUE_GREY_200,
    "starting": ft.Colors.BLUE_100,
    "running": ft.Colors.GREEN_200,
    "waiting_approval": ft.Colors.AMBER_300,
    "waiting_input": ft.Colors.ORANGE_200,
    "idle": ft.Colors.GREY_300,
    "paused": ft.Colors.PURPLE_100,
    "stopped": ft.Colors.GREY_400,
    "failed": ft.Colors.RED_200,
    "interrupted": ft.Colors.DEEP_ORANGE_200,
    "archived": ft.Colors.BROWN_100,
}


def tag(identifier: str, content: ft.Control, label: str | None = None) -> ft.Semantics:
    """``content`` findable by a stable id (``[flt-semantics-identifier=...]`` on the web)."""
    return ft.Semantics(identifier=identifier, container=True, label=label, content=content)


def status_chip(status: str, identifier: str | None = None, label: str | None = None) -> ft.Control:
    """``status`` in its colour, said as ``label`` (default: the status's own label)."""
    label = label or STATUS_LABELS.get(status, status)
    chip = ft.Container(
        content=ft.Text(label, size=12, color=ft.Colors.BLACK),
        bgcolor=STATUS_COLOURS.get(status, ft.Colors.GREY_300),
        border_radius=12,
        padding=ft.Padding.symmetric(horizontal=10, vertical=4),
    )
    return tag(identifier, chip, label=f"status {label}") if identifier else chip


def cost(usd: float, estimated: bool) -> str:
    return f"{'≈' if estimated else ''}${usd:.2f}"


def heading(text: str) -> ft.Text:
    return ft.Text(text, size=20, weight=ft.FontWeight.BOLD)


def muted(text: str, size: int = 12) -> ft.Text:
    return ft.Text(text, size=size, color=ft.Colors.ON_SURFACE_VARIANT)


def menu_label(text: str) -> ft.Row:
    """What a menu button shows: its name and a drop-down arrow (an icon: the app's
    fonts have no "▾")."""
    return ft.Row([ft.Text(text), ft.Icon(ft.Icons.ARROW_DROP_DOWN)], spacing=0, tight=True)


def button(
    text: str, on_click: ft.ControlEventHandler[ft.Button] | None, *, big: bool = False
) -> ft.Button:
    """A button whose tap target is at least 48 px high on phones (``big``)."""
    return ft.Button(content=text, on_click=on_click, height=48 if big else None)


def mono(text: str, size: int = 13, colour: str | None = None) -> ft.Text:
    return ft.Text(text, font_family=MONO, size=size, color=colour, selectable=False)


def bar_destination(icon: ft.IconData, label: str) -> ft.NavigationBarDestination:
    """A bottom bar's destination without a tooltip. Flutter gives a destination its
    label as a tooltip; on the web, that tooltip coming or going under a resting mouse
    takes the keyboard from a text field just tapped (the keys typed next went to the
    shortcuts instead). An empty tooltip turns it off."""
    return _Destination(icon=icon, label=label, tooltip="")


@control("NavigationBarDestination", kw_only=True)  # type: ignore[arg-type]  # Flet leaves T unsolved
class _Destination(ft.NavigationBarDestination):
    """Flet's client passes a destination's ``tooltip`` on to Flutter, but Flet 1.0.5's
    Python class has no such field: this one sends it."""

    tooltip: str | None = None
