"""The contract: what a server, a bridge, the CLI and the app agree on, with no I/O.

Wire protocols (``/bridge`` messages, y-protocols framing), the tool and
permission vocabulary, a session's launch parameters, the one table of
errors, HTTP statuses and close codes, and where local files live. Nothing
here opens a socket, a file or a database, and nothing imports the server.
"""
