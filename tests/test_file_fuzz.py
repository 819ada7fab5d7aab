"""Mutated lab and campaign files: every mistake a person can make in one, refused the same way.

342 mutated campaign files (271 from the demo's, 71 from the plugin lab's) and 163 mutated
lab files (138 from the demo lab, 25 from the plugin lab): 505 files, each invalid by
construction, plus 60 drawn by hypothesis (a value of another type at a key of the demo
campaign). They are made from the parsed base files (`protocols/demo/`, `tests/plugin_lab/`)
by one change each and written back as TOML: a wrong type per key (bool, text, whole number,
number, list, table, each for the others); an unknown key at every table level, spelled as a
near miss of a real one; a missing required key; an empty list or table; a quantity of the
wrong dimension, in an unknown unit, not finite or out of the kernel input's bounds; a
reference to no parameter, step, sample or output, or to an output of the wrong dimension;
planner options the chosen engine (botorch, sobol) does not take or takes of another type;
two things of one name; an unknown driver, rig, kernel or engine; a setting, driver, simulator
or rig option the device or model does not take as written (an MKS gauge `model = "9255"`).

Each one goes through `ppu run CAMPAIGN --lab LAB --dry-run --db DB --json` in-process
(`typer.testing.CliRunner` on `ppu.cli.main.app`) and must end as exactly one stderr line
`error: <file>: <key.path>: <problem>` naming the file and the mutated key, exit code 2, a JSON
last line on stdout with `error`, and no store file. A file that got through loading would
start a whole dry-run: in-process, that step is replaced by a stub that records the file as
accepted, so a regression fails at once instead of running a campaign. A few cases go through
the real `ppu` entry point in a subprocess, and a few valid edge cases must be accepted.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import typer.main
import typer.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import ppu.cli.run
from ppu.campaign.file import load_campaign
from ppu.cli.main import app
from ppu.core.errors import BadInput
from ppu.lab.spec import load_lab
from tests.conftest import ROOT

DEMO = ROOT / "protocols" / "demo"
PLUGIN = ROOT / "tests" / "plugin_lab"
BASES = {
    ("campaign", "demo"): DEMO / "campaign.toml",
    ("lab", "demo"): DEMO / "lab.toml",
    ("campaign", "plugin"): PLUGIN / "campaign.toml",
    ("lab", "plugin"): PLUGIN / "lab.toml",
}
RAW = {key: tomllib.loads(path.read_text()) for key, path in BASES.items()}

#: TOML text of a parsed (and mutated) document
to_toml = tomli_w.dumps


# -- mutations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One change to a parsed base file. `op`: set (a new value, a new key, or a new last
    list item), del (drop a key), rename (the key at `path` spelled as `value`). The error
    line must contain every word of `names` (by default the mutated key path's names) and,
    for a near-miss key, "did you mean '<hint>'"."""

    kind: str  # campaign | lab
    base: str  # demo | plugin
    op: str
    path: tuple[Any, ...]
    value: Any = None
    names: tuple[str, ...] | None = None
    hint: str | None = None

    @property
    def expected_names(self) -> tuple[str, ...]:
        if self.names is not None:
            return self.names
        words = [p for p in self.path if isinstance(p, str)]
        if self.op == "rename":
            words[-1] = self.value
        return tuple(words)

    @property
    def id(self) -> str:
        where = ".".join(str(p) for p in self.path)
        what = {"del": "missing", "rename": f"as {self.value}"}.get(self.op, repr(self.value))
        return f"{self.kind}-{self.base}-{where}={what}"[:120]

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc = copy.deepcopy(doc)
        node: Any = doc
        for part in self.path[:-1]:  # a table `set` reaches into is made if missing
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        last = self.path[-1]
        if self.op == "set" and isinstance(node, list) and last == len(node):
            node.append(copy.deepcopy(self.value))
        elif self.op == "set":
            node[last] = copy.deepcopy(self.value)
        elif self.op == "del":
            del node[last]
        elif self.op == "rename":
            node[self.value] = node.pop(last)
        else:
            raise ValueError(self.op)
        return doc


def _set(kind: str, base: str, path: tuple[Any, ...], value: Any, **kw: Any) -> Mutation:
    return Mutation(kind, base, "set", path, value, **kw)


def _del(kind: str, base: str, path: tuple[Any, ...], **kw: Any) -> Mutation:
    return Mutation(kind, base, "del", path, **kw)


def _typo(kind: str, base: str, path: tuple[Any, ...], new: str, **kw: Any) -> Mutation:
    """The key at `path` spelled `new`: an unknown key whose hint is the real one."""
    return Mutation(kind, base, "rename", path, new, hint=kw.pop("hint", str(path[-1])), **kw)


def _extra(kind: str, base: str, path: tuple[Any, ...], value: Any, hint: str | None) -> Mutation:
    """A key no table has at `path` (a near miss of `hint`, or of nothing)."""
    return Mutation(kind, base, "set", path, value, hint=hint)


#: wrong values per kind of key: each is a type the key is not
WRONG = {
    "bool": ["true", "no", 1, 0, 0.0, [True], {"value": True}],
    "count": [True, "6", 6.5, [6], {"value": 6}],
    "text": [5, 2.5, True, ["x"], {"name": "x"}],
    "quantity": [True, ["2 h"], {"value": 2}],
    "table": ["x", 5, True, ["x"]],
    "list": ["x", 5, True, {"x": "y"}],
    "ref": [True, ["$x"], {"x": 1}],
    "choice": [5, True, ["CO2"], {"gas": "CO2"}],
    "number": ["25 mL", True, [25.0], {"value": 25.0}],
}


def _wrong(kind: str, base: str, leaves: list[tuple[tuple[Any, ...], str]]) -> list[Mutation]:
    return [_set(kind, base, path, v) for path, tag in leaves for v in WRONG[tag]]


