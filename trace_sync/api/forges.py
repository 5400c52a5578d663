"""Workspace secrets (names only ever shown) and sessions' pull requests."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from trace_sync.api.endpoints import Call, Endpoint
from trace_sync.api.models import Model
from trace_sync.docs.entries import PullRequestEntry
from trace_sync.store.secrets import SecretInfo

SECRETS = "/api/workspaces/{wid}/secrets"
PULL = "/api/sessions/{sid}/pull-request"


class SecretIn(Model):
    value: str = Field(min_length=1, max_length=8192)


class SecretOut(Model):
    name: str
    set_by: str
    set_at: datetime

    @classmethod
    def of(cls, info: SecretInfo) -> SecretOut:
        return cls(name=info.name, set_by=info.set_by, set_at=info.set_at)


class SecretList(Model):
    items: list[SecretOut]


class PullRequestIn(Model):
    title: str | None = Field(None, max_length=200, description="default: drafted from the session")
    body: str | None = Field(
        None, max_length=60000, description="default: drafted from the session"
    )


class PullMergeIn(Model):
    method: Literal["merge", "squash", "rebase"] = "merge"


class PullRequestOut(Model):
    forge: str
    number: int
    url: str
    state: str
    title: str
    head: str
    base: str
    mergeable: bool | None
    reviews: list[dict[str, str]]
    checks: list[dict[str, str]]
    checked_at: datetime | None

    @classmethod
    def of(cls, entry: PullRequestEntry) -> PullRequestOut:
        return cls(**entry.model_dump())


async def list_secrets(call: Call) -> SecretList:
    found = await call.ctx.secrets.listed(call.actor, call.path["wid"])
    return SecretList(items=[SecretOut.of(s) for s in found])


async def put_secret(call: Call) -> SecretOut:
    body: SecretIn = call.body
    wid, name = call.path["wid"], call.path["name"]
    return SecretOut.of(await call.ctx.secrets.put(call.actor, wid, name, body.value))


async def remove_secret(call: Call) -> None:
    await call.ctx.secrets.remove(call.actor, call.path["wid"], call.path["name"])


async def open_pull(call: Call) -> PullRequestOut:
    body: PullRequestIn = call.body
    made = await call.ctx.forges.open(call.actor, call.path["sid"], body.title, body.body)
    return PullRequestOut.of(made)


async def show_pull(call: Call) -> PullRequestOut:
    return PullRequestOut.of(await call.ctx.forges.show(call.actor, call.path["sid"]))


async def merge_pull(call: Call) -> PullRequestOut:
    body: PullMergeIn = call.body
    return PullRequestOut.of(await call.ctx.forges.merge(call.actor, call.path["sid"], body.method))


endpoints = [
    Endpoint(
        "GET",
        SECRETS,
        list_secrets,
        "The workspace's secrets, by name (admins)",
        response=SecretList,
    ),  # fmt: skip
    Endpoint(
        "PUT",
        f"{SECRETS}/{{name}}",
        put_secret,
        "Set a secret, e.g. forge_token or forge_token:<host> (admins)",
        body=SecretIn,
        response=SecretOut,
    ),  # fmt: skip
    Endpoint(
        "DELETE", f"{SECRETS}/{{name}}", remove_secret, "Remove a secret (admins)", status=204
    ),  # fmt: skip
    Endpoint(
        "POST",
        PULL,
        open_pull,
        "Push the branch and open its pull request on the repo's forge (writers)",
        body=PullRequestIn,
        response=PullRequestOut,
        status=201,
    ),  # fmt: skip
    Endpoint(
        "GET", PULL, show_pull, "The pull request as its forge has it now", response=PullRequestOut
    ),  # fmt: skip
    Endpoint(
        "POST",
        f"{PULL}/merge",
        merge_pull,
        "Merge the pull request on its forge (writers)",
        body=PullMergeIn,
        response=PullRequestOut,
    ),  # fmt: skip
]
