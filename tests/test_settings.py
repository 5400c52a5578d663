"""Settings read from the environment: ``TRACE_REDIS_PREFIX``."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace_sync.settings import Settings, SettingsError


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"TRACE_DATA_DIR": str(tmp_path), **env})


def test_keys_start_with_trace_unless_told_otherwise(tmp_path: Path) -> None:
    assert settings(tmp_path).redis_prefix == "trace:"
    assert settings(tmp_path, TRACE_REDIS_PREFIX="").redis_prefix == "trace:"
    staging = settings(tmp_path, TRACE_REDIS_PREFIX="Trace_staging-2.eu:")
    assert staging.redis_prefix == "Trace_staging-2.eu:"
    assert settings(tmp_path, TRACE_REDIS_PREFIX="x" * 64).redis_prefix == "x" * 64


@pytest.mark.parametrize("prefix", ["x" * 65, "trace staging:", "trace/a:", "tråce:", "a*", "a\n"])
def test_a_prefix_redis_patterns_or_people_would_misread_is_refused(
    tmp_path: Path, prefix: str
) -> None:
    with pytest.raises(SettingsError, match="TRACE_REDIS_PREFIX must be 1 to 64"):
        settings(tmp_path, TRACE_REDIS_PREFIX=prefix)
