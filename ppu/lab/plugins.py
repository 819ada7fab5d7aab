"""Plugins: the modules that give a lab its kernels, instrument models, rigs and planners.

Found two ways, one path for everyone (ppu's own are found the same way as a user's):
- installed packages' entry points in the group `ppu.plugins` (one module each);
- a lab file's top-level `plugins = ["mykernels", "mylab.drivers"]`, resolved from the lab
  file's folder first, then `sys.path`.
A plugin module registers what it defines at module level: `Kernel`s (from `@kernel`),
`InstrumentModel`s, `RigModel`s and `PlannerEngine`s. The same object seen twice (imported
by another plugin) is one entry; two different ones under one name are an error naming
both sources.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.machinery
import importlib.metadata
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ppu.core.catalog import InstrumentModel, PlannerEngine, RigModel
from ppu.core.errors import BadInput
from ppu.core.kernels import Kernel

ENTRY_POINT_GROUP = "ppu.plugins"

#: what a plugin may register, by the word used in messages
KINDS: dict[str, type] = {
    "kernel": Kernel,
    "instrument model": InstrumentModel,
    "rig": RigModel,
    "planner": PlannerEngine,
}


@dataclass(frozen=True)
class PluginSource:
    """Where one plugin module came from: stored with each campaign."""

    module: str
    found_by: str  # "entry point" | "lab file"
    file: str | None = None
    distribution: str | None = None  # the installed package, for an entry point
    version: str | None = None
    sha256: str | None = None  # of the module's file, to notice it changed

    def label(self) -> str:
        if self.found_by == "entry point":
            return f"{self.module} (entry point of {self.distribution} {self.version})"
        return f"{self.module} ({self.file})"

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "found_by": self.found_by,
            "file": self.file,
            "distribution": self.distribution,
            "version": self.version,
            "sha256": self.sha256,
        }


@dataclass
class Registry:
    """Everything the plugins of one lab registered, and where each came from."""

    kernels: dict[str, Kernel] = field(default_factory=dict)
    instruments: dict[str, InstrumentModel] = field(default_factory=dict)
    rigs: dict[str, RigModel] = field(default_factory=dict)
    planners: dict[str, PlannerEngine] = field(default_factory=dict)
    plugins: list[PluginSource] = field(default_factory=list)
    origin: dict[tuple[str, str], PluginSource] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Any]:
        return {
            "kernel": self.kernels,
            "instrument model": self.instruments,
            "rig": self.rigs,
            "planner": self.planners,
        }[kind]

    def copy(self) -> Registry:
        return Registry(
            dict(self.kernels),
            dict(self.instruments),
            dict(self.rigs),
            dict(self.planners),
            list(self.plugins),
            dict(self.origin),
        )

    def add_module(self, module: ModuleType, source: PluginSource) -> None:
        """Register what `module` defines; a clash names both plugins."""
        if any(p.module == source.module for p in self.plugins):
            return
        found: list[tuple[str, str, Any]] = []
        for value in list(vars(module).values()):
            for kind, cls in KINDS.items():
                if isinstance(value, cls):
                    found.append((kind, value.name, value))
        for kind, name, value in found:
            if not isinstance(name, str) or not name:
                raise BadInput(f"plugin {source.module}", f"a {kind} without a name: {value!r}")
            table = self.table(kind)
            other = table.get(name)
            if other is value:
                continue
            if other is not None:
                first = self.origin[(kind, name)]
                raise BadInput(
                    f"plugin {source.module}",
                    f"{kind} '{name}' is defined both by {first.label()} and by "
                    f"{source.label()}: rename one",
                )
            table[name] = value
            self.origin[(kind, name)] = source
        self.plugins.append(source)

    def where(self, kind: str, name: str) -> PluginSource | None:
        return self.origin.get((kind, name))

    def describe(self) -> dict[str, Any]:
        """What was found where (`ppu plugins`)."""
        out = []
        for p in self.plugins:
            entry = p.to_json()
            for kind in KINDS:
                entry[kind.replace(" ", "_") + "s"] = sorted(
                    name for (k, name), src in self.origin.items() if k == kind and src is p
                )
            out.append(entry)
        return {"plugins": out}


def _file_of(module: ModuleType) -> str | None:
    f = getattr(module, "__file__", None)
    return str(Path(f).resolve()) if f else None


def _sha256(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _import_failure(name: str, e: BaseException) -> str:
    """One line: what went wrong, and where in the plugin's own code."""
    frames = traceback.extract_tb(e.__traceback__)
    here = next(
        (
            f
            for f in reversed(frames)
            if "importlib" not in f.filename and not f.filename.startswith("<frozen")
        ),
        None,
    )
    if isinstance(e, SyntaxError) and e.filename:
        at = f" ({Path(e.filename).name} line {e.lineno})"
    else:
        at = f" ({Path(here.filename).name} line {here.lineno})" if here is not None else ""
    text = str(e).splitlines()[0] if str(e) else ""
    return f"cannot import: {type(e).__name__}: {text}{at}"