def _campaign_demo() -> list[Mutation]:
    C, B = "campaign", "demo"
    W = "workflow"
    leaves: list[tuple[tuple[Any, ...], str]] = [
        (("campaign",), "table"),
        (("campaign", "name"), "text"),
        (("campaign", "seed"), "count"),
        (("campaign", "approval"), "bool"),
        (("budget",), "table"),
        (("budget", "experiments"), "count"),
        (("budget", "lab_time"), "quantity"),
        (("planner",), "table"),
        (("planner", "n_initial"), "count"),
        (("search_space",), "table"),
        (("search_space", "temperature", "low"), "quantity"),
        (("search_space", "temperature", "high"), "quantity"),
        (("search_space", "solvent", "choices"), "list"),
        (("objectives",), "list"),
        (("objectives", 0, "maximize"), "bool"),
        ((W,), "list"),
        ((W, 0, "step"), "text"),
        ((W, 0, "kernel"), "text"),
        ((W, 0, "inputs", "temperature"), "ref"),
        ((W, 1, "inputs", "sample"), "ref"),
        ((W, 1, "inputs", "temperature"), "quantity"),
        ((W, 3, "after"), "list"),
        ((W, 3, "inputs", "gas"), "choice"),
        ((W, 3, "inputs", "points"), "count"),
    ]
    cases = _wrong(C, B, leaves)
    cases += [
        # unknown keys at every level, near misses of real ones (and of nothing)
        _extra(C, B, ("campain",), {"name": "x"}, "campaign"),
        _extra(C, B, ("budjet",), {"experiments": 3}, "budget"),
        _extra(C, B, ("planer",), {"engine": "sobol"}, "planner"),
        _extra(C, B, ("objective",), [{"from": "analysis.co2_uptake"}], "objectives"),
        _extra(C, B, ("constraint",), [{"from": "analysis.selectivity", "ge": 2}], "constraints"),
        _extra(C, B, ("workflows",), [], "workflow"),
        _extra(C, B, ("search-space",), {}, "search_space"),
        _extra(C, B, ("notes",), "mine", None),
        _typo(C, B, ("campaign", "batch_size"), "batchsize"),
        _typo(C, B, ("campaign", "approval"), "aproval"),
        _typo(C, B, ("campaign", "seed"), "sed"),
        _typo(C, B, ("campaign", "name"), "Name"),
        _typo(C, B, ("budget", "experiments"), "experiment"),
        _typo(C, B, ("budget", "lab_time"), "labtime"),
        _typo(C, B, ("planner", "n_initial"), "n_intial"),
        _typo(C, B, ("planner", "n_initial"), "n_inital"),
        _typo(C, B, ("planner", "n_initial"), "ninitial"),
        _extra(C, B, ("planner", "num_restart"), 4, "num_restarts"),
        _extra(C, B, ("planner", "rawsamples"), 64, "raw_samples"),
        _extra(C, B, ("planner", "seed"), 3, None),
        _typo(C, B, ("search_space", "temperature", "low"), "lo"),
        _typo(C, B, ("search_space", "temperature", "high"), "hihg"),
        _typo(C, B, ("search_space", "solvent", "choices"), "choice"),
        _extra(C, B, ("search_space", "ratio", "step"), 0.1, None),
        _typo(C, B, ("objectives", 0, "maximize"), "minimise", hint="minimize"),
        _typo(C, B, ("objectives", 0, "maximize"), "maximise"),
        _typo(C, B, ("objectives", 0, "from"), "form"),
        _typo(C, B, ("objectives", 0, "unit"), "units"),
        _typo(C, B, ("workflow", 0, "kernel"), "kernal"),
        _typo(C, B, ("workflow", 0, "inputs"), "input"),
        _typo(C, B, ("workflow", 3, "after"), "afer"),
        _extra(C, B, ("workflow", 2, "instrumnet"), "balance", "instrument"),
        _extra(C, B, ("workflow", 2, "depends_on"), ["activation"], None),
        _extra(C, B, ("workflow", 0, "inputs", "temprature"), "120 degC", "temperature"),
        _extra(C, B, ("workflow", 3, "inputs", "point"), 8, "points"),
        _extra(C, B, ("workflow", 2, "inputs", "mass"), "5 mg", None),
        # missing required keys, empty lists and tables
        _del(C, B, ("budget",)),
        _del(C, B, ("search_space",)),
        _del(C, B, ("objectives",)),
        _del(C, B, ("workflow",)),
        _del(C, B, ("objectives", 0, "from")),
        _del(C, B, ("workflow", 2, "kernel")),
        _del(C, B, ("search_space", "temperature", "high")),
        _set(C, B, ("budget",), {}),
        _set(C, B, ("search_space",), {}),
        _set(C, B, ("search_space", "temperature"), {}),
        _set(C, B, ("objectives",), []),
        _set(C, B, ("workflow",), []),
        _set(C, B, ("search_space", "solvent", "choices"), []),
        _set(C, B, ("search_space", "solvent", "choices"), [""]),
        _set(C, B, ("workflow", 3, "after"), [""]),
        _set(C, B, ("workflow", 0, "step"), ""),
        _set(C, B, ("workflow", 0, "kernel"), ""),
        _set(C, B, ("planner", "engine"), ""),
        # out of bounds, wrong dimension, unknown unit, not a number
        _set(C, B, ("campaign", "batch_size"), 0),
        _set(C, B, ("campaign", "batch_size"), -1),
        _set(C, B, ("campaign", "seed"), -1),
        _set(C, B, ("budget", "experiments"), 0),
        _set(C, B, ("budget", "experiments"), -24),
        _set(C, B, ("budget", "lab_time"), "120 d/s"),
        _set(C, B, ("budget", "lab_time"), "120 furlong"),
        _set(C, B, ("budget", "lab_time"), "120 kg"),
        _set(C, B, ("budget", "lab_time"), "-5 d"),
        _set(C, B, ("budget", "lab_time"), "0 s"),
        _set(C, B, ("budget", "lab_time"), "soon"),
        _set(C, B, ("budget", "lab_time"), math.nan),
        _set(C, B, ("planner", "cost"), "1 kg"),
        _set(C, B, ("planner", "cost"), "-1 s"),
        _set(C, B, ("planner", "cost"), math.nan),
        _set(C, B, ("search_space", "temperature", "low"), "80 furlong"),
        _set(C, B, ("search_space", "temperature", "low"), "80 kg"),
        _set(C, B, ("search_space", "temperature", "low"), "20 degC"),
        _set(C, B, ("search_space", "temperature", "high"), "450 degC"),
        _set(C, B, ("search_space", "temperature", "high"), "180 C"),
        _set(C, B, ("search_space", "temperature"), {"low": "170 degC", "high": "90 degC"}),
        _set(C, B, ("search_space", "time", "low"), "2 kg"),
        _set(C, B, ("search_space", "time", "low"), "0.5 h"),
        _set(C, B, ("search_space", "time", "high"), "100 h"),
        _set(C, B, ("search_space", "ratio", "low"), "0.5 mL"),
        _set(C, B, ("search_space", "ratio", "low"), -1.0),
        _set(C, B, ("search_space", "ratio", "high"), 10),
        _set(C, B, ("search_space", "ratio", "high"), math.nan),
        _set(C, B, ("search_space", "modulator", "high"), 51),
        _set(C, B, ("search_space", "modulator", "low"), "lots"),
        _set(
            C,
            B,
            ("search_space", "solvent", "choices"),
            ["acetone", "DMF"],
            names=("search_space", "solvent", "acetone"),
        ),
        _set(C, B, ("search_space", "solvent", "choices"), [1, 2]),
        _set(C, B, ("search_space", "solvent", "choices"), ["DMF", "DMF"]),
        _set(C, B, ("search_space", "solvent", "low"), 1),
        _set(C, B, ("search_space", "temperature", "choices"), ["hot", "cold"]),
        _set(C, B, ("search_space", "ratio"), {"choices": ["low", "high"]}),
        _set(C, B, ("search_space", "solvent"), {"low": 0, "high": 1}),
        _set(C, B, ("search_space", "pressure"), {"low": "1 bar", "high": "2 bar"}),
        _set(C, B, ("workflow", 1, "inputs", "temperature"), "400 degC"),
        _set(C, B, ("workflow", 1, "inputs", "temperature"), "180 kg"),
        _set(C, B, ("workflow", 1, "inputs", "temperature"), "180 blorp"),
        _set(C, B, ("workflow", 1, "inputs", "temperature"), math.nan),
        _set(C, B, ("workflow", 1, "inputs", "time"), "12 m"),
        _set(C, B, ("workflow", 1, "inputs", "time"), "0 h"),
        _set(C, B, ("workflow", 3, "inputs", "points"), 2),
        _set(C, B, ("workflow", 3, "inputs", "points"), 41),
        _set(C, B, ("workflow", 3, "inputs", "points"), -3),
        _set(C, B, ("workflow", 3, "inputs", "gas"), "Ar"),
        _set(C, B, ("workflow", 3, "inputs", "gas"), "co2"),
        _set(C, B, ("workflow", 3, "inputs", "temperature"), "500 K"),
        _set(C, B, ("workflow", 3, "inputs", "temperature"), "298.15 bar"),
        _set(C, B, ("objectives", 0, "unit"), "m^2/g"),
        _set(C, B, ("objectives", 0, "unit"), "furlong"),
        # references: no parameter, no step, no product, no output, not earlier
        _set(C, B, ("workflow", 0, "inputs", "temperature"), "$temperatur"),
        _set(C, B, ("workflow", 0, "inputs", "temperature"), "$"),
        _set(C, B, ("workflow", 1, "inputs", "sample"), "synthesys.product"),
        _set(C, B, ("workflow", 1, "inputs", "sample"), "synthesis.products"),
        _set(C, B, ("workflow", 1, "inputs", "sample"), "synthesis"),
        _set(C, B, ("workflow", 1, "inputs", "sample"), "activation.activated"),
        _set(C, B, ("workflow", 1, "inputs", "sample"), "$temperature"),
        _set(C, B, ("workflow", 2, "inputs", "sample"), "n2_isotherm.activated"),
        _set(C, B, ("workflow", 5, "inputs", "co2_0p15"), "co2_isotherm.uptake_0p15"),
        _set(C, B, ("workflow", 5, "inputs", "co2_0p15"), "weighing.mass"),
        _set(C, B, ("workflow", 5, "inputs", "n2_1bar"), "n2_isotherm.duration"),
        _set(C, B, ("workflow", 3, "after"), ["weighting"]),
        _set(C, B, ("workflow", 3, "after"), ["n2_isotherm"]),
        _set(C, B, ("workflow", 3, "after"), ["co2_isotherm"]),
        _set(C, B, ("workflow", 3, "after"), [5]),
        _set(C, B, ("objectives", 0, "from"), "analysis.bet_area"),
        _set(C, B, ("objectives", 0, "from"), "analysis"),
        _set(C, B, ("objectives", 0, "from"), "analysys.co2_uptake"),
        _set(C, B, ("objectives", 0, "from"), "$co2_uptake"),
        # instruments and roles
        _set(C, B, ("workflow", 2, "instrument"), "scale_9"),
        _set(C, B, ("workflow", 3, "instrument"), "oven"),
        _set(C, B, ("workflow", 5, "instrument"), "analyzer_1"),
        # unknown kernel and engine names
        _set(C, B, ("workflow", 0, "kernel"), "synthesise"),
        _set(C, B, ("workflow", 2, "kernel"), "weight"),
        _set(C, B, ("workflow", 5, "kernel"), "screen-sorption"),
        _set(C, B, ("planner", "engine"), "botorhc"),
        _set(C, B, ("planner", "engine"), "BoTorch"),
        _set(C, B, ("planner", "engine"), "qLogNEI"),
        # duplicates
        _set(C, B, ("workflow", 1, "step"), "synthesis", names=("workflow", "synthesis")),
        _set(C, B, ("workflow", 4, "step"), "co2_isotherm", names=("workflow", "co2_isotherm")),
        _set(C, B, ("objectives", 1), {"name": "co2_uptake", "from": "analysis.selectivity"}),
        _set(
            C, B, ("constraints",), [{"name": "co2_uptake", "from": "analysis.n2_uptake", "le": 1}]
        ),
        _set(
            C,
            B,
            ("constraints",),
            [{"from": "analysis.co2_uptake", "ge": 0.1}],
            names=("constraints", "co2_uptake"),
        ),
        # objective direction
        _set(C, B, ("objectives", 0, "minimize"), False, names=("objectives", "minimize")),
        _set(C, B, ("objectives", 0, "minimize"), "true"),
        # constraints
        _set(C, B, ("constraints",), {"from": "analysis.selectivity", "ge": 20}),
        _set(C, B, ("constraints",), [{"from": "analysis.selectivity"}]),
        _set(C, B, ("constraints",), [{"from": "analysis.selectivity", "ge": "20 kg"}]),
        _set(C, B, ("constraints",), [{"from": "analysis.selectivty", "ge": 20}]),
        _set(C, B, ("constraints",), [{"from": "analysis.selectivity", "gte": 20}]),
        _set(C, B, ("constraints",), [{"from": "analysis.selectivity", "ge": True}]),
        # botorch options
        _set(C, B, ("planner", "n_initial"), "six"),
        _set(C, B, ("planner", "n_initial"), -3),
        _set(C, B, ("planner", "n_initial"), 0),
        _set(C, B, ("planner", "num_restarts"), "4"),
        _set(C, B, ("planner", "raw_samples"), 0),
        _set(C, B, ("planner", "mc_samples"), 1.5),
        _set(C, B, ("planner", "maxiter"), -1),
        _set(C, B, ("planner", "torch_threads"), 0),
        _set(C, B, ("planner", "refit_fraction"), 20.0),
        _set(C, B, ("planner", "refit_fraction"), True),
        _set(C, B, ("planner", "failed"), "ignore"),
        _set(C, B, ("planner", "failed"), 3),
        _set(C, B, ("planner", "ref_point"), {"bet_area": 1.0}),
        _set(C, B, ("planner", "ref_point"), 1.0),
        _set(C, B, ("planner", "pool"), []),
        _set(C, B, ("planner", "pool"), "all"),
        _set(C, B, ("planner", "fixed_features"), "temperature"),
        _set(C, B, ("planner", "constraints"), [{"name": "selectivity", "ge": 20}]),
        _set(C, B, ("planner", "priors"), "no_such_priors.csv"),
        _set(C, B, ("planner", "priors"), 5),
    ]
    return cases


