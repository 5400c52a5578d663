"""The one interface every forge adapter (``adapters/forges/<kind>.py``) keeps.

An adapter speaks its forge's REST API for one project with one token; it
translates the forge's refusals into :class:`Conflict` naming the forge and
its message (never :class:`Forbidden`: a forge refusing its token is not the
person's Trace token being wrong).

>>> place = Place("github", "https://api.github.com", "acme/shop")
>>> forge = load_forge(place, token, http)  # doctest: +SKIP
>>> (await forge.open("trace/fix-1", "main", "Fix login", "...")).number  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from trace_sync.contract.errors import Conflict, InvalidInput, NotFound

ForgeKind = Literal["github", "gitlab", "gitea"]
FORGES: dict[str, str] = {
    "github": "adapters.forges.github:GitHub",
    "gitlab": "adapters.forges.gitlab:GitLab",
    "gitea": "adapters.forges.gitea:Gitea",  # Forgejo speaks the same API
}
MergeMethod = Literal["merge", "squash", "rebase"]
#: A forge that does not answer within this long is reported, not waited on.
TIMEOUT_S = 20.0
#: The most reviews and checks kept (a session document stays small).
MAX_ITEMS = 50


@dataclass(frozen=True)
class Place:
    """Which forge, where its API is, and the project (``owner/name``, or a GitLab path)."""

    kind: ForgeKind
    api_url: str
    project: str


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    #: open, merged or closed.
    state: str
    title: str = ""
    head_sha: str | None = None
    #: Whether the forge says it can be merged now (None: it has not decided yet).
    mergeable: bool | None = None
    #: ``{"author", "state"}``: state approved, changes_requested or commented.
    reviews: list[dict[str, str]] = field(default_factory=list)
    #: ``{"name", "state"}``: state pending, success or failure.
    checks: list[dict[str, str]] = field(default_factory=list)


class Forge(Protocol):
    async def open(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull (merge) request of branch ``head`` into ``base``."""
        ...

    async def get(self, number: int) -> PullRequest:
        """The request as the forge has it now, with its reviews and checks."""
        ...

    async def merge(self, number: int, method: MergeMethod) -> PullRequest:
        """Merge it (:class:`Conflict` with the forge's reason when it may not be)."""
        ...


def load_forge(place: Place, token: str, http: httpx.AsyncClient) -> Forge:
    target = FORGES.get(place.kind)
    if target is None:
        raise InvalidInput(f"no forge named {place.kind!r}; known: {', '.join(sorted(FORGES))}")
    module_name, _, factory_name = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise NotFound(f"the {place.kind} forge cannot be loaded: {exc}") from exc
    made: Forge = factory(place, token, http)
    return made


async def call(
    http: httpx.AsyncClient, who: str, method: str, url: str, headers: dict[str, str], **kw: Any
) -> Any:
    """One request to a forge; its JSON answer (None when empty). Refusals and an
    unreachable forge become :class:`Conflict` naming ``who`` and what it said."""
    try:
        reply = await http.request(method, url, headers=headers, timeout=TIMEOUT_S, **kw)
    except httpx.HTTPError as exc:
        raise Conflict(f"{who} could not be reached: {exc}") from exc
    if reply.status_code >= 400:
        raise Conflict(f"{who} answered {reply.status_code}: {_said(reply)}")
    return reply.json() if reply.content.strip() else None


def _said(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.text[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]
