"""Forge adapters: one module per forge's REST API, behind
:class:`trace_sync.services.forges.forge.Forge`."""
