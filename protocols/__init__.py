"""Kernels as bluesky plans, and example lab and campaign files.

Each kernel module is a plugin (entry points `ppu.plugins` in pyproject.toml): a lab finds
these kernels the same way it finds a user's.
"""