def _campaign_plugin() -> list[Mutation]:
    C, B = "campaign", "plugin"
    leaves: list[tuple[tuple[Any, ...], str]] = [
        (("campaign", "name"), "text"),
        (("campaign", "batch_size"), "count"),
        (("budget", "experiments"), "count"),
        (("planner", "engine"), "text"),
        (("search_space", "temperature", "high"), "quantity"),
        (("objectives", 0, "minimize"), "bool"),
        (("workflow", 0, "kernel"), "text"),
        (("workflow", 0, "inputs", "time"), "ref"),
    ]
    cases = _wrong(C, B, leaves)
    cases += [
        _typo(C, B, ("objectives", 0, "minimize"), "minimise"),
        _typo(C, B, ("objectives", 0, "minimize"), "minimum"),
        _typo(C, B, ("workflow", 0, "inputs", "temperature"), "tempature", hint="temperature"),
        _typo(C, B, ("budget", "experiments"), "experimnets"),
        _extra(C, B, ("campaign", "aproval"), True, "approval"),
        _set(C, B, ("objectives", 0, "maximize"), False, names=("objectives", "maximize")),
        _set(C, B, ("objectives", 0, "maximize"), True, names=("objectives", "maximize")),
        _set(C, B, ("objectives", 0, "from"), "bake.dosage"),
        _set(C, B, ("objectives", 0, "unit"), "kg"),
        _set(C, B, ("search_space", "temperature", "high"), "160 degC"),
        _set(C, B, ("search_space", "temperature", "low"), "20 degC"),
        _set(C, B, ("search_space", "temperature", "low"), "40 K"),
        _set(C, B, ("search_space", "temperature", "low"), "40 kg"),
        _set(C, B, ("search_space", "time", "high"), "3 h"),
        _set(C, B, ("search_space", "time", "low"), 0.5),
        _set(C, B, ("search_space", "time", "low"), "5 mL"),
        _set(C, B, ("search_space", "temp"), {"low": 1, "high": 2}),
        _set(C, B, ("workflow", 0, "kernel"), "bak"),
        _set(C, B, ("workflow", 0, "kernel"), "synthesize", names=("workflow", "kernel")),
        _set(C, B, ("workflow", 0, "inputs", "temperature"), "$temp"),
        _set(C, B, ("workflow", 0, "instrument"), "bench2"),
        _set(C, B, ("workflow", 0, "after"), ["bake"]),
        _set(C, B, ("constraints",), [{"from": "bake.reached", "le": "200 kg"}]),
        # sobol takes no model options
        _set(C, B, ("planner", "n_initial"), 6),
        _set(C, B, ("planner", "num_restarts"), 4),
        _set(C, B, ("planner", "seed"), 3),
        _set(C, B, ("planner", "fixedfeatures"), {}, hint="fixed_features"),
        _set(C, B, ("planner", "fixed_features"), "temperature"),
        _set(C, B, ("planner", "fixed_features"), ["temperature"]),
        _set(C, B, ("planner", "constraints"), []),
        _set(C, B, ("planner", "engine"), "sobl"),
        _set(C, B, ("planner", "engine"), "Sobol"),
        _set(C, B, ("planner", "priors"), "earlier.csv"),
    ]
    return cases


