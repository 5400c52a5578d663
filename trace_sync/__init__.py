"""Trace: a self-hosted control plane for AI coding sessions.

The server and everything shared by the server and the bridge. See
ARCHITECTURE.md for the layers: api -> services -> docs/store; sync -> docs/store.
"""

__version__ = "0.1.0"
