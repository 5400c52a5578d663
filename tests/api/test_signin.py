"""Sign-in links: one user's links never push out another's, and an address
that keeps guessing codes is held off (issue 12, item 8)."""

from __future__ import annotations

import httpx

from tests.api.conftest import Team
from trace_sync.services.signin import MAX_FAILURES, MAX_OPEN_CODES_PER_USER


async def link(t: Team, who: str) -> str:
    """The link's path (its host is the configured public one, not the test port)."""
    response = await t.api(who).post("/api/signin-links")
    assert response.status_code == 200, response.text
    url = httpx.URL(response.json()["url"])
    return f"{url.path}?{url.query.decode()}"


async def test_a_member_minting_many_links_leaves_the_owners_link_working(team: Team) -> None:
    owners = await link(team, "owner")
    members = [await link(team, "member") for _ in range(100)]
    async with httpx.AsyncClient(base_url=team.live.url) as browser:
        assert (await browser.get(owners)).status_code == 303
        assert (await browser.get(members[-1])).status_code == 303
        # the member's own oldest links made room for the newest
        assert (await browser.get(members[0])).status_code == 401
        kept = members[-MAX_OPEN_CODES_PER_USER:-1]
        assert [(await browser.get(url)).status_code for url in kept] == [303] * len(kept)


async def test_failed_signins_from_one_address_are_answered_429(team: Team) -> None:
    good = await link(team, "owner")
    async with httpx.AsyncClient(base_url=team.live.url) as browser:
        guesses = [(await browser.get(f"/signin?code=guess{n}")) for n in range(MAX_FAILURES)]
        assert {r.status_code for r in guesses} == {401}
        held_off = await browser.get("/signin?code=one-more")
        assert held_off.status_code == 429
        assert held_off.json()["error"]["code"] == "rate_limited"
        # a right code does not get through the hold either: guessing cannot go on
        assert (await browser.get(good)).status_code == 429
