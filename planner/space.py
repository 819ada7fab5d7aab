"""The search space a planner works in: plain floats in each input's declared unit, and
strings for categories. The campaign layer converts pint quantities before calling a planner,
so nothing here knows about pint.

Unit encoding (what `SearchSpace.to_unit` returns, one column per parameter, in declared order):

* a continuous input is scaled linearly to [0, 1] (``low`` → 0, ``high`` → 1);
* a categorical input is its **integer code** (index into ``choices``) stored as a float.

Integer codes rather than one-hot because BoTorch's `MixedSingleTaskGP` (a categorical kernel
on exact matches) and fixed-feature enumeration both want one column per categorical; one-hot
would add dimensions the optimiser then has to keep on the simplex.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

#: Two candidates whose continuous coordinates differ by less than this (in unit space) and
#: whose categories agree are the same experiment.
SAME_POINT_TOL = 1e-6

Value = float | str


@dataclass(frozen=True)
class Continuous:
    """A real input with closed bounds ``[low, high]`` in ``unit`` (a label only, e.g. "degC")."""

    name: str
    low: float
    high: float
    unit: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name)
        for b in ("low", "high"):
            v = getattr(self, b)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"{self.name}: {b} must be a finite number, got {v!r}")
            object.__setattr__(self, b, float(v))
        if not self.low < self.high:
            raise ValueError(f"{self.name}: low ({self.low}) must be below high ({self.high})")


@dataclass(frozen=True)
class Categorical:
    """An unordered choice among strings; the first choice is the one `centre()` picks."""

    name: str
    choices: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_name(self.name)
        choices = tuple(self.choices)
        if not choices:
            raise ValueError(f"{self.name}: needs at least one choice")
        if not all(isinstance(c, str) for c in choices):
            raise ValueError(f"{self.name}: choices must be strings, got {choices!r}")
        if len(set(choices)) != len(choices):
            raise ValueError(f"{self.name}: duplicate choices in {choices!r}")
        object.__setattr__(self, "choices", choices)


Param = Continuous | Categorical


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"parameter name must be a non-empty string, got {name!r}")


class SearchSpace:
    """An ordered set of parameters; the order fixes the columns of the unit encoding."""

    def __init__(self, params: Sequence[Param]) -> None:
        params = tuple(params)
        if not params:
            raise ValueError("a search space needs at least one parameter")
        names = [p.name for p in params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate parameter names: {', '.join(dup)}")
        for p in params:
            if not isinstance(p, Continuous | Categorical):
                raise TypeError(f"not a parameter: {p!r}")
        self.params: tuple[Param, ...] = params
        self.names: tuple[str, ...] = tuple(names)
        self.cont_dims: tuple[int, ...] = tuple(
            i for i, p in enumerate(params) if isinstance(p, Continuous)
        )
        self.cat_dims: tuple[int, ...] = tuple(
            i for i, p in enumerate(params) if isinstance(p, Categorical)
        )

    # --- shape -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __hash__(self) -> int:
        return hash(self.params)

    def unit_bounds(self) -> np.ndarray:
        """2 x d bounds of the unit encoding: [0, 1] for continuous, [0, k-1] for codes."""
        hi = [1.0 if isinstance(p, Continuous) else float(len(p.choices) - 1) for p in self.params]
        return np.array([[0.0] * self.dim, hi])

    def category_combinations(self) -> Iterator[dict[int, float]]:
        """Every assignment of codes to the categorical columns ({column: code})."""
        sizes = [range(len(self.params[i].choices)) for i in self.cat_dims]  # type: ignore[union-attr]
        for codes in product(*sizes):
            yield {i: float(c) for i, c in zip(self.cat_dims, codes, strict=True)}

    def n_category_combinations(self) -> int:
        return math.prod(len(self.params[i].choices) for i in self.cat_dims)  # type: ignore[union-attr]

    # --- candidates ----------------------------------------------------------------------
    def validate(self, x: Mapping[str, Any]) -> dict[str, Value]:
        """A clean copy of candidate `x`, or ValueError naming the offending parameter.

        Every parameter must be present, no extra keys, numbers within bounds, categories
        among the choices. Returned values are plain `float` / `str`.
        """
        if not isinstance(x, Mapping):
            raise TypeError(f"a candidate is a mapping of parameter name to value, got {x!r}")
        extra = sorted(set(x) - set(self.names))
        if extra:
            raise ValueError(f"unknown parameter(s): {', '.join(map(str, extra))}")
        out: dict[str, Value] = {}
        for p in self.params:
            if p.name not in x:
                raise ValueError(f"{p.name}: missing")
            v = x[p.name]
            if isinstance(p, Continuous):
                if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                    raise ValueError(f"{p.name}: {v!r} is not a number")
                f = float(v)
                if not math.isfinite(f):
                    raise ValueError(f"{p.name}: {v!r} is not finite")
                if not p.low <= f <= p.high:
                    u = f" {p.unit}" if p.unit else ""
                    raise ValueError(f"{p.name}: {f:g}{u} is outside {p.low:g}{u} … {p.high:g}{u}")
                out[p.name] = f
            else:
                if v not in p.choices:
                    raise ValueError(f"{p.name}: {v!r} is not one of {list(p.choices)}")
                out[p.name] = str(v)
        return out

    def to_unit(self, x: Mapping[str, Any]) -> np.ndarray:
        """Validate `x` and encode it (see module docstring) as a float64 vector."""
        clean = self.validate(x)
        u = np.empty(self.dim)
        for i, p in enumerate(self.params):
            v = clean[p.name]
            if isinstance(p, Continuous):
                u[i] = (float(v) - p.low) / (p.high - p.low)
            else:
                u[i] = float(p.choices.index(str(v)))
        return u

    def to_unit_many(self, xs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """n x d encoding of several candidates (n may be 0)."""
        if not xs:
            return np.empty((0, self.dim))
        return np.stack([self.to_unit(x) for x in xs])

    def from_unit(self, u: Sequence[float] | np.ndarray) -> dict[str, Value]:
        """Decode one unit vector; continuous values are clipped into bounds and codes are
        rounded, so an optimiser's slightly out-of-box output still decodes to a valid point."""
        arr = np.asarray(u, dtype=float).reshape(-1)
        if arr.shape[0] != self.dim:
            raise ValueError(f"expected {self.dim} unit coordinates, got {arr.shape[0]}")
        out: dict[str, Value] = {}
        for i, p in enumerate(self.params):
            if isinstance(p, Continuous):
                t = min(max(float(arr[i]), 0.0), 1.0)
                out[p.name] = min(max(p.low + t * (p.high - p.low), p.low), p.high)
            else:
                k = round(float(arr[i]))
                out[p.name] = p.choices[min(max(k, 0), len(p.choices) - 1)]
        return out

    def snap_unit(self, u: np.ndarray) -> np.ndarray:
        """Map a point of the open unit cube [0,1)^d to the encoding: categorical columns
        become codes floor(u·k). How Sobol and random draws pick categories uniformly."""
        out = np.array(u, dtype=float)
        for i in self.cat_dims:
            k = len(self.params[i].choices)  # type: ignore[union-attr]
            out[i] = float(min(math.floor(out[i] * k), k - 1))
        return out

    def snap_codes(self, u: np.ndarray) -> np.ndarray:
        """Clip an optimiser's output into the encoding's box and round categorical columns
        to the nearest code."""
        lo, hi = self.unit_bounds()
        out = np.clip(np.asarray(u, dtype=float), lo, hi)
        for i in self.cat_dims:
            out[i] = float(round(out[i]))
        return out

    def centre_unit(self) -> np.ndarray:
        """The centre in the unit encoding: 0.5 for continuous, code 0 for categoricals."""
        u = np.full(self.dim, 0.5)
        for i in self.cat_dims:
            u[i] = 0.0
        return u

    def centre(self) -> dict[str, Value]:
        """Midpoint of every continuous range; the *first* choice of every categorical (a
        categorical has no centre, and campaigns list their reference choice first)."""
        return self.from_unit(self.centre_unit())

    def same(self, a: np.ndarray, b: np.ndarray, tol: float = SAME_POINT_TOL) -> bool:
        """Whether two unit vectors are the same experiment."""
        return bool(self.matches(a, np.asarray(b).reshape(1, -1), tol).any())

    def matches(self, u: np.ndarray, others: np.ndarray, tol: float = SAME_POINT_TOL) -> np.ndarray:
        """Boolean mask over the rows of `others` (n x d) that are the same experiment as `u`."""
        if others.size == 0:
            return np.zeros(0, dtype=bool)
        diff = np.abs(others - np.asarray(u).reshape(1, -1))
        ok = np.ones(others.shape[0], dtype=bool)
        if self.cont_dims:
            ok &= (diff[:, list(self.cont_dims)] <= tol).all(axis=1)
        if self.cat_dims:
            ok &= (diff[:, list(self.cat_dims)] < 0.5).all(axis=1)
        return ok

    # --- JSON ----------------------------------------------------------------------------
    def to_json(self) -> list[dict[str, Any]]:
        """Plain JSON (a list of parameter objects), for a planner's saved state."""
        out: list[dict[str, Any]] = []
        for p in self.params:
            if isinstance(p, Continuous):
                out.append(
                    {
                        "type": "continuous",
                        "name": p.name,
                        "low": p.low,
                        "high": p.high,
                        "unit": p.unit,
                    }
                )
            else:
                out.append({"type": "categorical", "name": p.name, "choices": list(p.choices)})
        return out

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> SearchSpace:
        params: list[Param] = []
        for d in data:
            if d["type"] == "continuous":
                params.append(Continuous(d["name"], d["low"], d["high"], d.get("unit", "")))
            elif d["type"] == "categorical":
                params.append(Categorical(d["name"], tuple(d["choices"])))
            else:
                raise ValueError(f"{d.get('name')}: unknown parameter type {d['type']!r}")
        return cls(params)
