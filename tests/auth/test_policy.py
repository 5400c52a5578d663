"""The permission policy: every role against every kind of document."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from trace_sync.auth.policy import Policy
from trace_sync.auth.principal import Access, Principal
from trace_sync.contract.errors import NotFound
from trace_sync.store.records import Role, SessionAccess, TokenKind


@dataclass
class TableFacts:
    """In-memory facts for the policy's unit tests (the store provides the real ones)."""

    roles: dict[tuple[str, str], Role] = field(default_factory=dict)
    sessions: dict[str, SessionAccess] = field(default_factory=dict)

    async def role_of(self, workspace_id: str, user_id: str) -> Role | None:
        return self.roles.get((workspace_id, user_id))

    async def access(self, session_id: str) -> SessionAccess | None:
        return self.sessions.get(session_id)


def user(uid: str) -> Principal:
    return Principal(uid, uid, f"t_{uid}")


def runtime(rid: str) -> Principal:
    return Principal("u_bridge", "bridge", "t_rt", TokenKind.RUNTIME, rid)


@pytest.fixture
def policy() -> Policy:
    facts = TableFacts()
    for uid, role in [("own", Role.OWNER), ("adm", Role.ADMIN), ("mem", Role.MEMBER)]:
        facts.roles[("w1", uid)] = role
    facts.roles[("w1", "view")] = Role.VIEWER
    facts.roles[("w1", "mem2")] = Role.MEMBER
    facts.sessions["s1"] = SessionAccess("s1", "w1", "mem", private=False, runtime_id="r1")
    facts.sessions["p1"] = SessionAccess("p1", "w1", "mem", private=True, runtime_id="r1")
    return Policy(facts, facts)


R, RW = Access(write=False), Access(write=True)


@pytest.mark.parametrize(
    ("who", "doc", "expected"),
    [
        ("own", "workspace/w1", R),
        ("view", "workspace/w1", R),
        ("mem", "session/s1", R),
        ("mem", "session/s1/io", R),
        ("mem", "session/s1/log/000001", R),
        ("mem", "session/s1/notes", RW),
        ("adm", "session/s1/notes", RW),
        ("view", "session/s1/notes", R),
        ("view", "session/s1/io", R),
        ("mem", "session/p1/notes", RW),  # the creator of a private session
        ("adm", "session/p1", R),  # admins see private sessions
        ("own", "session/p1/notes", RW),
    ],
)
async def test_members_get_the_access_of_their_role(
    policy: Policy, who: str, doc: str, expected: Access
) -> None:
    assert await policy.decide(user(who), doc) == expected


@pytest.mark.parametrize(
    ("who", "doc"),
    [
        ("stranger", "workspace/w1"),
        ("stranger", "session/s1/notes"),
        ("mem2", "session/p1"),  # a private session of someone else
        ("view", "session/p1/notes"),
        ("mem", "session/nope"),
        ("mem", "workspace/w2"),
        ("mem", "not/a/document"),
        ("mem", "session/s1/../p1"),
    ],
)
async def test_what_one_may_not_see_does_not_exist(policy: Policy, who: str, doc: str) -> None:
    with pytest.raises(NotFound):
        await policy.decide(user(who), doc)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("session/s1/io", RW),
        ("session/s1/log/seg1", RW),
        ("session/s1", R),
        ("session/s1/notes", R),
        ("session/p1/io", RW),
    ],
)
async def test_a_runtime_writes_only_what_it_hosts(
    policy: Policy, doc: str, expected: Access
) -> None:
    assert await policy.decide(runtime("r1"), doc) == expected


@pytest.mark.parametrize("doc", ["session/s1/io", "workspace/w1"])
async def test_another_runtime_sees_nothing(policy: Policy, doc: str) -> None:
    with pytest.raises(NotFound):
        await policy.decide(runtime("r2"), doc)
