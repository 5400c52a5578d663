"""Worktrees: a git worktree per session, checkpoints, changes, merges, forks."""
