"""`ppu init DIR`: a lab project to start from, that works before it is edited: a lab file,
a campaign, a kernels module with one kernel, an instrument model on an existing driver, and
a passing test using `ppu.testing`. Everything is a plugin beside the lab file."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from ppu.core.errors import BadInput

#: template → file written, `{module}` filled with the project's module prefix
FILES = {
    "lab.toml.tmpl": "lab.toml",
    "campaign.toml.tmpl": "campaign.toml",
    "instruments.py.tmpl": "{module}_instruments.py",
    "kernels.py.tmpl": "{module}_kernels.py",
    "test_lab.py.tmpl": "test_{module}.py",
}


def module_prefix(directory: Path) -> str:
    """A Python name from the folder's name ('My Lab-2' → 'my_lab_2')."""
    name = re.sub(r"\W+", "_", directory.resolve().name.lower()).strip("_") or "lab"
    return name if not name[0].isdigit() else f"lab_{name}"


def write_project(directory: Path) -> list[Path]:
    """Write the project into `directory` (new, or empty); return the files written."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BadInput(str(directory), "exists and is not an empty folder: choose a new one")
    module = module_prefix(directory)
    values = {"name": directory.resolve().name, "module": module, "dirname": str(directory)}
    directory.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).parent
    written = []
    for template, target in FILES.items():
        text = Template((here / template).read_text()).substitute(values)
        path = directory / target.format(module=module)
        path.write_text(text)
        written.append(path)
    return written
