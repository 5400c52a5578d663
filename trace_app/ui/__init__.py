"""The Flet views: thin drawings of :mod:`trace_app.client` state, one code path
for desktop, web and phone (layout chosen by width)."""
