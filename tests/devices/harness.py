"""The device tests' harness is the one plugin authors get: `ppu.testing`."""

from ppu.testing import run_on_virtual_clock, run_with_driver, serving

__all__ = ["run_on_virtual_clock", "run_with_driver", "serving"]
