"""Several server processes on one PostgreSQL database, joined by Redis (issue 21).

``claim`` decides whether this process may serve the data at all; ``documents``
carries committed document updates between the processes through Redis streams.
"""
