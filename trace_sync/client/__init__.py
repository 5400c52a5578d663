"""The public-protocol client (``/api`` + ``/sync``), shared by the CLI, the bridge and the app.

``api`` (the HTTP API, async) and ``blocking`` (the same for the CLI), ``sync_client``
(one document kept in sync over ``/sync``) and ``reconnect`` (the one reconnect loop).
Import from the module you need: a CLI command that only lists sessions should not
pay for websockets and pycrdt.
"""
