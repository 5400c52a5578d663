"""Runtime hosts: where bridges for cloud sessions run (sandbox, docker).

Loaded by the server through ``trace_sync.bridge.hosts.HOSTS`` only.
"""
