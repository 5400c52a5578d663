"""Token strings: unguessable, parsed strictly, compared by hash."""

from __future__ import annotations

from trace_sync.auth.tokens import (
    format_token,
    hash_secret,
    new_code,
    new_secret,
    parse_token,
    secret_matches,
)


def test_a_formatted_token_parses_back() -> None:
    secret = new_secret()
    parsed = parse_token(format_token("t_abc123", secret))
    assert parsed is not None
    assert (parsed.token_id, parsed.secret) == ("t_abc123", secret)


def test_secrets_differ_and_only_the_right_one_matches() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and len(first) >= 40
    assert secret_matches(first, hash_secret(first))
    assert not secret_matches(second, hash_secret(first))


def test_foreign_and_oversized_strings_are_not_tokens() -> None:
    for junk in ["", "Bearer x", "trace_t_a_short", "trace_../x_" + "a" * 40, "x" * 10_000]:
        assert parse_token(junk) is None


def test_codes_people_paste_never_read_as_an_option() -> None:
    # token_urlsafe starts with "-" one time in 64: "trace workspace join -x..." failed in CI
    codes = [new_code() for _ in range(2000)]
    assert all(code.isalnum() and len(code) == 32 for code in codes)
    assert len(set(codes)) == len(codes)
