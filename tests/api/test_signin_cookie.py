"""The sign-in cookie: HttpOnly and SameSite always, Secure when the server is
served over https, 30 days of life renewed by every request it authenticates."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.live import serve
from trace_sync.settings import Settings, sqlite_url

THIRTY_DAYS = 30 * 86400


@pytest.mark.parametrize("public_url", ["https://trace.example", None])
async def test_the_cookie_is_secure_under_https_and_lives_thirty_days(
    tmp_path: Path, public_url: str | None
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=sqlite_url(tmp_path / "t.db"), public_url=public_url
    )
    async with serve(settings) as live, httpx.AsyncClient(base_url=live.url) as http:
        code = await live.ctx.signin.mint(live.ctx.owner.user_id)
        signed_in = await http.get("/signin", params={"code": code})
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert f"Max-Age={THIRTY_DAYS}" in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert ("Secure" in cookie) is (public_url is not None)
        token = signed_in.cookies["trace_token"]
        http.cookies.clear()
        used = await http.get("/api/me", headers={"Cookie": f"trace_token={token}"})
        assert used.status_code == 200
        renewed = used.headers["set-cookie"]
        assert f"trace_token={token}" in renewed and f"Max-Age={THIRTY_DAYS}" in renewed
        bearer = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert "set-cookie" not in bearer.headers
