"""Protocol-level twins of the lab's instruments, and the materials ground truth.

Simulators never import driver code: they speak the wire protocol from the manuals, and
their physics runs on the clock they are given.
"""

import serial

# `sim://host:port` URLs (what a simulator's `serve_tcp` returns) open `protocol_sim.Serial`
if __name__ not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(__name__)
