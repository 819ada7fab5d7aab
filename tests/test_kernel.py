"""Kernel declarations and launch-time validation."""

from __future__ import annotations

import pytest

from ppu.core.errors import BadInput
from ppu.core.kernels import Choice, Consumes, In, kernel


@kernel(
    role="oven", outputs={"mass_loss": "mg"}, produces={"activated": "powder"}, rerun_safe=False
)
def activate(
    instrument,
    ctx,
    sample=Consumes("powder"),
    temperature=In("degC", ge="25 degC", le="250 degC", default="150 degC"),
    duration=In("h", ge="0.5 h", le="48 h", default="12 h"),
    atmosphere=Choice(("vacuum", "N2"), default="vacuum"),
):
    yield from ()


def test_declaration_reads_the_signature() -> None:
    d = activate.describe()
    assert list(d["inputs"]) == ["sample", "temperature", "duration", "atmosphere"]
    assert d["inputs"]["temperature"] == {
        "type": "quantity",
        "unit": "degC",
        "min": 25.0,
        "max": 250.0,
        "default": 150.0,
        "doc": "",
    }
    assert d["role"] == "oven" and d["rerun_safe"] is False
    assert activate.sample_inputs["sample"].consumes


def test_compatible_units_are_converted() -> None:
    v = activate.validate({"sample": "S1", "temperature": "423.15 K", "duration": "90 min"})
    assert v["temperature"].m_as("degC") == pytest.approx(150.0)
    assert v["duration"].m_as("h") == pytest.approx(1.5)
    assert v["atmosphere"] == "vacuum"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"temperature": "300 degC"},
            "kernel activate: temperature: 300 degC is out of bounds (allowed 25 degC … 250 degC)",
        ),
        ({"temperature": "2 bar"}, "kernel activate: temperature: '2 bar' is not a temperature"),
        ({"duration": "12 parsecs"}, "kernel activate: duration: '12 parsecs' is not a time"),
        ({"atmosphere": "air"}, "kernel activate: atmosphere: 'air' is not one of vacuum, N2"),
        ({"colour": "red"}, "kernel activate: unknown input 'colour'"),
    ],
)
def test_errors_name_kernel_parameter_value_and_what_is_allowed(raw, message) -> None:
    with pytest.raises(BadInput) as e:
        activate.validate({"sample": "S1", **raw})
    assert str(e.value).startswith(message), str(e.value)


def test_missing_sample_is_reported() -> None:
    with pytest.raises(BadInput, match="kernel activate: sample: missing"):
        activate.validate({})
