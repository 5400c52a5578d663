"""The websocket sync endpoint: rooms, per-client queues, awareness, permissions, limits."""

from trace_sync.sync.endpoint import SyncServer
from trace_sync.sync.rooms import Rooms

__all__ = ["Rooms", "SyncServer"]