def _lab_demo() -> list[Mutation]:
    L, B = "lab", "demo"
    I = "instruments"  # noqa: E741
    syn = (I, "synthesis")
    pump = (*syn, "devices", "solvent_pump")
    valve = (*syn, "devices", "solvent_selector")
    heater = (*syn, "devices", "heater")
    gauge = (I, "oven", "devices", "gauge")
    relay = (I, "oven", "devices", "valves")
    a1 = (I, "analyzer_1")
    leaves: list[tuple[tuple[Any, ...], str]] = [
        (("name",), "text"),
        ((I,), "table"),
        ((*syn, "roles"), "list"),
        ((*syn, "rig", "seed"), "count"),
        ((*a1, "rig", "options", "manifold_volume_ml"), "number"),
        ((*syn, "devices"), "table"),
        ((*pump, "driver"), "text"),
        ((*pump, "port"), "text"),
        ((*pump, "limits", "max_rate"), "quantity"),
        ((*pump, "simulator", "options", "initial_ml"), "number"),
        ((*valve, "settings", "positions"), "count"),
        ((*pump, "trace"), "bool"),
    ]
    cases = _wrong(L, B, leaves)
    cases += [
        # unknown keys at every level
        _extra(L, B, ("instrument",), {}, "instruments"),
        _extra(L, B, ("plugin",), ["hotplate"], "plugins"),
        _typo(L, B, ("name",), "nmae"),
        _typo(L, B, (*syn, "roles"), "role"),
        _typo(L, B, (*syn, "devices"), "device"),
        _typo(L, B, (*syn, "rig"), "rigs"),
        _typo(L, B, (*syn, "rig", "model"), "modle"),
        _typo(L, B, (*syn, "rig", "seed"), "sead"),
        _typo(L, B, (*a1, "rig", "options"), "option"),
        _typo(L, B, (*a1, "rig", "options", "cell_volume_ml"), "cell_volume"),
        _typo(L, B, (*pump, "driver"), "drvier"),
        _typo(L, B, (*pump, "port"), "prot"),
        _typo(L, B, (*pump, "limits"), "limit"),
        _typo(L, B, (*pump, "simulator"), "simulater"),
        _typo(L, B, (*pump, "limits", "max_rate"), "max_rte"),
        _typo(L, B, (*pump, "simulator", "seed"), "sed"),
        _typo(L, B, (*pump, "simulator", "options"), "option"),
        _typo(L, B, (*pump, "simulator", "options", "initial_ml"), "initial_mL"),
        _extra(L, B, (*pump, "simulator", "faultrate"), 0.1, "fault_rate"),
        _extra(L, B, (*pump, "settings", "diamter"), "26.59 mm", "diameter"),
        _extra(L, B, (*pump, "driver_options"), {"adress": 2}, "address"),
        _extra(L, B, (*pump, "driver_option"), {"address": 2}, "driver_options"),
        _typo(L, B, (*gauge, "settings", "model"), "modle"),
        _typo(L, B, (*valve, "settings", "safe_position"), "safe_positon"),
        # missing keys, empty tables and lists
        _del(L, B, (I,)),
        _del(L, B, (*pump, "driver")),
        _del(L, B, (*pump, "port")),
        _del(L, B, (*syn, "devices")),
        _del(L, B, (*syn, "rig", "model")),
        _set(L, B, (I,), {}),
        _set(L, B, (*syn, "devices"), {}),
        _set(L, B, (I, "balance", "roles"), []),
        _set(L, B, (*syn, "roles"), [""]),
        _set(L, B, (*pump, "driver"), ""),
        _set(L, B, (*pump, "port"), ""),
        # plugins
        _set(L, B, ("plugins",), "hotplate"),
        _set(L, B, ("plugins",), [5]),
        _set(L, B, ("plugins",), [""]),
        _set(L, B, ("plugins",), ["no_such_plugin"]),
        _set(L, B, ("plugins",), {"module": "hotplate"}),
        # unknown driver and rig names
        _set(L, B, (*pump, "driver"), "ne100"),
        _set(L, B, (*heater, "driver"), "eurotherm3200"),
        _set(L, B, (*gauge, "driver"), "mks9xx"),
        _set(L, B, (*syn, "rig", "model"), "synthesys"),
        _set(L, B, (*a1, "rig", "model"), "sieverts"),
        # quantities: wrong dimension, unknown unit, not finite
        _set(L, B, (*pump, "limits", "max_rate"), "20 mL"),
        _set(L, B, (*pump, "limits", "max_rate"), "20 furlong/min"),
        _set(L, B, (*pump, "limits", "max_rate"), math.nan),
        _set(L, B, (*pump, "limits", "max_volume"), "40 mL/min"),
        _set(L, B, (*pump, "settings", "diameter"), "14.43 mL"),
        _set(L, B, (*heater, "limits", "max_setpoint"), "200 bar"),
        _set(L, B, (*heater, "limits", "max_setpoint"), "200 C"),
        _set(L, B, (*heater, "settings", "dwell"), "120 degC"),
        _set(L, B, (*heater, "settings", "tolerance"), "2 s"),
        _set(L, B, (I, "balance", "devices", "balance", "limits", "capacity"), "220 mL"),
        _set(L, B, (*relay, "settings", "actuation_time"), "0.1 m"),
        _set(L, B, (*pump, "simulator", "fault_rate"), 2.0),
        _set(L, B, (*pump, "simulator", "fault_rate"), -0.1),
        _set(L, B, (*pump, "simulator", "fault_rate"), "0.1"),
        _set(L, B, (*gauge, "settings", "channel"), "4"),
        _set(L, B, (*heater, "settings", "poll_interval"), [30.0]),
        _set(L, B, (*pump, "simulator", "seed"), 1.5),
        _set(L, B, (*pump, "simulator", "seed"), -1),
        _set(L, B, (*syn, "rig", "seed"), -11),
        # settings and options the device, driver, simulator or rig does not take as written
        _set(L, B, (*gauge, "settings", "model"), "9255"),
        _set(L, B, (*gauge, "settings", "model"), 925),
        _set(L, B, (*gauge, "settings", "model"), "925A"),
        _set(L, B, (*gauge, "settings", "unit"), "furlong"),
        _set(L, B, (*gauge, "settings", "unit"), "degC"),
        _set(L, B, (*gauge, "settings", "unit"), 5),
        _set(L, B, (*relay, "settings", "valves"), "vacuum"),
        _set(L, B, (*relay, "settings", "valves"), {"vacuum": "zero"}),
        _set(L, B, (*relay, "settings", "valves"), {"vacuum": 0.5}),
        _set(L, B, (*relay, "settings", "feedback"), "yes"),
        _set(L, B, (*valve, "settings", "safe_position"), "1"),
        _set(L, B, (*pump, "settings", "poll_interval"), "5 s"),
        _set(L, B, (*pump, "simulator", "options", "syringe_ml"), "60 mL"),
        _set(L, B, (*pump, "driver_options"), {"address": "2"}),
        _set(L, B, (*a1, "rig", "options", "supply_pressure_pa"), "1.25 bar"),
        _set(L, B, (*syn, "rig", "options"), {"solvent_lines": "DMF"}),
        _set(L, B, (*syn, "rig", "options"), {"stock_molar": {"metal": "0.1 M"}}),
        _set(L, B, (I, "oven", "rig", "options"), {"vacuum_valve": 0}),
        # a flow where a pressure belongs
        _set(
            L,
            B,
            (*a1, "devices", "mfc"),
            {"driver": "alicat", "port": "/dev/ttyUSB30", "limits": {"full_scale": "1 bar"}},
            names=(I, "analyzer_1", "devices", "mfc", "limits", "full_scale"),
        ),
    ]
    return cases


