"""Commands whose handlers load only when they run.

``trace --help`` or ``trace session list`` must not pay for importing the
server, the store or Flet: a command that needs them names its handler as
``"module:function"``, imported when that command is chosen.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], None]


def lazy(target: str) -> Handler:
    """The handler at ``target`` (``"package.module:function"``), imported on first call."""
    module, _, name = target.partition(":")

    def run(args: argparse.Namespace) -> None:
        handler: Handler = getattr(importlib.import_module(module), name)
        handler(args)

    return run
