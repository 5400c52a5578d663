"""Gitea's and Forgejo's REST API (v1): pulls, their reviews, the head's
combined commit status.

https://gitea.com/api/swagger (repoCreatePullRequest, repoGetPullRequest,
repoListPullReviews, repoGetCombinedStatusByRef, repoMergePullRequest).
"""

from __future__ import annotations

from typing import Any

import httpx

from adapters.forges.github import pull_request
from trace_sync.services.forges.forge import MAX_ITEMS, MergeMethod, Place, PullRequest, call

_REVIEW = {"APPROVED": "approved", "REQUEST_CHANGES": "changes_requested"}
_STATUS = {"success": "success", "pending": "pending", "warning": "success"}


class Gitea:
    def __init__(self, place: Place, token: str, http: httpx.AsyncClient) -> None:
        self._repo = f"{place.api_url.rstrip('/')}/repos/{place.project}"
        self._http = http
        self._headers = {"Authorization": f"token {token}", "Accept": "application/json"}

    async def open(self, head: str, base: str, title: str, body: str) -> PullRequest:
        made = await self._call("POST", "/pulls", json={"title": title, "head": head,
                                                         "base": base, "body": body})  # fmt: skip
        return pull_request(made)

    async def get(self, number: int) -> PullRequest:
        found = pull_request(await self._call("GET", f"/pulls/{number}"))
        reviews = await self._call("GET", f"/pulls/{number}/reviews") or []
        statuses: list[dict[str, Any]] = []
        if found.head_sha:
            combined = await self._call("GET", f"/commits/{found.head_sha}/status") or {}
            statuses = combined.get("statuses") or []
        return PullRequest(
            **vars(found)
            | {
                "reviews": [_review(r) for r in reviews[:MAX_ITEMS]],
                "checks": [_check(s) for s in statuses[:MAX_ITEMS]],
            }
        )

    async def merge(self, number: int, method: MergeMethod) -> PullRequest:
        await self._call("POST", f"/pulls/{number}/merge", json={"Do": method})
        return await self.get(number)

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        return await call(self._http, "Gitea", method, self._repo + path, self._headers, **kw)


def _review(data: dict[str, Any]) -> dict[str, str]:
    author = str((data.get("user") or {}).get("login", ""))
    return {"author": author, "state": _REVIEW.get(str(data.get("state")), "commented")}


def _check(data: dict[str, Any]) -> dict[str, str]:
    state = _STATUS.get(str(data.get("status")), "failure")
    return {"name": str(data.get("context", "")), "state": state}
