"""What a repository source is: a remote git URL (cloned), or a path on the
server's disk (a checkout connected in place, or a bare repository or
``file://`` URL cloned into a checkout).

Every remote form git itself accepts is a remote: ``https://``, ``http://``,
``git://``, ``ssh://`` (and ``git+ssh://``), and the scp-like
``[user@]host:path``. Refused outright, whoever asks: git's transport helpers
(``ext::``, ``fd::``, any ``<helper>::``) which run commands, anything that
reads as an option (a leading ``-``, or a host starting with one, as in
``ssh://-oProxyCommand=...``), control characters, and URL schemes git has no
transport for.

>>> kind_of("git@github.com:acme/shop.git")
'remote'
>>> kind_of("file:///srv/git/shop.git")
'server_path'
"""

from __future__ import annotations

import re
from typing import Literal

from trace_sync.contract.errors import InvalidInput

SourceKind = Literal["remote", "server_path"]

#: Schemes git clones over the network (what ``GIT_ALLOW_PROTOCOL`` lets through).
REMOTE_SCHEMES = ("https", "http", "git", "ssh")
_SCHEME_ALIASES = {"git+ssh": "ssh", "ssh+git": "ssh"}
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
#: scp-like ``[user@]host:path``: git reads it so when a colon comes before any slash.
_SCP = re.compile(
    r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s\[\]]+|\[[0-9A-Fa-f:.]+\]):(?P<path>.*)$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def kind_of(source: str) -> SourceKind:
    """``remote`` or ``server_path``; ``InvalidInput`` for forms never cloned."""
    if not source or _CONTROL.search(source) or source.startswith("-"):
        raise InvalidInput(f"not a repository source Trace connects: {source!r}")
    if _HELPER.match(source):
        raise InvalidInput(f"git transport helpers ({source.split('::')[0]}::) run commands")
    url = _URL.match(source)
    if url is not None:
        scheme = url["scheme"].lower()
        if scheme == "file":
            return "server_path"
        if _SCHEME_ALIASES.get(scheme, scheme) not in REMOTE_SCHEMES:
            raise InvalidInput(f"git has no {scheme}:// transport Trace clones over")
        _check_host(url["rest"].split("/", 1)[0].rsplit("@", 1)[-1], source)
        return "remote"
    scp = _SCP.match(source)
    if scp is not None and len(scp["host"]) > 1:  # "C:..." is a drive, not a host
        _check_host(scp["host"], source)
        return "remote"
    return "server_path"


def is_remote(source: str) -> bool:
    """True for a remote git URL (false for server paths and refused forms)."""
    try:
        return kind_of(source) == "remote"
    except InvalidInput:
        return False


def scheme_of(source: str) -> str:
    """The transport a remote ``source`` uses (``ssh`` for scp-like)."""
    url = _URL.match(source)
    if url is None:
        return "ssh"
    scheme = url["scheme"].lower()
    return _SCHEME_ALIASES.get(scheme, scheme)


def _check_host(host: str, source: str) -> None:
    if not host or host.startswith("-"):
        raise InvalidInput(f"not a host git connects to in {source!r}")
