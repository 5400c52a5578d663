"""Delivery through Apprise (ntfy, Gotify, Pushover, Slack, Discord, Matrix,
Telegram, email, webhooks and ~100 more), the one module that imports it.

ntfy takes a click target and Approve / Deny buttons (its ``X-Click`` and
``X-Actions``, which Apprise sets from the URL's ``click`` and ``actions``);
other channels get the same links in the text.
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from types import ModuleType
from urllib.parse import quote, urlencode

from trace_sync.contract.errors import InvalidInput
from trace_sync.services.notify.channel import MAX_URL, DeliveryFailed, Notice

_ACTION_SCHEMES = ("ntfy://", "ntfys://")


class AppriseChannel:
    def __init__(self, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s

    async def hint(self, url: str) -> str:
        if len(url) > MAX_URL:
            raise InvalidInput(f"a destination URL is at most {MAX_URL} characters")
        apprise = await asyncio.to_thread(_apprise)
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if not plugin:
            raise InvalidInput("not a notification URL Apprise knows (see its URL forms)")
        # Apprise's own masking knows which part of each service's URL is a secret.
        masked: str = plugin.url(privacy=True)
        return masked.split("?", 1)[0]

    async def send(self, url: str, message: Notice) -> None:
        target = _with_actions(url, message) if url.startswith(_ACTION_SCHEMES) else url
        body = message.body if target != url else _with_links(message)
        apprise = await asyncio.to_thread(_apprise)
        sender = apprise.Apprise()
        if not sender.add(target):
            raise DeliveryFailed("Apprise cannot use this URL")
        sent = await asyncio.to_thread(
            sender.notify, body=body, title=message.title, timeout=self._timeout_s
        )
        if not sent:
            raise DeliveryFailed("the destination did not accept the notification")


@functools.cache
def _apprise() -> ModuleType:
    """Apprise with its plugins loaded (about a second, so only once it is needed).
    Its e-mail plugin imports ``imghdr``, deprecated since Python 3.11: harmless here."""
    import apprise

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        apprise.Apprise.instantiate("json://localhost")
    return apprise


def _with_actions(url: str, message: Notice) -> str:
    buttons = [
        f"{a.kind}, {a.label}, {a.url}" + (", method=POST, clear=true" if a.kind == "http" else "")
        for a in message.actions
    ]
    # No icon: ntfy would fetch Apprise's from the internet.
    extra = {"click": message.click, "image": "no"}
    extra |= {"actions": "; ".join(buttons)} if buttons else {}
    return url + ("&" if "?" in url else "?") + urlencode(extra, quote_via=quote)


def _with_links(message: Notice) -> str:
    lines = [message.body, "", f"Open: {message.click}"]
    lines += [f"{a.label} (POST): {a.url}" for a in message.actions if a.kind == "http"]
    return "\n".join(lines)
