"""The public-protocol client (``/api`` + ``/sync``), shared by the CLI, the bridge and the app."""

from trace_sync.client.sync_client import Backoff, LinkState, SyncClient

__all__ = ["Backoff", "LinkState", "SyncClient"]
