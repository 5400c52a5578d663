"""Start a program that outlives its caller: ``python -m trace_sync.bridge.detach LOG -- ARGV``.

The program runs in a session of its own with its output appended to ``LOG``;
this process prints its pid and exits at once, so the program is reparented
to init and is never the caller's child: the caller has no zombie to reap when
it ends, and its own exit or kill is not the program's. The local bridge is
started this way (see :mod:`trace_sync.bridge.local`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    log, separator, *program = argv
    if separator != "--" or not program:
        raise SystemExit("usage: python -m trace_sync.bridge.detach LOG -- PROGRAM [ARGS...]")
    with Path(log).open("ab") as out:
        child = subprocess.Popen(
            program,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(child.pid, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