def _lab_plugin() -> list[Mutation]:
    L, B = "lab", "plugin"
    plate = ("instruments", "bench", "devices", "plate")
    leaves: list[tuple[tuple[Any, ...], str]] = [
        (("plugins",), "list"),
        ((*plate, "limits", "max_temperature"), "quantity"),
        ((*plate, "driver_options", "address"), "count"),
    ]
    cases = _wrong(L, B, leaves)
    cases += [
        _set(L, B, ("plugins",), ["hotplat"]),
        _set(L, B, ("plugins",), ["hotplate", "hotplate.nope"]),
        _set(L, B, ("plugins",), [], names=("driver", "acme-hotplate")),
        _set(L, B, (*plate, "driver"), "acme_hotplate"),
        _typo(L, B, (*plate, "limits", "max_temperature"), "max_temp"),
        _typo(L, B, (*plate, "driver_options", "address"), "adress"),
        _extra(L, B, (*plate, "settings"), {"ramp": 1}, None),
        _extra(L, B, (*plate, "simulator"), {"options": {"tau": 60.0}}, "tau_s"),
        _set(L, B, (*plate, "simulator"), {"options": {"tau_s": "2 min"}}),
        _set(L, B, (*plate, "simulator"), {"options": {"address": 3}}),
        _set(L, B, (*plate, "limits", "max_temperature"), "180 kg"),
        _set(L, B, (*plate, "limits", "max_temperature"), "180 C"),
        _set(L, B, ("instruments", "bench", "roles"), ["hotplate", 3]),
    ]
    return cases


