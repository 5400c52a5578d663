"""The document layout: names, root types and entry models (the single source of truth)."""

from trace_sync.docs.names import DocKind, DocName, parse_doc_name

__all__ = ["DocKind", "DocName", "parse_doc_name"]
