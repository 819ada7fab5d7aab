"""Protocol-level twins of the lab's instruments, and the materials ground truth.

Simulators never import driver code: they speak the wire protocol from the manuals, and
their physics runs on the clock they are given.
"""
