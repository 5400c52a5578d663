"""Scripted forge servers: GitHub, GitLab and Gitea/Forgejo REST APIs on loopback,
answering with the request and response shapes their documentation gives.

They are scripted, not the real forges: they keep pull requests in memory, read
the head commit from the bare repository the test pushed to, refuse a missing
or wrong token as the real one does (401 and its message), and let a test
decide whether a request may merge (``mergeable``) and what reviews and
checks it has. Every request is recorded (``requests``).

>>> with scripted_forge("github", "tok", bare) as forge:  # doctest: +SKIP
...     forge.api_url  # what the repo's ``forge_url`` is set to
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = tuple[int, Any]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedForge:
    kind: str
    token: str
    bare: Path
    base_url: str = ""
    mergeable: bool = True
    approved_by: list[str] = field(default_factory=lambda: ["rita"])
    checks_pass: bool = True
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self.base_url + {"github": "", "gitlab": "/api/v4", "gitea": "/api/v1"}[self.kind]

    def head_sha(self, branch: str) -> str:
        done = subprocess.run(["git", "rev-parse", f"refs/heads/{branch}"], cwd=self.bare,
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done.stdout.strip()

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        self.requests.append(Recorded(method, path, headers, body))
        if not _AUTH[self.kind](headers, self.token):
            return 401, {"message": _DENIED[self.kind]}
        for verb, pattern, handler in _ROUTES[self.kind]:
            found = re.fullmatch(pattern, path)
            if verb == method and found:
                return handler(self, body, *found.groups())
        return 404, {"message": "Not Found"}

    def _new(self, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        if any(p["head"] == head and p["state"] == "open" for p in self.pulls.values()):
            return {}
        number = len(self.pulls) + 1
        pull = {"number": number, "title": title, "head": head, "base": base, "body": body,
                "state": "open", "sha": self.head_sha(head)}  # fmt: skip
        self.pulls[number] = pull
        return pull


# -- GitHub: docs.github.com/en/rest/pulls ------------------------------------------


def _gh_pull(forge: ScriptedForge, pull: dict[str, Any]) -> dict[str, Any]:
    merged = pull["state"] == "merged"
    return {
        "number": pull["number"],
        "html_url": f"{forge.base_url}/acme/shop/pull/{pull['number']}",
        "state": "closed" if merged else pull["state"],
        "merged": merged,
        "mergeable": forge.mergeable,
        "title": pull["title"],
        "body": pull["body"],
        "head": {"ref": pull["head"], "sha": pull["sha"]},
        "base": {"ref": pull["base"]},
    }


def _gh_create(forge: ScriptedForge, body: Any, owner: str, repo: str) -> Answer:
    pull = forge._new(body["title"], body["head"], body["base"], body.get("body", ""))
    if not pull:
        errors = [{"message": "A pull request already exists"}]
        return 422, {"message": "Validation Failed", "errors": errors}
    return 201, _gh_pull(forge, pull) | {"mergeable": None}


def _gh_get(forge: ScriptedForge, body: Any, owner: str, repo: str, n: str) -> Answer:
    pull = forge.pulls.get(int(n))
    return (200, _gh_pull(forge, pull)) if pull else (404, {"message": "Not Found"})


def _gh_reviews(forge: ScriptedForge, body: Any, owner: str, repo: str, n: str) -> Answer:
    return 200, [{"id": i, "user": {"login": who}, "state": "APPROVED", "body": ""}
                 for i, who in enumerate(forge.approved_by)]  # fmt: skip


def _gh_checks(forge: ScriptedForge, body: Any, owner: str, repo: str, sha: str) -> Answer:
    conclusion = "success" if forge.checks_pass else "failure"
    runs = [
        {"id": 1, "name": "ci", "head_sha": sha, "status": "completed", "conclusion": conclusion}
    ]
    return 200, {"total_count": 1, "check_runs": runs}


def _gh_merge(forge: ScriptedForge, body: Any, owner: str, repo: str, n: str) -> Answer:
    pull = forge.pulls.get(int(n))
    if pull is None:
        return 404, {"message": "Not Found"}
    if not forge.mergeable or pull["state"] != "open":
        return 405, {"message": "Pull Request is not mergeable"}
    pull["state"] = "merged"
    return 200, {"sha": pull["sha"], "merged": True, "message": "Pull Request successfully merged"}


# -- GitLab: docs.gitlab.com/api/merge_requests -------------------------------------


def _gl_request(forge: ScriptedForge, pull: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "id": 1000 + pull["number"],
        "iid": pull["number"],
        "web_url": f"{forge.base_url}/acme/shop/-/merge_requests/{pull['number']}",
        "state": "opened" if pull["state"] == "open" else pull["state"],
        "title": pull["title"],
        "description": pull["body"],
        "source_branch": pull["head"],
        "target_branch": pull["base"],
        "sha": pull["sha"],
        "detailed_merge_status": status,
    }


def _gl_status(forge: ScriptedForge) -> str:
    return "mergeable" if forge.mergeable else "not_approved"


def _gl_create(forge: ScriptedForge, body: Any, project: str) -> Answer:
    pull = forge._new(body["title"], body["source_branch"], body["target_branch"],
                      body.get("description", ""))  # fmt: skip
    if not pull:
        said = "Another open merge request already exists for this source branch"
        return 409, {"message": [said]}
    return 201, _gl_request(forge, pull, "checking")


def _gl_get(forge: ScriptedForge, body: Any, project: str, n: str) -> Answer:
    pull = forge.pulls.get(int(n))
    if pull is None:
        return 404, {"message": "404 Not found"}
    return 200, _gl_request(forge, pull, _gl_status(forge))


def _gl_approvals(forge: ScriptedForge, body: Any, project: str, n: str) -> Answer:
    approved = [{"user": {"id": i, "username": who}} for i, who in enumerate(forge.approved_by)]
    return 200, {"approved": bool(approved), "approved_by": approved}


def _gl_pipelines(forge: ScriptedForge, body: Any, project: str, n: str) -> Answer:
    pull = forge.pulls[int(n)]
    status = "success" if forge.checks_pass else "failed"
    return 200, [{"id": 7, "sha": pull["sha"], "ref": pull["head"], "status": status}]


def _gl_merge(forge: ScriptedForge, body: Any, project: str, n: str) -> Answer:
    pull = forge.pulls.get(int(n))
    if pull is None:
        return 404, {"message": "404 Not found"}
    if not forge.mergeable or pull["state"] != "open":
        return 405, {"message": "405 Method Not Allowed"}
    pull["state"] = "merged"
    return 200, _gl_request(forge, pull, "not_open")


# -- Gitea / Forgejo: the v1 swagger -------------------------------------------------


def _gt_pull(forge: ScriptedForge, pull: dict[str, Any]) -> dict[str, Any]:
    merged = pull["state"] == "merged"
    return {
        "id": 500 + pull["number"],
        "number": pull["number"],
        "html_url": f"{forge.base_url}/acme/shop/pulls/{pull['number']}",
        "state": "closed" if merged else pull["state"],
        "merged": merged,
        "mergeable": forge.mergeable,
        "title": pull["title"],
        "body": pull["body"],
        "head": {"ref": pull["head"], "sha": pull["sha"]},
        "base": {"ref": pull["base"]},
    }


def _gt_create(forge: ScriptedForge, body: Any, owner: str, repo: str) -> Answer:
    pull = forge._new(body["title"], body["head"], body["base"], body.get("body", ""))
    if not pull:
        return 409, {"message": "pull request already exists for these targets"}
    return 201, _gt_pull(forge, pull)


def _gt_get(forge: ScriptedForge, body: Any, owner: str, repo: str, n: str) -> Answer:
    pull = forge.pulls.get(int(n))
    return (200, _gt_pull(forge, pull)) if pull else (404, {"message": "not found"})


def _gt_reviews(forge: ScriptedForge, body: Any, owner: str, repo: str, n: str) -> Answer:
    return 200, [{"id": i, "user": {"login": who}, "state": "APPROVED"}
                 for i, who in enumerate(forge.approved_by)]  # fmt: skip


def _gt_status(forge: ScriptedForge, body: Any, owner: str, repo: str, sha: str) -> Answer:
    state = "success" if forge.checks_pass else "failure"
    return 200, {"state": state, "sha": sha, "statuses": [{"context": "ci", "status": state}]}


def _gt_merge(forge: ScriptedForge, body: Any, owner: str, repo: str, n: str) -> Answer:
    pull = forge.pulls.get(int(n))
    if pull is None:
        return 404, {"message": "not found"}
    if not forge.mergeable or pull["state"] != "open":
        return 405, {"message": "Please try again later"}
    pull["state"] = "merged"
    return 200, None


_REPO = r"/repos/([^/]+)/([^/]+)"
_GL = r"/api/v4/projects/([^/]+)/merge_requests"
_GT = r"/api/v1/repos/([^/]+)/([^/]+)"
_ROUTES: dict[str, list[tuple[str, str, Callable[..., Answer]]]] = {
    "github": [
        ("POST", f"{_REPO}/pulls", _gh_create),
        ("GET", rf"{_REPO}/pulls/(\d+)", _gh_get),
        ("GET", rf"{_REPO}/pulls/(\d+)/reviews", _gh_reviews),
        ("GET", rf"{_REPO}/commits/([0-9a-f]+)/check-runs", _gh_checks),
        ("PUT", rf"{_REPO}/pulls/(\d+)/merge", _gh_merge),
    ],
    "gitlab": [
        ("POST", _GL, _gl_create),
        ("GET", rf"{_GL}/(\d+)", _gl_get),
        ("GET", rf"{_GL}/(\d+)/approvals", _gl_approvals),
        ("GET", rf"{_GL}/(\d+)/pipelines", _gl_pipelines),
        ("PUT", rf"{_GL}/(\d+)/merge", _gl_merge),
    ],
    "gitea": [
        ("POST", f"{_GT}/pulls", _gt_create),
        ("GET", rf"{_GT}/pulls/(\d+)", _gt_get),
        ("GET", rf"{_GT}/pulls/(\d+)/reviews", _gt_reviews),
        ("GET", rf"{_GT}/commits/([0-9a-f]+)/status", _gt_status),
        ("POST", rf"{_GT}/pulls/(\d+)/merge", _gt_merge),
    ],
}
_AUTH: dict[str, Callable[[dict[str, str], str], bool]] = {
    "github": lambda h, t: h.get("authorization") == f"Bearer {t}",
    "gitlab": lambda h, t: h.get("private-token") == t,
    "gitea": lambda h, t: h.get("authorization") == f"token {t}",
}
_DENIED = {"github": "Bad credentials", "gitlab": "401 Unauthorized", "gitea": "token is required"}


@contextmanager
def scripted_forge(kind: str, token: str, bare: Path) -> Iterator[ScriptedForge]:
    """A scripted ``kind`` forge on loopback, for the project pushed to ``bare``."""
    forge = ScriptedForge(kind, token, bare)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]  # GitLab's project is one %2F-encoded part
            status, payload = forge.answer(self.command, path, headers, json.loads(raw or b"null"))
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    forge.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
