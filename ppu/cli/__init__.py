"""The `ppu` command: `main.py` holds the app and the commands about kernels, runs and the
store; each other module is a command group with `register(app)`."""
