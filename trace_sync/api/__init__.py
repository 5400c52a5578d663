"""Thin Starlette routes over the services; errors mapped in one place."""
