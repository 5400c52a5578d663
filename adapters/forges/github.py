"""GitHub's REST API (v2022-11-28): pulls, their reviews, the head's check runs.

https://docs.github.com/en/rest/pulls/pulls, /pulls/reviews, /checks/runs.
"""

from __future__ import annotations

from typing import Any

import httpx

from trace_sync.services.forges.forge import MAX_ITEMS, MergeMethod, Place, PullRequest, call

_REVIEW = {"APPROVED": "approved", "CHANGES_REQUESTED": "changes_requested"}
_DONE = {"success": "success", "neutral": "success", "skipped": "success"}


class GitHub:
    def __init__(self, place: Place, token: str, http: httpx.AsyncClient) -> None:
        self._repo = f"{place.api_url.rstrip('/')}/repos/{place.project}"
        self._http = http
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    async def open(self, head: str, base: str, title: str, body: str) -> PullRequest:
        made = await self._call("POST", "/pulls", json={"title": title, "head": head,
                                                         "base": base, "body": body})  # fmt: skip
        return pull_request(made)

    async def get(self, number: int) -> PullRequest:
        found = pull_request(await self._call("GET", f"/pulls/{number}"))
        reviews = await self._call("GET", f"/pulls/{number}/reviews")
        checks: dict[str, Any] = {"check_runs": []}
        if found.head_sha:
            checks = await self._call("GET", f"/commits/{found.head_sha}/check-runs")
        return PullRequest(
            **vars(found)
            | {
                "reviews": [_review(r) for r in reviews[:MAX_ITEMS]],
                "checks": [_check(c) for c in checks.get("check_runs", [])[:MAX_ITEMS]],
            }
        )

    async def merge(self, number: int, method: MergeMethod) -> PullRequest:
        await self._call("PUT", f"/pulls/{number}/merge", json={"merge_method": method})
        return await self.get(number)

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        return await call(self._http, "GitHub", method, self._repo + path, self._headers, **kw)


def pull_request(data: dict[str, Any]) -> PullRequest:
    """A pull request in GitHub's shape (Gitea answers in the same one)."""
    state = "merged" if data.get("merged") else str(data.get("state", "open"))
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url", "")),
        state=state,
        title=str(data.get("title", "")),
        head_sha=(data.get("head") or {}).get("sha"),
        mergeable=data.get("mergeable"),
    )


def _review(data: dict[str, Any]) -> dict[str, str]:
    author = str((data.get("user") or {}).get("login", ""))
    return {"author": author, "state": _REVIEW.get(str(data.get("state")), "commented")}


def _check(data: dict[str, Any]) -> dict[str, str]:
    if data.get("status") != "completed":
        state = "pending"
    else:
        state = _DONE.get(str(data.get("conclusion")), "failure")
    return {"name": str(data.get("name", "")), "state": state}
