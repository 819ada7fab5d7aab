"""The relaxation fit a sorption kernel uses to judge a dose settled: what is still to come."""

from __future__ import annotations

import math

import pytest

from protocols.sorption.equilibration import relaxation_fit


def readings(amplitude: float, tau: float, n: int = 30, every: float = 30.0):
    """A dose relaxing as p(t) = 1000 + A·exp(−t/τ), read every `every` s; the first
    reading (taken while manifold and cell equalise) is off the curve, as in a real dose."""
    ts = [k * every for k in range(n)]
    ps = [1000.0 + amplitude * math.exp(-t / tau) for t in ts]
    ps[0] += 50.0
    return ts, ps


@pytest.mark.parametrize("tau", [90.0, 300.0, 700.0])
def test_a_relaxation_gives_back_what_is_still_to_come_and_its_time_constant(tau: float):
    ts, ps = readings(-40.0, tau)
    remaining, fitted = relaxation_fit(ts, ps)  # A at the last reading: −40·exp(−t_last/τ)
    # the grid is 49 steps on a log scale: τ within one step (~8 %) of the truth
    assert fitted == pytest.approx(tau, rel=0.1)
    assert remaining == pytest.approx(-40.0 * math.exp(-ts[-1] / tau), rel=0.25, abs=1e-3)


def test_readings_on_a_line_are_the_longest_time_constant_and_about_slope_times_it():
    ts = [k * 30.0 for k in range(20)]
    ps = [1000.0 - 0.01 * t for t in ts]
    remaining, tau = relaxation_fit(ts, ps)
    assert tau == pytest.approx(2.0 * (ts[-1] - ts[1]))
    # p = p∞ + A·exp(−(t − t_last)/τ) falling along a line: A > 0, about |slope|·τ (an
    # exponential over half its time constant is not quite a line)
    assert remaining == pytest.approx(0.01 * tau, rel=0.3)


def test_too_few_or_constant_readings_project_nothing():
    assert relaxation_fit([0.0, 30.0, 60.0, 90.0], [1.0, 2.0, 3.0, 4.0]) == (0.0, 0.0)
    assert relaxation_fit([0.0] * 6, [5.0] * 6) == (0.0, 0.0)
    remaining, _ = relaxation_fit([k * 30.0 for k in range(8)], [7.0] * 8)
    assert remaining == 0.0
