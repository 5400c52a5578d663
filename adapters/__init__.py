"""Coding-tool and container-host adapters, used by the bridge through its registry."""
