"""Shell sessions hosted by a real bridge: worktrees, terminals, prompts, pause and resume."""

from __future__ import annotations

import time

import psutil

from tests.conftest import eventually
from tests.hosting.conftest import Hosting
from tests.support.git import git


async def test_a_prompt_runs_in_a_new_worktree_and_its_output_streams_into_io(
    hosting: Hosting,
) -> None:
    began = time.monotonic()
    sid = await hosting.start(prompt="pwd; echo hi-$((40 + 2))")
    async with hosting.io(sid) as io:
        await io.shows("hi-42")
        first_output = time.monotonic() - began
        assert str(hosting.worktree(sid)) in io.output()
        await io.status("idle")
        runtime = io.runtime()
        assert runtime["worktree"] == str(hosting.worktree(sid))
        assert runtime["branch"].startswith("trace/") and runtime["prompts_taken"] == 1
        assert io.kinds() == ["user_prompt"] and io.transcript()[0]["text"].startswith("pwd")
        assert io.terminals()["tool"]["kind"] == "tool"
        # Health at each heartbeat: the shell's memory, the worktree's disk use.
        await eventually(lambda: (io.runtime().get("memory_bytes") or 0) > 0)
        assert io.runtime()["disk_bytes"] > 0 and "heartbeat_at" in io.runtime()
    await hosting.status(sid, "idle")
    branch = git(hosting.worktree(sid), "branch", "--show-current")
    assert branch == runtime["branch"]
    print(f"\nsession start -> first output in io: {first_output * 1000:.0f} ms")


async def test_a_member_with_a_grant_types_into_a_terminal_and_a_viewer_cannot(
    hosting: Hosting,
) -> None:
    bed = hosting.bed
    sid = await hosting.start()
    await hosting.status(sid, "idle")
    runtime_id = hosting.bridge.runtime_id
    asked = await hosting.api(
        "POST", f"/api/runtimes/{runtime_id}/grants", bed.member, capabilities=["terminal"]
    )
    await hosting.api("POST", f"/api/grants/{asked.json()['id']}/approve")
    opened = await hosting.api("POST", f"/api/sessions/{sid}/terminals", bed.member, cols=100)
    assert opened.status_code == 201
    tid = opened.json()["terminal_id"]
    base = f"/api/sessions/{sid}/terminals"
    # The shell carries the session's mark: a restarted bridge ends what it left running.
    mine = "echo by-mia-$TRACE_SESSION_ID\r"
    typed = await hosting.api("POST", f"{base}/{tid}/input", bed.member, data=mine)
    assert typed.status_code == 204
    refused = await hosting.api("POST", f"{base}/{tid}/input", bed.viewer, data="echo no\r")
    assert refused.status_code == 403
    into_tool = await hosting.api("POST", f"{base}/tool/input", bed.member, data="echo tool-too\r")
    assert into_tool.status_code == 204
    async with hosting.io(sid) as io:
        await io.shows(f"by-mia-{sid}", tid)
        await io.shows("tool-too")
        assert "echo no" not in io.output(tid)
        info = io.terminals()[tid]
        assert (info["opened_by"], info["kind"], info["cols"]) == (bed.member.id, "shell", 100)
        closed = await hosting.api("DELETE", f"{base}/{tid}", bed.member)
        assert closed.status_code == 204
        await eventually(lambda: io.terminals()[tid]["state"] == "exited")


async def test_pause_and_resume_stop_and_continue_every_process_of_the_tool(
    hosting: Hosting,
) -> None:
    sid = await hosting.start(prompt="sleep 300")
    async with hosting.io(sid) as io:
        await io.status("running")
        await eventually(lambda: io.runtime().get("pid") is not None)
        leader = psutil.Process(int(io.runtime()["pid"]))

        def sleeper() -> psutil.Process | None:
            for child in leader.children(recursive=True):
                if child.cmdline()[:2] == ["sleep", "300"]:
                    return child
            return None

        await eventually(lambda: sleeper() is not None)
        job = sleeper()
        assert job is not None
        # Pause is offered once the server says running (its row follows io: a loaded
        # machine showed it still starting here, and pausing a start is refused).
        await hosting.status(sid, "running")
        assert (await hosting.api("POST", f"/api/sessions/{sid}/pause")).status_code == 200
        stopped = psutil.STATUS_STOPPED
        await eventually(lambda: leader.status() == stopped and job.status() == stopped)
        await io.status("paused")
        assert await hosting.bed.status(sid) == "paused"
        assert (await hosting.api("POST", f"/api/sessions/{sid}/resume")).status_code == 200
        await eventually(lambda: leader.status() != stopped and job.status() != stopped)
        await hosting.status(sid, "running")
        assert job.is_running()
    timeline = await hosting.bed.timeline(sid)
    assert timeline.index("session.paused") < timeline.index("session.resumed")


async def test_a_prompt_waits_for_the_turn_and_an_interrupting_one_ends_it(
    hosting: Hosting,
) -> None:
    sid = await hosting.start(prompt="sleep 300; echo slept")
    async with hosting.io(sid) as io:
        await io.status("running")
        await eventually(lambda: io.runtime().get("pid") is not None)
        shell = psutil.Process(int(io.runtime()["pid"]))
        await eventually(lambda: any(c.name() == "sleep" for c in shell.children()))
        queued = await hosting.api("POST", f"/api/sessions/{sid}/prompts", text="echo queued-one")
        assert queued.status_code == 201
        await hosting.api(
            "POST", f"/api/sessions/{sid}/prompts", text="echo urgent", mode="interrupt"
        )
        await io.shows("urgent\r\n")
        output = io.output()
        # Typed during the turn, the queued line would have been flushed by the Ctrl-C.
        assert "\r\nslept" not in output
        assert output.index("queued-one\r\n") < output.index("urgent\r\n")
        await io.status("idle")
        prompts = [e["text"] for e in io.transcript() if e["kind"] == "user_prompt"]
        assert prompts == ["sleep 300; echo slept", "echo queued-one", "echo urgent"]
        assert io.runtime()["prompts_taken"] == 3
