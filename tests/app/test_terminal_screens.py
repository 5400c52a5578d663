"""One emulator per terminal per process, fed once whichever replica brings the output.

Two replicas of one io document (two tabs in one process) hear the same deltas
from a real :class:`TerminalRecorder` that also seals old output into segments;
the shared screen shows each line once, in order, and the emulator reads each
byte once.
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Text

from trace_app.emulator import Emulator
from trace_app.local_replica import Change
from trace_app.terminal_screens import LiveScreen, TerminalScreens
from trace_app.ui.screen_view import ScreenView
from trace_sync.docs.entries import TerminalInfo
from trace_sync.docs.layouts import SESSION_IO
from trace_sync.docs.typed import put, root_of

KEY = ("http://server", "s_1", "t1")


class Tab:
    """A replica of the io document whose root changes go to the shared screens."""

    def __init__(self, screens: TerminalScreens) -> None:
        self.doc: Doc[Any] = Doc()
        self.screens = screens
        self.roots = {r: root_of(self.doc, SESSION_IO, r) for r in ("output", "terminals")}
        self.subscriptions = [  # pycrdt drops an observer whose subscription is dropped
            shared.observe_deep(self.watcher(root)) for root, shared in self.roots.items()
        ]

    def watcher(self, root: str) -> Any:
        return lambda events: self.heard(Change("io", root, tuple(events)))

    def heard(self, change: Change) -> None:
        assert change.root is not None
        self.screens.heard(KEY[0], KEY[1], self.roots, change.root, list(change.events))


class Writer:
    """The bridge's side: appends output and seals the window's front as the recorder does."""

    def __init__(self, tabs: list[Tab]) -> None:
        self.doc: Doc[Any] = Doc()
        self.info = TerminalInfo(id="t1", title="shell", kind="shell", cols=40, rows=5)
        self.tabs = tabs
        self.doc.observe(lambda event: [t.doc.apply_update(event.update) for t in self.tabs])
        with self.doc.transaction(origin="bridge"):
            root_of(self.doc, SESSION_IO, "output")["t1"] = Text()
            put(self.doc, SESSION_IO, "terminals", "t1", self.info, origin="bridge")

    def write(self, data: str) -> None:
        text = root_of(self.doc, SESSION_IO, "output")["t1"]
        text += data

    def seal(self, chars: int) -> None:
        text = root_of(self.doc, SESSION_IO, "output")["t1"]
        cut = len(str(text)[:chars].encode())
        self.info = self.info.model_copy(update={"sealed_chars": self.info.sealed_chars + chars})
        with self.doc.transaction(origin="bridge"):
            del text[0:cut]
            put(self.doc, SESSION_IO, "terminals", "t1", self.info, origin="bridge")


class Counting(Emulator):
    fed = 0

    def feed(self, text: str) -> None:
        Counting.fed += len(text)
        super().feed(text)


def _one_tab() -> tuple[Writer, LiveScreen | None]:
    """A runtime writing a terminal that one tab has open, and the tab's screen of it."""
    screens = TerminalScreens()
    tab = Tab(screens)
    return Writer([tab]), screens.open(KEY, tab.roots)


def test_two_tabs_share_one_screen_fed_once_across_seals(monkeypatch: Any) -> None:
    monkeypatch.setattr("trace_app.terminal_screens.Emulator", Counting)
    screens = TerminalScreens()
    first, second = Tab(screens), Tab(screens)
    writer = Writer([first, second])
    writer.write("a ✓ line 0\r\n")
    live = screens.open(KEY, first.roots)
    assert live is not None and screens.open(KEY, second.roots) is live
    written = "a ✓ line 0\r\n"
    for n in range(1, 30):
        line = f"line {n} é\r\n"
        writer.write(line)
        written += line
        if n % 7 == 0:
            writer.seal(len("line 1 é\r\n") * 3)
    text = live.emulator.text()
    assert [t for t in text if t] == ["a ✓ line 0"] + [f"line {n} é" for n in range(1, 30)]
    assert Counting.fed == len(written)  # every character parsed once, not once per tab


