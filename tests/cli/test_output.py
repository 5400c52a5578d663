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


def test_costs_read_as_money_for_people_and_stay_numbers_in_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [{"id": "s_1", "cost_usd": 8.4e-05}, {"id": "s_2", "cost_usd": 1234.5}]
    show(rows, ["id", "cost_usd"], as_json=False)
    assert capsys.readouterr().out.split()[3:] == ["$0.000084", "s_2", "$1,234.50"]
    show(rows, ["id", "cost_usd"], as_json=True)
    assert json.loads(capsys.readouterr().out)[0]["cost_usd"] == 8.4e-05