@functools.cache
def installed() -> Registry:
    """The plugins of every installed package (ppu's own included), found once a process."""
    reg = Registry()
    seen: set[str] = set()
    for ep in sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.value
    ):
        name = ep.value.partition(":")[0]
        if name in seen:  # an editable install can list a package twice
            continue
        seen.add(name)
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else None
        try:
            module = importlib.import_module(name)
        except Exception as e:
            raise BadInput(
                f"plugin {name} (entry point of {dist} {version or ''})".replace(" )", ")"),
                _import_failure(name, e),
            ) from None
        f = _file_of(module)
        reg.add_module(
            module,
            PluginSource(name, "entry point", f, dist, version, _sha256(f)),
        )
    if not reg.kernels and not reg.instruments:
        raise BadInput(
            "plugins",
            f"no '{ENTRY_POINT_GROUP}' entry points found: is ppu installed "
            "(`./setup.sh`, or `pip install -e .`)?",
        )
    return reg


def refresh() -> None:
    """Forget what was found (a test that installs a plugin distribution calls this)."""
    installed.cache_clear()
    importlib.invalidate_caches()


def for_lab(names: Iterable[str], folder: Path, place: str) -> Registry:
    """The installed plugins plus a lab file's own; `place` names the lab file's key."""
    names = list(names)
    base = installed()
    if not names:
        return base
    reg = base.copy()
    for i, name in enumerate(names):
        module = import_beside(name, folder, f"{place}[{i}]")
        f = _file_of(module)
        reg.add_module(module, PluginSource(name, "lab file", f, None, None, _sha256(f)))
    return reg


def import_beside(name: str, folder: Path, place: str) -> ModuleType:
    """Import plugin module `name` from `folder` if it is there, else from `sys.path`.

    A module of the same name imported earlier from elsewhere (another lab's) is replaced:
    a lab gets the module beside it."""
    if not isinstance(name, str) or not name.replace(".", "").replace("_", "").isalnum():
        raise BadInput(place, f"{name!r} is not a module name (e.g. 'mykernels', 'mylab.drivers')")
    top = name.split(".")[0]
    folder = folder.resolve()
    spec = importlib.machinery.PathFinder.find_spec(top, [str(folder)])
    if spec is not None:
        loaded = sys.modules.get(top)
        if loaded is not None and not _is_under(loaded, folder):
            for key in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
                del sys.modules[key]
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        sys.path.insert(0, str(folder))  # and stays: the plugin may import its neighbours later
        importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            raise BadInput(
                place, f"no module '{name}' beside the lab file ({folder}) or on sys.path"
            ) from None
        raise BadInput(f"plugin {name}", _import_failure(name, e)) from None
    except BadInput:
        raise
    except Exception as e:
        raise BadInput(f"plugin {name}", _import_failure(name, e)) from None


def _is_under(module: ModuleType, folder: Path) -> bool:
    f = getattr(module, "__file__", None)
    if f is None:
        paths = list(getattr(module, "__path__", []))
        return any(Path(p).resolve().is_relative_to(folder) for p in paths)
    return Path(f).resolve().is_relative_to(folder)
