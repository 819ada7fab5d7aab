"""`ppu init`: a lab project that passes its own test and dry-runs its campaign as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PPU = str(Path(sys.executable).with_name("ppu"))


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300
    )


def test_a_new_lab_project_passes_its_own_test_and_dry_runs_its_campaign(tmp_path) -> None:
    p = _run(PPU, "init", "Acme Lab", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    files = {Path(f).name for f in json.loads(p.stdout.splitlines()[-1])["files"]}
    assert files == {
        "lab.toml",
        "campaign.toml",
        "acme_lab_instruments.py",
        "acme_lab_kernels.py",
        "test_acme_lab.py",
    }
    project = tmp_path / "Acme Lab"

    p = _run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project), cwd=tmp_path
    )
    assert p.returncode == 0, p.stdout[-2000:]
    assert "2 passed" in p.stdout

    p = _run(PPU, "run", "campaign.toml", "--lab", "lab.toml", "--dry-run", "--json", cwd=project)
    assert p.returncode == 0, p.stderr[-2000:]
    summary = json.loads(p.stdout.splitlines()[-1])
    assert summary["completed"] == 4 and summary["abandoned"] == 0
    assert summary["best"]["objectives"]["shortfall"]["unit"] == "uL"

    p = _run(PPU, "kernels", "--lab", "lab.toml", "--json", cwd=project)
    dose = next(k for k in json.loads(p.stdout)["kernels"] if k["name"] == "dose")
    assert dose["plugin"] == "acme_lab_kernels"


def test_init_refuses_a_folder_that_is_not_empty(tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    p = _run(PPU, "init", "mine", "--json", cwd=tmp_path)
    assert p.returncode == 2
    assert "mine: exists and is not an empty folder" in json.loads(p.stdout)["error"]
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
