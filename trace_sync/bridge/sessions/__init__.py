"""One hosted session: its documents, worktree, tool, terminals and sealed logs."""
