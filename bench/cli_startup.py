"""CLI start-up: ``trace --help`` and ``trace session list --json`` against a
client's own imports, in the same run.

    python bench/cli_startup.py [--runs 15]

The reference is what any client of Trace must load anyway:
``python -c "import httpx, pycrdt, pydantic, websockets"``. Each command is
run ``--runs`` times as a whole process (``session list`` against a real
server subprocess on loopback, started here with its own data dir); the
script prints each median wall time and its ratio to the reference's median.
The commands take turns, run after run, so that a change of load on the
machine weighs on all of them alike. Target: at most 1.5x.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server_process import running_server  # noqa: E402

REFERENCE = [sys.executable, "-c", "import httpx, pycrdt, pydantic, websockets"]
TRACE = [sys.executable, "-m", "trace_sync.cli"]
TARGET = 1.5


Case = tuple[list[str], dict[str, str] | None]


def median_walls(cases: dict[str, Case], runs: int) -> dict[str, float]:
    """Each case's median wall time, the cases taking turns."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (argv, env) in cases.items():
            start = time.perf_counter()
            subprocess.run(argv, env=env, cwd=ROOT, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(walls) for name, walls in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        env = server.env()
        cases: dict[str, Case] = {
            "reference (client imports)": (REFERENCE, None),
            "trace --help": ([*TRACE, "--help"], env),
            "trace session list --json": ([*TRACE, "session", "list", "--json"], env),
        }
        medians = median_walls(cases, runs)
    reference = medians["reference (client imports)"]
    print(f"{'command':32} {'median':>8} {'ratio':>6}   (runs: {runs}, target <= {TARGET}x)")
    for name, value in medians.items():
        ratio = value / reference
        mark = "" if name.startswith("reference") or ratio <= TARGET else "  over target"
        print(f"{name:32} {value * 1000:6.0f} ms {ratio:5.2f}x{mark}")


if __name__ == "__main__":
    main()
