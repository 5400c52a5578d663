"""A hosted session's worktree made from its assignment, where the repo's checkout is elsewhere."""

from __future__ import annotations

from pathlib import Path

from tests.support.git import commit_all, git, make_repo, write
from trace_sync.bridge.sessions.worktree import prepare
from trace_sync.contract.bridge_protocol import Assignment, RepoRef
from trace_sync.contract.session_spec import SessionSpec


def assignment(source: Path, path: str, sid: str = "s_one") -> Assignment:
    repo = RepoRef(id="r_1", name="shop", source=str(source), path=path, default_branch="main")
    spec = SessionSpec(repo_id="r_1", tool="shell")
    return Assignment(
        session_id=sid, workspace_id="w_1", spec=spec, repo=repo, branch=f"trace/work-{sid}"
    )


async def test_a_repo_that_is_not_on_this_machine_is_cloned_from_its_source(
    tmp_path: Path,
) -> None:
    source = make_repo(tmp_path / "upstream", branch="main", files={"app.py": "print(1)\n"})
    data = tmp_path / "bridge"
    made = await prepare(assignment(source, "/srv/elsewhere/shop"), data)
    assert made.how == "created" and made.tree.checkout == data / "repos" / "r_1"
    assert (made.tree.path / "app.py").read_text() == "print(1)\n"
    assert git(made.tree.path, "branch", "--show-current") == "trace/work-s_one"
    write(source, {"app.py": "print(2)\n"})
    commit_all(source, "two")
    later = await prepare(assignment(source, "/srv/elsewhere/shop", "s_two"), data)
    assert (later.tree.path / "app.py").read_text() == "print(2)\n"  # fetched first
    again = await prepare(assignment(source, "/srv/elsewhere/shop"), data)
    assert again.how == "opened" and again.tree.path == made.tree.path
