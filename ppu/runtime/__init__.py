"""The runtime: instruments opened from a lab spec, kernels launched onto lanes, every state
change journaled, holds and control commands, and the simulators served for a rehearsal.
It is the one layer that composes devices/ and simulators/."""
