"""The page's keys: which text field has the focus, the ``?`` overlay, and handing
each shortcut of :mod:`trace_app.keymap` to whoever acts on it.

Flet reports every key press to ``page.on_keyboard_event``, also those typed into
a text field; fields are :meth:`Keyboard.watch`-ed so a letter typed there stays a
letter. Tab, Shift+Tab, Enter and Space move and press as Flutter has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from trace_app import keymap
from trace_app.ui import widgets as w


class Keyboard:
    """``page.on_keyboard_event = keyboard.pressed``; ``act(action, pressed)`` does the rest."""

    def __init__(self, page: ft.Page, act: Callable[[str, str], object]) -> None:
        self.page = page
        self.act = act
        self.focused: ft.TextField | None = None
        self.overlay: ft.AlertDialog | None = None

    @property
    def typing(self) -> bool:
        return self.focused is not None

    def watch(self, field: ft.TextField) -> ft.TextField:
        """Keys typed into ``field`` are text, not shortcuts, while it has the focus."""

        def focus(_e: object) -> None:
            self.focused = field

        def blur(_e: object) -> None:
            if self.focused is field:
                self.focused = None

        field.on_focus = focus
        field.on_blur = blur
        return field

    def pressed(self, event: ft.KeyboardEvent) -> None:
        pressed = keymap.combo(
            event.key, shift=event.shift, ctrl=event.ctrl, alt=event.alt, meta=event.meta
        )
        action = keymap.action_for(pressed, typing=self.typing)
        if action is not None:
            self.act(action, pressed)

    def toggle_overlay(self) -> None:
        if self.overlay is not None:
            self.page.pop_dialog()
            self.overlay = None
        else:
            self.overlay = ft.AlertDialog(
                title=ft.Text("Keyboard"),
                content=w.tag("keys", ft.Column(_rows(), tight=True, scroll=ft.ScrollMode.AUTO)),
                on_dismiss=self._dismissed,
            )
            self.page.show_dialog(self.overlay)
        self.page.update()

    def _dismissed(self, _e: Any) -> None:
        self.overlay = None


def _rows() -> list[ft.Control]:
    rows: list[ft.Control] = []
    for heading, keys in keymap.listed():
        rows.append(ft.Text(heading, weight=ft.FontWeight.BOLD, size=14))
        for key in keys:
            shown = " or ".join(key.keys) if len(key.keys) < 4 else f"{key.keys[0]}–{key.keys[-1]}"
            rows.append(
                ft.Row(
                    [
                        ft.Container(w.mono(shown, 13), width=150),
                        ft.Text(key.does, size=13, expand=True),
                    ],
                    vertical_alignment=ft.CrossAxisAlignment.START,
                )
            )
    return rows
