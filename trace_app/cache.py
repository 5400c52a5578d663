"""Saved API answers (who am I, the session list) in the app's local document,
so the app shows the last state when it starts with the server down."""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, Map

ORIGIN = "trace-app-cache"


def cache_put(doc: Doc[Any], key: str, value: Any) -> None:
    with doc.transaction(origin=ORIGIN):
        doc.get("cache", type=Map)[key] = value


def cache_get(doc: Doc[Any], key: str) -> Any:
    return doc.get("cache", type=Map).get(key)
