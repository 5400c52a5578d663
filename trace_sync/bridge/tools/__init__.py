"""Coding tools: the adapter interface, the registry, and what every tool run shares."""
