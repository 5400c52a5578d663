"""Tokens, principals and the one permission policy."""

from trace_sync.auth.authenticator import Authenticator
from trace_sync.auth.gate import Gate, Gatekeeper
from trace_sync.auth.policy import Policy
from trace_sync.auth.principal import Access, Principal

__all__ = ["Access", "Authenticator", "Gate", "Gatekeeper", "Policy", "Principal"]
