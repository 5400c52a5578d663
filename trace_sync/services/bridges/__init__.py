"""The server's side of bridges: registry, liveness, placement, grants, requests."""
