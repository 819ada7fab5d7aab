"""From a lab file to a lab: its schema and spec, the plugins it names, the simulated world
a dry-run puts behind its ports. Nothing here opens a port; the runtime does."""