CAMPAIGN_CASES = _campaign_demo() + _campaign_plugin()
LAB_CASES = _lab_demo() + _lab_plugin()
CASES = CAMPAIGN_CASES + LAB_CASES


def _count(kind: str, base: str | None = None) -> int:
    return sum(1 for m in CASES if m.kind == kind and base in (None, m.base))


# -- running one -----------------------------------------------------------------------------


@dataclass
class Files:
    campaign: Path
    lab: Path
    db: Path


def write_files(m: Mutation, folder: Path) -> Files:
    """The base files of `m` in `folder` (the plugin beside its lab), one of them mutated."""
    folder.mkdir(parents=True, exist_ok=True)
    if m.base == "plugin":
        shutil.copy(PLUGIN / "hotplate.py", folder / "hotplate.py")
    for kind in ("campaign", "lab"):
        raw = RAW[(kind, m.base)]
        if kind == m.kind:
            raw = m.apply(raw)
        (folder / f"{kind}.toml").write_text(to_toml(raw))
    return Files(folder / "campaign.toml", folder / "lab.toml", folder / "ppu.sqlite")


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A plugin beside a tmp lab goes on sys.path: take it off again after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "hotplate", raising=False)
    yield


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stop at the point a loaded campaign would start to run; record that it got there."""
    seen: list[str] = []

    def stub(spec: Any, spec_lab: Any, store: Any, *args: Any, **kw: Any) -> int:
        store.close()
        seen.append(spec.path)
        return 0

    monkeypatch.setattr(ppu.cli.run, "_drive_campaign", stub)
    return seen


runner = CliRunner()


@functools.cache
def _command() -> Any:
    return typer.main.get_command(app)


@pytest.fixture(autouse=True)
def _built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """typer builds the click command from the app on each invoke (~40 ms, half a case's
    time here); build it once."""
    if hasattr(typer.testing, "_get_command"):
        monkeypatch.setattr(typer.testing, "_get_command", lambda _app: _command())


def run_cli(f: Files) -> tuple[int, str, str]:
    args = ["run", str(f.campaign), "--lab", str(f.lab), "--dry-run", "--db", str(f.db), "--json"]
    r = runner.invoke(app, args)
    return r.exit_code, r.stdout, r.stderr


def check_refused(m: Mutation, f: Files, code: int, stdout: str, stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2, f"exit {code}: {stderr.strip()[-600:]}"
    assert len(lines) == 1, f"not one line on stderr:\n{stderr}"
    line = lines[0]
    assert "Traceback" not in stderr
    file = f"{m.kind}.toml"
    assert line.startswith(f"error: {file}: "), line
    for word in m.expected_names:
        assert word in line, f"{word!r} is not named in: {line}"
    if m.hint is not None:
        assert f"did you mean '{m.hint}'" in line, line
    last = json.loads(stdout.strip().splitlines()[-1])
    assert last["exit_code"] == 2 and last["error"] == line.removeprefix("error: ")
    assert not f.db.exists(), "the store was created"


# -- the tests -------------------------------------------------------------------------------


def test_the_counts_are_those_in_the_docstring() -> None:
    c, c_demo, c_plugin = (
        _count("campaign"),
        _count("campaign", "demo"),
        _count("campaign", "plugin"),
    )
    lab, lab_demo, lab_plugin = _count("lab"), _count("lab", "demo"), _count("lab", "plugin")
    doc = " ".join((__doc__ or "").split())
    for said in (
        f"{c} mutated campaign files ({c_demo} from the demo's, {c_plugin} from the plugin lab's)",
        f"{lab} mutated lab files ({lab_demo} from the demo lab, {lab_plugin} from the plugin lab)",
        f"{len(CASES)} files, each invalid",
    ):
        assert said in doc, f"the docstring should say: {said}"
    assert c >= 200 and lab >= 60
    assert len({m.id for m in CASES}) == len(CASES), "two mutations are the same"


@pytest.mark.parametrize(("kind", "base"), sorted(BASES))
def test_the_toml_writer_reads_back_to_the_same_document(kind: str, base: str) -> None:
    raw = RAW[(kind, base)]
    assert _same(tomllib.loads(to_toml(raw)), raw)
    for m in CASES:
        if (m.kind, m.base) == (kind, base):
            doc = m.apply(raw)
            assert _same(tomllib.loads(to_toml(doc)), doc), m.id
            assert not _same(doc, raw), f"{m.id} changes nothing"


def _same(a: Any, b: Any) -> bool:
    """Equal as documents: 0 is not false, nan is nan."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_the_base_files_are_accepted(tmp_path: Path, isolated_imports: None) -> None:
    for base in ("demo", "plugin"):
        f = write_files(Mutation("none", base, "set", ("x",)), tmp_path / base)
        load_campaign(f.campaign, load_lab(f.lab))


