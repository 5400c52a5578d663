"""Which forge a repo's remote is on: known hosts by name, others as declared."""

from __future__ import annotations

import pytest

from trace_sync.contract.errors import Conflict
from trace_sync.services.forges.forge import Place
from trace_sync.services.forges.places import place_of


@pytest.mark.parametrize(
    ("url", "place"),
    [
        ("git@github.com:acme/shop.git", Place("github", "https://api.github.com", "acme/shop")),
        ("https://github.com/acme/shop", Place("github", "https://api.github.com", "acme/shop")),
        (
            "ssh://git@gitlab.com/grp/sub/app.git",
            Place("gitlab", "https://gitlab.com/api/v4", "grp/sub/app"),
        ),
        (
            "https://codeberg.org/acme/shop.git",
            Place("gitea", "https://codeberg.org/api/v1", "acme/shop"),
        ),
    ],
)
def test_well_known_hosts_are_recognised(url: str, place: Place) -> None:
    assert place_of(url) == place


def test_a_self_hosted_forge_is_declared_and_its_api_found_on_its_host() -> None:
    assert place_of("https://git.example.com/acme/shop.git", "gitea") == Place(
        "gitea", "https://git.example.com/api/v1", "acme/shop"
    )
    with pytest.raises(Conflict, match="declare it"):
        place_of("https://git.example.com/acme/shop.git")


def test_credentials_in_a_remote_never_reach_a_message() -> None:
    with pytest.raises(Conflict) as refused:
        place_of("https://bob:s3cret@git.example.com/shop")
    assert "s3cret" not in str(refused.value)
