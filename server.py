"""Start Trace on the embedded default: ``python server.py`` (same as ``trace serve``)."""

import sys

from trace_sync.cli import main

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]])
