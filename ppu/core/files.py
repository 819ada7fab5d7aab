"""The user's TOML files (lab, campaign): read, checked against a pydantic model, and every
mistake turned into one line that names the file and the key.

The models are strict: a boolean is `true`/`false`, a count is a whole number, text is
text, and an unknown key is an error with a "did you mean". Their JSON Schema is what
`ppu schema` prints.
"""

from __future__ import annotations

import difflib
import functools
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from ppu.core.errors import BadInput

M = TypeVar("M", bound=BaseModel)


class FileModel(BaseModel):
    """A table of a user's file: strict types, no keys beyond the declared ones."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


def _quantity_like(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a quantity with its unit such as '5 mL', got {value!r}")
    return value


#: a value with its unit as a user writes it ("120 degC", "2 h"), or a bare number; its
#: dimension is checked where the value is used
QuantityText = Annotated[
    Any,
    BeforeValidator(_quantity_like),
    WithJsonSchema(
        {"type": ["string", "number"], "description": "a quantity with its unit, e.g. '2 h'"}
    ),
]


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        return tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise BadInput(str(path), "no such file") from None
    except IsADirectoryError:
        raise BadInput(str(path), "is a folder, not a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise BadInput(str(path), f"malformed TOML ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(str(path), f"cannot read ({e})") from None


def validated(model: type[M], raw: Any, file: str) -> M:
    """`raw` as a `model`, or BadInput naming `file: key.path` and what is wrong there."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        err = _first(e)
        loc = tuple(err["loc"])
        raise BadInput(f"{file}: {_dotted(loc)}" if loc else file, _problem(model, err)) from None


def _first(e: ValidationError) -> dict[str, Any]:
    """The error a person should read first: an unknown key beats a type error elsewhere."""
    errors = e.errors()
    return next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _problem(model: type[BaseModel], err: dict[str, Any]) -> str:
    kind = err["type"]
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        keys = keys_at(model, loc[:-1])
        return unknown_key(str(loc[-1]), keys)
    if kind == "missing":
        info = field_at(model, loc)
        return (
            f"missing: {info.description}" if info is not None and info.description else "missing"
        )
    return value_problem(err)


def value_problem(err: Any) -> str:
    """What is wrong with a value, from one pydantic error, in the words of a file's user."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "bool_type":
        return f"expected true or false, got {value!r}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"expected a whole number, got {value!r}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {value!r}"
    if kind == "string_type":
        return f"expected text (in quotes), got {value!r}"
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list, got {value!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a table, got {value!r}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    bounds = {"greater_than_equal": ("ge", "≥"), "less_than_equal": ("le", "≤")}
    bounds |= {"greater_than": ("gt", ">"), "less_than": ("lt", "<")}
    if kind in bounds and bounds[kind][0] in ctx:
        key, sign = bounds[kind]
        return f"must be {sign} {ctx[key]}, got {value!r}"
    if kind == "literal_error":
        options = [str(o) for o in ctx.get("expected", "").split(" or ")]
        return f"{value!r} is not one of {', '.join(options)}"
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


@functools.lru_cache(maxsize=256)
def _adapter(hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(hint)


def check_value(hint: Any, value: Any, place: str) -> None:
    """`value` as written in a file fits `hint`, the annotation of the parameter it is
    passed to (an engine's, a device's, a simulator's), strictly: 5 is no text, "5" no
    number, 1 no boolean. BadInput names `place` (and the part of the value at fault).
    A hint pydantic cannot check is left to the code that receives the value."""
    try:
        adapter = _adapter(hint)
        try:
            text = json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            adapter.validate_python(value, strict=True)
        else:  # as JSON: a TOML list fits a tuple, as it does once passed on
            adapter.validate_json(text, strict=True)
    except ValidationError as e:
        err = e.errors()[0]
        inner, node = "", value
        for part in err["loc"]:  # the keys into the value (not a union member's tag)
            if isinstance(node, dict) and part in node:
                inner, node = f"{inner}.{part}", node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                inner, node = f"{inner}[{part}]", node[part]
            else:
                break
        raise BadInput(f"{place}{inner}", value_problem({**err, "input": node})) from None
    except Exception:
        return


def unknown_name(kind: str, name: str, known: Any) -> str:
    """An unknown kernel, driver model, rig or engine: the nearest known one and the list
    (a plugin may be what is missing)."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"unknown {kind} '{name}' ({hint}known: {', '.join(sorted(known))}; a plugin can add more)"
    )


def unknown_key(key: str, known: list[str]) -> str:
    """'unknown key' with the nearest known one and the list, so a typo is one glance."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    listed = ", ".join(sorted(known)) if known else "none"
    return f"unknown key ({hint}expected {listed})"


def keys_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a table at `loc` inside `model` may have."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> Any:
    """The pydantic FieldInfo of the key at `loc` (None for a dict entry or list item)."""
    if not loc:
        return None
    parent: Any = model
    for part in loc[:-1]:
        parent = _step(parent, part)
        if parent is None:
            return None
    parent = _unwrap(parent)
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        for name, f in parent.model_fields.items():
            if loc[-1] in (name, f.alias):
                return f
    return None


def _unwrap(tp: Any) -> Any:
    """The model inside Optional[...] / Annotated[...]."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            models = [a for a in get_args(tp) if a is not type(None)]
            if len(models) != 1:
                return tp
            tp = models[0]
        else:
            return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return typing.get_type_hints(tp, include_extras=True).get(name, f.annotation)
        return None
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (list, tuple) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None
