"""Store errors: the shared tree in :mod:`trace_sync.contract.errors`, raised at this boundary.

SQLAlchemy and driver errors are translated into :class:`StoreError` (with
``from exc``); lookups of missing rows raise :class:`NotFound`; unique
violations raise :class:`Conflict`.
"""

from trace_sync.contract.errors import Conflict, NotFound, StoreError

__all__ = ["Conflict", "NotFound", "StoreError"]
