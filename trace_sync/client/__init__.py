"""The public-protocol client (``/api`` + ``/sync``), shared by the CLI, the bridge and the app."""

from trace_sync.client.api import ApiClient, ApiError
from trace_sync.client.sync_client import Backoff, LinkState, SyncClient

__all__ = ["ApiClient", "ApiError", "Backoff", "LinkState", "SyncClient"]
