"""``python -m trace_sync.cli``: the ``trace`` command (how the server starts its local bridge)."""

from trace_sync.cli import main

main()
