"""What the CLI prints for people, and for scripts."""

from __future__ import annotations

import json

import pytest

from trace_sync.cli.output import show, show_one


def test_byte_counts_read_as_sizes_for_people_and_stay_numbers_in_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    record = {"id": "s_1", "memory_bytes": 4_034_560, "disk_bytes": 512, "cpu_percent": None}
    show_one(record, list(record), as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "id            s_1",
        "memory_bytes  3.8 MiB",
        "disk_bytes    512 B",
        "cpu_percent   -",
    ]
    show([record], ["id", "memory_bytes"], as_json=True)
    assert json.loads(capsys.readouterr().out)[0]["memory_bytes"] == 4_034_560
