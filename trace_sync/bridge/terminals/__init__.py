"""Terminals: programs in PTYs whose output streams into a session's io document."""
