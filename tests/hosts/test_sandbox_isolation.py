"""What a process in a session's sandbox can and cannot do, tried for real under bwrap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hosts.conftest import Box
from trace_sync.contract.bridge_protocol import RepoRef
from trace_sync.contract.errors import InvalidInput


def test_the_home_directory_and_the_servers_data_dir_are_invisible(box: Box) -> None:
    done = box.run(
        f"cat {box.home}/.ssh/id_ed25519; cat {box.data_dir}/local-token;"
        f"ls -A {box.home}; echo; ls -A {box.data_dir}; echo; ls -A /root"
    )
    assert "PRIVATE KEY" not in done.stdout and "owner-token" not in done.stdout
    home, data_dir, root = done.stdout.split("\n\n")
    assert home.split() == ["code"]  # the way to the repo, nothing else
    assert data_dir.split() == ["sandboxes"]  # the way to its own directory
    # /root shows only the way to what the bridge program needs (Python, say)
    needed = {p.relative_to("/root").parts[0] for p in box.host.settings.shown if _in_root(p)}
    assert set(root.split()) <= needed


def _in_root(path: Path) -> bool:
    return Path("/root") in path.resolve().parents


def test_it_reads_its_repo_but_writes_only_in_its_own_directory(box: Box) -> None:
    own = box.folder.data
    done = box.run(
        f"cat {box.repo}/README.md; echo no > {box.repo}/README.md; echo no > /usr/escape;"
        f"echo no > {box.home}/escape; echo no > {box.data_dir}/escape;"
        f"mkdir -p {own}/worktrees && echo made > {own}/worktrees/note; echo tmp > /tmp/marker"
    )
    assert done.stdout == "hello\n"
    assert (box.repo / "README.md").read_text() == "hello\n"
    assert not any(p.exists() for p in (box.home / "escape", box.data_dir / "escape"))
    assert not Path("/usr/escape").exists()
    assert (own / "worktrees" / "note").read_text() == "made\n"
    assert not Path("/tmp/marker").exists()  # its /tmp is its own


def test_it_sees_its_own_processes_only(box: Box) -> None:
    listing = "for f in /proc/[0-9]*/cmdline; do cat $f; echo; done"
    done = box.run(f"ls /proc | grep -c '^[0-9]'; cat /proc/1/comm; hostname; {listing}")
    count, first, hostname, *command_lines = done.stdout.split("\n")
    assert int(count) < 8  # bwrap's reaper, the shell and its ls/grep/cat
    assert first == "bwrap" and hostname == "trace-sandbox"
    ours = Path("/proc/self/cmdline").read_text()
    assert ours not in command_lines  # the server (here: this test) is out of sight


def test_no_privileges_limits_and_no_sockets_of_the_server(box: Box) -> None:
    done = box.run(
        "grep CapEff /proc/self/status; ulimit -n; ulimit -c; ls -A /run; id -u;"
        "umount /usr 2>/dev/null || echo refused"
    )
    lines = done.stdout.split("\n")
    assert lines[0].split() == ["CapEff:", "0000000000000000"]
    assert lines[1:3] == ["4096", "0"]
    uid = int(lines[3])
    assert uid == (65534 if os.geteuid() == 0 else os.geteuid())  # root's server: nobody
    assert lines[4] == "refused"


def test_the_runtime_token_is_in_no_command_line(box: Box) -> None:
    done = box.run("cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; printenv TRACE_TOKEN")
    command_lines, token = done.stdout.rstrip("\n").rsplit("\n", 1)
    assert "/bin/sh" in command_lines and box.launch.token not in command_lines
    assert token == box.launch.token  # its environment has it (the bridge needs it)


def test_a_repo_that_would_show_a_hidden_place_is_refused(box: Box) -> None:
    for path in (box.home, box.home.parent):
        repo = RepoRef(id="rp_2", name="x", source=str(path), path=str(path), default_branch="m")
        launch = box.launch.__class__(**{**vars(box.launch), "repo": repo})
        with pytest.raises(InvalidInput, match="kept hidden"):
            box.host.plan(box.folder, ["true"], launch)
