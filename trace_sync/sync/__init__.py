"""The websocket endpoints: ``/sync/<document>`` (rooms, per-client queues,
awareness, permissions, limits) and ``/bridge`` (bridges' control sockets)."""
