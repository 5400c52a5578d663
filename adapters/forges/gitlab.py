"""GitLab's REST API (v4): merge requests, their approvals and pipelines.

https://docs.gitlab.com/api/merge_requests/ and /api/merge_request_approvals/.
A merge request's number is its ``iid``; the project is its URL-encoded path.
GitLab merges by the project's own method: ``squash`` is asked for, ``rebase``
is refused here (the project's setting decides it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from trace_sync.contract.errors import InvalidInput
from trace_sync.services.forges.forge import MAX_ITEMS, MergeMethod, Place, PullRequest, call

_STATE = {"opened": "open", "merged": "merged", "closed": "closed", "locked": "open"}
_PIPELINE = {"success": "success", "failed": "failure", "canceled": "failure"}


class GitLab:
    def __init__(self, place: Place, token: str, http: httpx.AsyncClient) -> None:
        self._project = f"{place.api_url.rstrip('/')}/projects/{quote(place.project, safe='')}"
        self._http = http
        self._headers = {"PRIVATE-TOKEN": token, "Accept": "application/json"}

    async def open(self, head: str, base: str, title: str, body: str) -> PullRequest:
        asked = {"source_branch": head, "target_branch": base, "title": title,
                 "description": body}  # fmt: skip
        return _request(await self._call("POST", "/merge_requests", json=asked))

    async def get(self, number: int) -> PullRequest:
        found = _request(await self._call("GET", f"/merge_requests/{number}"))
        approvals = await self._call("GET", f"/merge_requests/{number}/approvals") or {}
        pipelines = await self._call("GET", f"/merge_requests/{number}/pipelines") or []
        approved = approvals.get("approved_by") or []
        return PullRequest(
            **vars(found)
            | {
                "reviews": [_approval(a) for a in approved[:MAX_ITEMS]],
                "checks": [_pipeline(p) for p in pipelines[:MAX_ITEMS]],
            }
        )

    async def merge(self, number: int, method: MergeMethod) -> PullRequest:
        if method == "rebase":
            raise InvalidInput("GitLab merges by the project's own method: merge or squash")
        await self._call(
            "PUT", f"/merge_requests/{number}/merge", json={"squash": method == "squash"}
        )
        return await self.get(number)

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        return await call(self._http, "GitLab", method, self._project + path, self._headers, **kw)


def _request(data: dict[str, Any]) -> PullRequest:
    status = str(data.get("detailed_merge_status") or data.get("merge_status") or "")
    mergeable = None if status in ("", "checking", "unchecked") else status in (
        "mergeable", "can_be_merged")  # fmt: skip
    return PullRequest(
        number=int(data["iid"]),
        url=str(data.get("web_url", "")),
        state=_STATE.get(str(data.get("state")), "open"),
        title=str(data.get("title", "")),
        head_sha=data.get("sha"),
        mergeable=mergeable,
    )


def _approval(data: dict[str, Any]) -> dict[str, str]:
    return {"author": str((data.get("user") or {}).get("username", "")), "state": "approved"}


def _pipeline(data: dict[str, Any]) -> dict[str, str]:
    status = str(data.get("status", ""))
    return {"name": f"pipeline {data.get('id')}", "state": _PIPELINE.get(status, "pending")}
