"""Every demo script answers --help with its own description and starts nothing (issue 41:
five took '--help' as the output folder and sp4.py meshed its twin before it was stopped)."""

import subprocess
import sys
from pathlib import Path

import pytest

DEMOS = sorted((Path(__file__).resolve().parents[1] / "demos").glob("*.py"))


@pytest.mark.serial
@pytest.mark.parametrize("script", DEMOS, ids=[p.stem for p in DEMOS])
def test_demo_help_describes_it_and_runs_nothing(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python demos/{script.name}")
    title = script.read_text().splitlines()[0].lstrip("# ").strip()
    assert title and title in done.stdout
    assert list(tmp_path.iterdir()) == []  # no '--help' folder, no results
