"""Sign-in codes in memory: per-user caps and the failure window, on a fake clock."""

from __future__ import annotations

import pytest

from trace_sync.contract.errors import RateLimited, Unauthorized
from trace_sync.services.signin import (
    FAILURE_WINDOW_S,
    MAX_FAILURES,
    MAX_OPEN_CODES_PER_USER,
    SignInCodes,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_each_user_has_their_own_cap() -> None:
    codes = SignInCodes()
    owners = await codes.mint("u_owner")
    minted = [await codes.mint("u_member") for _ in range(MAX_OPEN_CODES_PER_USER + 5)]
    assert await codes.redeem(owners, "1.2.3.4") == "u_owner"
    with pytest.raises(Unauthorized):
        await codes.redeem(minted[0], "1.2.3.4")
    assert await codes.redeem(minted[-1], "1.2.3.4") == "u_member"


async def test_the_failure_window_holds_one_address_for_a_minute_only() -> None:
    clock = Clock()
    codes = SignInCodes(clock=clock)
    for _ in range(MAX_FAILURES):
        with pytest.raises(Unauthorized):
            await codes.redeem("wrong", "10.0.0.1")
    good = await codes.mint("u_ada")
    with pytest.raises(RateLimited, match="try again in 60 s"):
        await codes.redeem(good, "10.0.0.1")
    assert (
        await codes.redeem(await codes.mint("u_bob"), "10.0.0.2") == "u_bob"
    )  # others are not held
    clock.now += FAILURE_WINDOW_S
    assert await codes.redeem(good, "10.0.0.1") == "u_ada"


async def test_codes_expire() -> None:
    clock = Clock()
    codes = SignInCodes(lifetime_s=60, clock=clock)
    code = await codes.mint("u_ada")
    clock.now += 61
    with pytest.raises(Unauthorized):
        await codes.redeem(code, "10.0.0.1")
