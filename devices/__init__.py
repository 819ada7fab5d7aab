"""Drivers (one module per instrument model) and the ophyd-async devices over them."""
