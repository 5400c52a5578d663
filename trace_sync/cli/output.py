"""Human-readable tables by default, JSON with ``--json``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from trace_sync.cli.lazy import Handler


def show(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(list(rows), indent=2))
        return
    cells = [[_cell(row.get(c), c) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _cell(value: Any, name: str) -> str:
    if value is None:
        return "-"
    if name.endswith("_bytes") and isinstance(value, int):
        return _size(value)
    if name.endswith("_usd") and isinstance(value, int | float):
        return money(value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id"))
    return str(value)


def show_one(record: dict[str, Any], fields: Sequence[str], as_json: bool) -> None:
    """One record as ``field: value`` lines (or JSON)."""
    if as_json:
        print(json.dumps(record, indent=2))
        return
    width = max(len(f) for f in fields)
    for name in fields:
        print(f"{name.ljust(width)}  {_cell(record.get(name), name)}")


def money(usd: float) -> str:
    """``8.4e-05`` → ``$0.000084``; cents once there are any (``--json`` keeps the number)."""
    return f"${usd:,.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.6f}"


def _size(count: int) -> str:
    """``4034560`` → ``3.8 MiB``: byte counts read by people (``--json`` keeps the number)."""
    amount, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            break
        amount /= 1024
    return f"{count} B" if unit == "B" else f"{amount:.1f} {unit}"


def quiet_pipe(run: Handler) -> Handler:
    """``run``, ending with status 0 when whoever reads its output stops reading."""

    def guarded(args: argparse.Namespace) -> None:
        try:
            run(args)
            sys.stdout.flush()
        except BrokenPipeError:
            # Python flushes stdout again at exit: point it at nothing first.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)

    return guarded
