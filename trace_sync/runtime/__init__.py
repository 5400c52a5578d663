"""Runtimes: the bridge, session router, PTYs, worktrees and hosts."""