def test_a_screen_nobody_holds_is_dropped() -> None:
    screens = TerminalScreens()
    tab = Tab(screens)
    Writer([tab]).write("hello\r\n")
    live = screens.open(KEY, tab.roots)
    assert live is not None and len(screens) == 1
    del live
    assert len(screens) == 0


def test_a_resize_reaches_the_screen() -> None:
    writer, live = _one_tab()
    assert live is not None and live.emulator.size == (40, 5)
    writer.info = writer.info.model_copy(update={"cols": 120, "rows": 30})
    put(writer.doc, SESSION_IO, "terminals", "t1", writer.info, origin="bridge")
    assert live.emulator.size == (120, 30)


def test_drawing_only_what_changed_shows_what_the_emulator_holds() -> None:
    writer, live = _one_tab()
    assert live is not None
    view = ScreenView()
    for n in range(120):  # scrolls by 1 to 7 lines between draws, rewrites a line in place
        writer.write("".join(f"\x1b[3{n % 8}mline {n}.{i}\x1b[0m\r\n" for i in range(n % 7 + 1)))
        writer.write(f"{n}%\r")
        view.draw(live)
        assert view.text() == live.emulator.text()
        if n % 5 == 4:  # and now and then rewrites one higher up (as progress bars do)
            writer.write(f"\x1b[3A\x1b[2Kup {n}\x1b[3B\r")
            view.draw(live)
            assert view.text() == live.emulator.text()
    assert view.text()[-1] == "119%" and len(view.text()) == sum(n % 7 + 1 for n in range(120)) + 1


async def test_a_tab_is_sent_each_line_once_and_every_paint_reaches_its_page() -> None:
    """A screen streaming into a tab's page (a Flet session, as the web app runs one per
    tab): every paint's controls are on the page (none is lost as "not added to the
    page"), and each line reaches the tab once, not once as a row and again as scrollback
    (each control sent costs every tab; that was most of a tab's CPU while output streams)."""
    writer, live = _one_tab()
    assert live is not None
    view = ScreenView()
    sent, _session = _page_of(view)  # (the page holds its session weakly)
    lines = []
    for n in range(60):  # scrolls by 1 to 7 lines between paints, now and then a flood
        if n == 30:  # and the terminal grows wider halfway
            writer.info = writer.info.model_copy(update={"cols": 60})
            put(writer.doc, SESSION_IO, "terminals", "t1", writer.info, origin="bridge")
        count = 23 if n % 10 == 9 else n % 7 + 1
        lines += [f"<{n}.{i}>" for i in range(count)]
        writer.write("".join(f"\x1b[3{n % 8}m<{n}.{i}>\x1b[0m\r\n" for i in range(count)))
        for control in view.draw(live):
            control.update()  # raises if the control is not on the page
    received = b"".join(sent)
    assert view.text() == live.emulator.text() and live.emulator.size == (60, 5)
    assert {line: received.count(line.encode()) for line in lines} == dict.fromkeys(lines, 1)


def _page_of(view: ScreenView) -> tuple[list[bytes], Any]:
    """A Flet session whose page shows ``view``, and what it sends, encoded."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import flet as ft
    import msgpack
    from flet.controls.context import _context_page
    from flet.messaging.session import Session

    from tests.app.headless import _ENCODE, Recorder

    sent: list[bytes] = []

    class Sent(Recorder):
        def send_message(self, message: Any) -> None:
            sent.append(msgpack.packb([message.action, message.body], default=_ENCODE))

    session = Session(Sent(asyncio.get_running_loop(), ThreadPoolExecutor(max_workers=1)))
    session.apply_page_patch({"width": 1280, "height": 800, "route": "/"})
    _context_page.set(session.page)
    session.page.controls = [ft.Column([view.control], expand=True)]
    sent.append(msgpack.packb(session.get_page_patch(), default=_ENCODE))
    return sent, session
