"""Structured logs: one JSON object per line on stderr.

Call sites use the standard library and put fields in ``extra``::

    log.warning("refused", extra={"doc": name, "code": 4403})
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# color_message: uvicorn's ANSI-coloured copy of msg, noise in a JSON log.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


#: Secrets never reach a log: websocket clients send tokens in the query
#: string (y-websocket's ``params``), which uvicorn logs with the path, and
#: sign-in codes travel in links.
_SECRETS = re.compile(r"((?:token|code)=)[^&\s\"']+|trace_t_[a-z0-9]+_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """``text`` with tokens and sign-in codes replaced by ``[redacted]``."""
    return _SECRETS.sub(lambda m: f"{m.group(1) or ''}[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


#: Lines uvicorn and websockets write for every websocket opened or closed: a
#: thousand clients reconnecting wrote two thousand lines (a fifth of a join's
#: cost). ``/metrics`` counts connections; refusals are logged by the endpoints.
#: Our own uvicorn protocol (``sync/wire.py``) does not even make them; this
#: filter drops them from any other websocket implementation.
_PER_SOCKET = frozenset({'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"})


def _not_per_socket(record: logging.LogRecord) -> bool:
    return not (record.levelno <= logging.INFO and record.msg in _PER_SOCKET)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_not_per_socket)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Every request a web tab's app makes to this server was logged twice, by the
    # server (uvicorn.access) and by the tab's client (httpx, at INFO): the client's
    # line says nothing new, and 16 tabs polling made it a third of the log.
    quiet = root.level > logging.DEBUG
    logging.getLogger("httpx").setLevel(logging.WARNING if quiet else logging.NOTSET)
