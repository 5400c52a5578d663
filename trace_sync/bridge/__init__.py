"""The bridge: one process of a person's (or a sandbox's) that hosts sessions.

``process`` runs it, ``link`` keeps its ``/bridge`` connection up, ``sessions``
hosts each session, ``terminals`` runs PTYs, ``tools`` drives coding tools
through their adapters, ``git`` keeps worktrees and checkpoints.
"""
