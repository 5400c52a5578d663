"""Which repository sources are cloned, which are the server's disk, which are refused."""

from __future__ import annotations

import pytest

from trace_sync.contract.errors import InvalidInput
from trace_sync.contract.repo_urls import is_remote, kind_of, scheme_of


@pytest.mark.parametrize(
    ("source", "scheme"),
    [
        ("https://github.com/acme/shop.git", "https"),
        ("http://127.0.0.1:8080/shop.git", "http"),
        ("git://git.kernel.org/pub/scm/git/git.git", "git"),
        ("ssh://git@example.com:2222/acme/shop.git", "ssh"),
        ("git+ssh://example.com/acme/shop", "ssh"),
        ("git@github.com:acme/shop.git", "ssh"),
        ("example.com:acme/shop.git", "ssh"),
        ("deploy@[::1]:shop.git", "ssh"),
    ],
)
def test_every_remote_form_git_accepts_is_cloned(source: str, scheme: str) -> None:
    assert kind_of(source) == "remote" and is_remote(source)
    assert scheme_of(source) == scheme


@pytest.mark.parametrize(
    "source", ["/srv/git/shop.git", "shop", "./a/b:c", "file:///srv/git/shop.git", "C:\\repos\\x"]
)
def test_paths_and_file_urls_are_the_servers_disk(source: str) -> None:
    assert kind_of(source) == "server_path" and not is_remote(source)


@pytest.mark.parametrize(
    "source",
    [
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "--upload-pack=touch /tmp/pwned",
        "-oProxyCommand=x@host:path",
        "ssh://-oProxyCommand=touch%20x/shop",
        "git@-oProxyCommand=x:shop",
        "gopher://example.com/shop",
        "https://example.com/shop\n.git",
        "",
    ],
)
def test_forms_that_run_commands_or_git_cannot_clone_are_refused(source: str) -> None:
    with pytest.raises(InvalidInput):
        kind_of(source)
    assert not is_remote(source)
