"""Tests that need a part this machine lacks skip, saying what to install;
under CI (``CI=true``), where every part must be present, they fail instead."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(message: str) -> NoReturn:
    """Skip (or, under CI, fail) because a part is missing; ``message`` says what to install."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
