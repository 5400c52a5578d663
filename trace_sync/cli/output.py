"""Human-readable tables by default, JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


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


def _size(count: int) -> str:
    """``4034560`` → ``3.8 MiB``: byte counts read by people (``--json`` keeps the number)."""
    amount, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            break
        amount /= 1024
    return f"{count} B" if unit == "B" else f"{amount:.1f} {unit}"
