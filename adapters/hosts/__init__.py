"""Runtime hosts: where bridges for cloud sessions run (sandbox, docker).

Loaded by the server through ``trace_sync.runtime.hosts.HOSTS`` only.
"""
