"""The SDK layer: units, errors, clock, kernel declarations, the records plugins register,
the contracts (typed Protocols) and the user-file schema base.

devices/, simulators/, protocols/ and planner/ import from here and nothing above it (the
layer contract in pyproject.toml); a plugin author imports the same names flat from `ppu`.
"""
