"""Terminal screens: one emulator per terminal per process, fed once by the output's deltas.

Every tab of the web app runs its app session in the server process, each
with replicas of its own, and every replica hears the same output. So the
screens live here, shared by the process, keyed by server, session and
terminal; each piece of output is parsed once, whichever replica brings it
first. A position in the output is (sealed characters, UTF-8 bytes into the
live window): the window's deltas count bytes, sealing counts characters,
and both only grow or move forward together. A replica that is behind
brings nothing new; one that shows a gap (it skipped updates, or the screen
was opened late) makes the screen catch up from that replica's window.

Panes hold the screens they show (:meth:`TerminalScreens.open`); a screen
nobody holds is dropped.

>>> screens = TerminalScreens()
>>> live = screens.open(("http://127.0.0.1:4000", "s_1", "t1"), io_replica.roots)
>>> client_replica_heard = screens.heard  # called with each output change of an io replica
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from pycrdt import Text, TextEvent
from pydantic import ValidationError

from trace_app.emulator import Emulator
from trace_sync.docs.entries import TerminalInfo

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # server url, session id, terminal id
Roots = Mapping[str, Any]  # an io replica's root types by name (``Replica.roots``)
Watcher = Callable[[], None]


class LiveScreen:
    """A terminal's emulator and how far into the output it has read."""

    def __init__(self, key: Key, info: TerminalInfo) -> None:
        self.key = key
        self.emulator = Emulator(info.cols, info.rows)
        self.sealed = info.sealed_chars  # where the window it reads started
        self.end = 0  # bytes of that window fed so far
        self.first = info.sealed_chars  # the earliest output fed (older is in segments)
        self.revision = 0
        self._watchers: list[Watcher] = []

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher`` after output changed the screen; returns what stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def replay(self, older: str, window: Text, info: TerminalInfo, first: int) -> None:
        """Start over from ``older`` (sealed output from char ``first`` on) and the window."""
        self.emulator = Emulator(info.cols, info.rows)
        self.sealed, self.end, self.first = info.sealed_chars, 0, first
        self.emulator.feed(older)
        self._catch_up(window)

    def take(self, event: Any, window: Text, info: TerminalInfo) -> None:
        """Feed what ``event`` (a ``TextEvent`` of ``window``) adds beyond what was fed."""
        if info.sealed_chars < self.sealed:
            return  # a replica behind this screen: nothing new
        if info.sealed_chars > self.sealed:  # a seal cut the window's front
            front = event.delta[0].get("delete", 0) if event.delta else 0
            self.sealed, self.end = info.sealed_chars, self.end - front
        self.emulator.resize(info.cols, info.rows)
        at = 0  # bytes into the window after the change
        for op in event.delta:
            if "retain" in op:
                at += op["retain"]
            elif "insert" in op:
                at = self._insert(at, str(op["insert"]))
                if at < 0:
                    break
        if at < 0 or len(window) > self.end:  # a gap: read what is missing from the window
            self._catch_up(window)
        self._changed()

    def _insert(self, at: int, text: str) -> int:
        data = text.encode()
        if at > self.end:
            return -1
        if at + len(data) > self.end:
            self.emulator.feed(data[self.end - at :].decode(errors="replace"))
            self.end = at + len(data)
        return at + len(data)

    def _catch_up(self, window: Text) -> None:
        data = str(window).encode()
        if not 0 <= self.end <= len(data):  # lost track: the window is all there is
            log.info("terminal screen restarted from the window", extra={"key": self.key})
            self.emulator = Emulator(*self.emulator.size)
            self.end = 0
        self.emulator.feed(data[self.end :].decode(errors="replace"))
        self.end = len(data)
        self._changed()

    def resized(self, info: TerminalInfo) -> None:
        if (info.cols, info.rows) != self.emulator.size:
            self.emulator.resize(info.cols, info.rows)
            self._changed()

    def _changed(self) -> None:
        self.revision += 1
        for watcher in list(self._watchers):
            watcher()


class TerminalScreens:
    """The live screens of this process (see the module's docstring)."""

    def __init__(self) -> None:
        self._live: weakref.WeakValueDictionary[Key, LiveScreen] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._live)

    def open(self, key: Key, io: Roots) -> LiveScreen | None:
        """The screen of ``key`` (made from the ``io`` replica's window if nobody holds
        it yet); ``None`` while ``io`` knows no such terminal. Keep it to keep it alive."""
        live = self._live.get(key)
        if live is not None:
            return live
        info, window = terminal_info(io, key[2]), output_of(io, key[2])
        if info is None:
            return None
        live = LiveScreen(key, info)
        if window is not None:
            live._catch_up(window)
        self._live[key] = live
        return live

    def get(self, key: Key) -> LiveScreen | None:
        return self._live.get(key)

    def heard(self, server: str, sid: str, io: Roots, root: str, events: list[Any]) -> None:
        """An ``io`` replica's change of ``root``: output feeds screens, sizes resize them."""
        if not self._live:
            return
        if root == "output":
            for event in events:
                path: list[Any] = getattr(event, "path", [])
                if isinstance(event, TextEvent) and len(path) == 1:
                    self._output(server, sid, io, str(path[0]), event)
        elif root == "terminals":
            for event in events:
                for tid in getattr(event, "keys", None) or {}:
                    live = self._live.get((server, sid, str(tid)))
                    info = terminal_info(io, str(tid))
                    if live is not None and info is not None:
                        live.resized(info)

    def _output(self, server: str, sid: str, io: Roots, tid: str, event: Any) -> None:
        live = self._live.get((server, sid, tid))
        info, window = terminal_info(io, tid), output_of(io, tid)
        if live is not None and info is not None and window is not None:
            live.take(event, window, info)


def terminal_info(io: Roots, tid: str) -> TerminalInfo | None:
    raw = io["terminals"].get(tid)
    try:
        return TerminalInfo.model_validate(raw) if isinstance(raw, dict) else None
    except ValidationError:  # flagged elsewhere; a screen is not made from it
        return None


def output_of(io: Roots, tid: str) -> Text | None:
    text = io["output"].get(tid)
    return text if isinstance(text, Text) else None


#: The process's screens, shared by every tab's client (see :class:`TerminalScreens`).
SCREENS = TerminalScreens()
