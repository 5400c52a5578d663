"""The public-protocol client: ``/api`` over HTTP and ``/sync`` over websockets,
shared by the CLI, the bridge and the app."""

from trace_sync.client.api import ApiClient, ApiError
from trace_sync.client.sync_client import Disconnected, SyncClient

__all__ = ["ApiClient", "ApiError", "Disconnected", "SyncClient"]
