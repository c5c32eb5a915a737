"""The code, the tests and the notebooks pass ruff with the project's settings (make lint)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', 'd2lmini', 'tests',
                          'notebooks', 'tools'], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