@pytest.mark.parametrize("m", CASES, ids=[m.id for m in CASES])
def test_a_mutated_file_is_one_line_naming_the_file_and_key_and_exit_2(
    m: Mutation, tmp_path: Path, accepted: list[str], isolated_imports: None
) -> None:
    f = write_files(m, tmp_path)
    code, stdout, stderr = run_cli(f)
    assert not accepted, f"accepted silently: {m.id}"
    check_refused(m, f, code, stdout, stderr)


def test_no_mutation_is_accepted_by_the_loaders(
    tmp_path_factory: pytest.TempPathFactory, isolated_imports: None
) -> None:
    """The loaders themselves (what `ppu run`, `ppu resume` and the API call) refuse each,
    with a BadInput and nothing else; all of them listed at once."""
    labs = {}  # a campaign's mutations are checked against its base lab, loaded once
    for base in ("demo", "plugin"):
        f = write_files(Mutation("none", base, "set", ("x",)), tmp_path_factory.mktemp(base))
        labs[base] = load_lab(f.lab)
    silent, other = [], []
    for m in CASES:
        f = write_files(m, tmp_path_factory.mktemp("m"))
        try:
            lab = load_lab(f.lab) if m.kind == "lab" else labs[m.base]
            load_campaign(f.campaign, lab)
        except BadInput:
            continue
        except Exception as e:  # collected, reported together
            other.append(f"{m.id}: {type(e).__name__}: {e}")
            continue
        silent.append(m.id)
    assert not silent, f"{len(silent)} accepted silently:\n" + "\n".join(silent)
    assert not other, f"{len(other)} not a BadInput:\n" + "\n".join(other)


def test_a_store_that_exists_gets_no_campaign_from_a_bad_file(
    tmp_path: Path, isolated_imports: None
) -> None:
    from ppu.store import Store

    db = tmp_path / "kept.sqlite"
    Store(f"sqlite:///{db}").close()
    picks = [CAMPAIGN_CASES[0], CAMPAIGN_CASES[-1], LAB_CASES[0], LAB_CASES[-1]]
    for i, m in enumerate(picks):
        f = write_files(m, tmp_path / str(i))
        f.db = db
        code, _, stderr = run_cli(f)
        assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    store = Store(f"sqlite:///{db}")
    try:
        assert store.count_campaigns("") == 0
    finally:
        store.close()


#: keys of the demo campaign for drawn values, with the kind of value each takes
DRAWN_KEYS = [
    (("campaign", "approval"), "bool"),
    (("objectives", 0, "maximize"), "bool"),
    (("campaign", "batch_size"), "count"),
    (("budget", "experiments"), "count"),
    (("planner", "n_initial"), "count"),
    (("campaign", "name"), "text"),
    (("workflow", 0, "kernel"), "text"),
    (("budget", "lab_time"), "quantity"),
    (("search_space", "temperature", "low"), "quantity"),
]
# no ':' in drawn text: rich shows ':name:' on stderr as an emoji (see the report)
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=":"), max_size=8)
_scalars = {
    "bool": st.booleans(),
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(),
    "text": _text,
}
_scalar = st.one_of(*_scalars.values())
_containers = [
    st.lists(_scalar, max_size=3),
    st.dictionaries(st.text("abcxyz_", min_size=1, max_size=4), _scalar, max_size=2),
]
#: for each kind of key, values of every type it is not
_NOT = {
    "bool": [_scalars["int"], _scalars["float"], _text, *_containers],
    "count": [_scalars["bool"], _scalars["float"], _text, *_containers],
    "text": [_scalars["bool"], _scalars["int"], _scalars["float"], *_containers],
    "quantity": [_scalars["bool"], *_containers],
}


@st.composite
def _wrongly_typed(draw: st.DrawFn) -> Mutation:
    path, kind = draw(st.sampled_from(DRAWN_KEYS))
    return _set("campaign", "demo", path, draw(st.one_of(*_NOT[kind])))


