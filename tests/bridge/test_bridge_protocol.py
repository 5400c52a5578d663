"""Control messages: round trips, forward compatibility, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trace_sync.contract import bridge_protocol as p
from trace_sync.contract.session_spec import SessionSpec


def test_every_message_survives_a_round_trip() -> None:
    assignment = p.Assignment(
        session_id="s_1",
        workspace_id="w_1",
        repo=p.RepoRef(
            id="r_1", name="app", source="/src/app", path="/src/app", default_branch="main"
        ),
        spec=SessionSpec(repo_id="r_1", tool="shell", base_branch="main"),
        branch="trace/fix-1",
        setup=p.SetupSpec(copy=[".env"], command="make setup"),
        parent=p.ParentRef(session_id="s_0", checkpoint=2),
    )
    from_server: list[p.ServerMessage] = [
        p.Welcome(runtime_id="rt_1", heartbeat_s=5, lease_s=20, assignments=[assignment]),
        p.Assign(**assignment.model_dump()),
        p.Unassign(session_id="s_1"),
        p.TerminalOpen(session_id="s_1", terminal_id="tm_1", opened_by="u_1", cols=100, rows=30),
        p.TerminalInput(session_id="s_1", terminal_id="tm_1", data="ls\r"),
        p.TerminalResize(session_id="s_1", terminal_id="tm_1", cols=120, rows=40),
        p.TerminalClose(session_id="s_1", terminal_id="tm_1"),
        p.Request(id="q_1", op="read_file", session_id="s_1", args={"path": "README.md"}),
        p.ErrorMessage(code=4409, message="taken over"),
    ]
    for message in from_server:
        assert p.parse_server_message(p.encode(message)) == message
    from_bridge: list[p.BridgeMessage] = [
        p.Hello(
            instance_id="i_1",
            name="laptop",
            hosting=["s_1"],
            tools=[p.ToolInfo(name="codex", available=True)],
        ),
        p.Heartbeat(at=datetime.now(UTC), sessions={"s_1": p.SessionHealth(cpu_percent=3.5)}),
        p.Reply(id="q_1", ok=True, result={"text": "hello"}),
        p.Reply(id="q_2", ok=False, error=p.ReplyError(code="not_found", message="no file")),
        p.Event(session_id="s_1", kind="terminal.closed", payload={"terminal_id": "tm_1"}),
    ]
    for message in from_bridge:
        assert p.parse_bridge_message(p.encode(message)) == message


def test_the_setup_copy_list_is_called_copy_on_the_wire() -> None:
    assert '"copy":[".env"]' in p.encode(p.SetupSpec(copy=[".env"]))


def test_unknown_types_and_fields_are_tolerated() -> None:
    assert p.parse_bridge_message('{"type": "telemetry", "x": 1}') == p.Unknown("telemetry")
    hello = p.parse_bridge_message('{"type": "hello", "instance_id": "i", "name": "n", "new": 1}')
    assert isinstance(hello, p.Hello) and hello.protocol == p.PROTOCOL


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": 7}',
        '{"type": "hello"}',
        '{"type": "reply", "id": "q", "ok": false}',
        '{"type": "hello", "instance_id": "../etc", "name": "n"}',
        '{"type": "heartbeat", "at": "yesterday"}',
    ],
)
def test_malformed_frames_are_refused(frame: str) -> None:
    with pytest.raises(p.BridgeProtocolError):
        p.parse_bridge_message(frame)


def test_terminal_input_is_bounded() -> None:
    frame = p.encode(p.TerminalInput(session_id="s", terminal_id="t", data="x"))
    too_big = frame.replace('"x"', '"' + "x" * (p.MAX_TERMINAL_DATA + 1) + '"')
    with pytest.raises(p.BridgeProtocolError, match="data"):
        p.parse_server_message(too_big)
