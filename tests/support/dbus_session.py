"""A private D-Bus session bus (``dbus-daemon``) and a notification service on it
that keeps what it is asked to show, as a desktop's would."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

SERVICE = "org.freedesktop.Notifications"


@dataclass
class NotificationService:
    address: str
    #: (summary, body) of each notification shown.
    shown: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def session_bus() -> Iterator[str]:
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (apt-get install dbus-daemon)")
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # as non-root-capable: "Failed to set fd limit"
        text=True,
    )
    try:
        assert daemon.stdout is not None
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        if daemon.stdout is not None:
            daemon.stdout.close()


@contextmanager
def notification_service() -> Iterator[NotificationService]:
    from jeepney import HeaderFields, MessageType, new_method_return
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    with session_bus() as address:
        conn = open_dbus_connection(bus=address)
        conn.send_and_get_reply(message_bus.RequestName(SERVICE))
        service = NotificationService(address)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    msg: Any = conn.receive(timeout=0.2)
                except TimeoutError:
                    continue
                except OSError:
                    return
                member = msg.header.fields.get(HeaderFields.member)
                if msg.header.message_type == MessageType.method_call and member == "Notify":
                    service.shown.append((msg.body[3], msg.body[4]))
                    conn.send(new_method_return(msg, "u", (len(service.shown),)))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield service
        finally:
            stop.set()
            thread.join()
            conn.close()