@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the fixtures hold no state
)
@given(m=_wrongly_typed())
def test_a_drawn_value_of_the_wrong_type_is_refused_the_same_way(
    m: Mutation, accepted: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as d:
        f = write_files(m, Path(d))
        code, stdout, stderr = run_cli(f)
        assert not accepted, f"accepted silently: {m.id}"
        check_refused(m, f, code, stdout, stderr)


#: through the real entry point: one line, exit 2, the JSON last line, no store
REAL = [
    _set("campaign", "demo", ("campaign", "approval"), "no"),
    _set("campaign", "demo", ("planner", "n_initial"), "six"),
    _typo("campaign", "plugin", ("objectives", 0, "minimize"), "minimise"),
    _set("lab", "demo", ("instruments", "oven", "devices", "gauge", "settings", "model"), "9255"),
    _set("lab", "plugin", ("instruments", "bench", "devices", "plate", "driver"), "acme_hotplate"),
]


def test_the_ppu_command_says_the_same(tmp_path: Path) -> None:
    ppu_exe = Path(sys.executable).parent / "ppu"
    started = []
    for i, m in enumerate(REAL):  # side by side: each one is mostly Python starting up
        f = write_files(m, tmp_path / str(i))
        args = [str(f.campaign), "--lab", str(f.lab), "--dry-run", "--db", str(f.db), "--json"]
        p = subprocess.Popen(
            [str(ppu_exe), "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=f.campaign.parent,
        )
        started.append((m, f, p))
    for m, f, p in started:
        stdout, stderr = p.communicate(timeout=120)
        check_refused(m, f, p.returncode, stdout, stderr)


# -- valid edge cases: accepted, and meaning what they say ------------------------------------

VALID = [
    ("maximize-false", _set("campaign", "demo", ("objectives", 0, "maximize"), False)),
    ("minimize-true", _typo("campaign", "demo", ("objectives", 0, "maximize"), "minimize")),
    ("minimize-false", _set("campaign", "plugin", ("objectives", 0, "minimize"), False)),
    ("no-direction", _del("campaign", "demo", ("objectives", 0, "maximize"))),
    ("lab-time-only", _del("campaign", "demo", ("budget", "experiments"))),
    ("lab-time-seconds", _set("campaign", "demo", ("budget", "lab_time"), 864000)),
    ("lab-time-weeks", _set("campaign", "plugin", ("budget", "lab_time"), "2 weeks")),
    ("kelvin-bounds", _set("campaign", "demo", ("search_space", "temperature", "low"), "360 K")),
    ("points-40", _set("campaign", "demo", ("workflow", 3, "inputs", "points"), 40)),
    ("n-initial-1", _set("campaign", "demo", ("planner", "n_initial"), 1)),
    ("sobol", _set("campaign", "demo", ("planner",), {"engine": "sobol"})),
    ("random", _set("campaign", "plugin", ("planner", "engine"), "random")),
    ("approval", _set("campaign", "demo", ("campaign", "approval"), True)),
    (
        "constraint",
        _set("campaign", "demo", ("constraints",), [{"from": "analysis.selectivity", "ge": 20}]),
    ),
    (
        "gauge-902B",
        _set(
            "lab",
            "demo",
            ("instruments", "oven", "devices", "gauge", "settings"),
            {"model": "902B", "unit": "mbar"},
        ),
    ),
    (
        "flow-SLPM",
        _set(
            "lab",
            "demo",
            ("instruments", "analyzer_1", "devices", "mfc"),
            {"driver": "alicat", "port": "/dev/ttyUSB30", "limits": {"full_scale": "1 SLPM"}},
        ),
    ),
    ("two-roles", _set("lab", "demo", ("instruments", "balance", "roles"), ["balance", "scale"])),
    (
        "fault-rate-1",
        _set(
            "lab",
            "plugin",
            ("instruments", "bench", "devices", "plate", "simulator"),
            {"fault_rate": 1},
        ),
    ),
]


@pytest.fixture
def loaded(tmp_path: Path, isolated_imports: None):
    def load(m: Mutation) -> Any:
        f = write_files(m, tmp_path / m.id[:40].replace("/", "_"))
        return load_campaign(f.campaign, load_lab(f.lab)), load_lab(f.lab)

    return load


@pytest.mark.parametrize(("name", "m"), VALID, ids=[n for n, _ in VALID])
def test_a_valid_edge_case_is_accepted(name: str, m: Mutation, loaded: Any) -> None:
    spec, lab = loaded(m)
    o = spec.objectives[0]
    if name in ("maximize-false", "minimize-true"):
        assert o.maximize is False
    elif name in ("minimize-false", "no-direction"):
        assert o.maximize is True
    elif name == "lab-time-only":
        assert spec.max_experiments is None and spec.max_lab_time_s == 120 * 86400
    elif name == "lab-time-seconds":
        assert spec.max_lab_time_s == 864000
    elif name == "lab-time-weeks":
        assert spec.max_lab_time_s == 14 * 86400
    elif name == "kelvin-bounds":
        assert spec.params["temperature"].unit == "degC"
        assert abs(spec.params["temperature"].low.m_as("degC") - 86.85) < 1e-9
    elif name == "points-40":
        assert spec.workflow[3].inputs["points"] == 40
    elif name == "n-initial-1":
        assert spec.planner_options == {"n_initial": 1}
    elif name == "sobol":
        assert spec.planner == "sobol" and spec.planner_options == {}
    elif name == "approval":
        assert spec.approval is True
    elif name == "constraint":
        assert spec.constraints[0].name == "selectivity" and spec.constraints[0].ge == 20
    elif name == "gauge-902B":
        gauge = lab.instruments["oven"].devices["gauge"]
        assert gauge.settings == {"model": "902B", "unit": "mbar"}
        assert gauge.simulator.options["model"] == "902B"
    elif name == "flow-SLPM":
        mfc = lab.instruments["analyzer_1"].devices["mfc"]
        assert abs(mfc.limits["full_scale"].m_as("sccm") - 1000) < 1e-6
    elif name == "two-roles":
        assert lab.instruments["balance"].roles == ("balance", "scale")
    elif name == "fault-rate-1":
        assert lab.instruments["bench"].devices["plate"].simulator.fault_rate == 1.0


def test_a_valid_file_gets_through_the_cli_to_the_run(
    tmp_path: Path, accepted: list[str], isolated_imports: None
) -> None:
    f = write_files(VALID[1][1], tmp_path)
    code, _, stderr = run_cli(f)
    assert code == 0 and accepted == [str(f.campaign)], stderr
