"""The live server fixture of the sync tests."""

from tests.sync.conftest import server  # noqa: F401  (a fixture)
