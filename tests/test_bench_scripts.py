"""Every ``bench/`` script still loads: they run by hand, not in the suite, and a renamed
name they import went unnoticed once (``terminal_tabs.py`` failed at its first line)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize(
    "script", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")
)
def test_a_bench_script_loads(script: str) -> None:
    module = importlib.import_module(f"bench.{script}")
    assert module.__doc__, f"bench/{script}.py says what it measures in its docstring"
