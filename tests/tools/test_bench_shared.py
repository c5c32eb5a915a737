"""The shared-machine benchmark runs end to end on a tiny notebook and prints its JSON line.

Only the shape of the report is checked here: `make bench-shared` measures on the real notebooks.
"""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]


def test_bench_shared_prints_times_alone_together_and_ratios(tmp_path):
    (tmp_path / 'pytorch').mkdir()
    nb = new_notebook(cells=[new_code_cell('import os\nprint(os.environ["PROBE"])')])
    nbformat.write(nb, tmp_path / 'pytorch' / 'tiny.ipynb')
    out = subprocess.run(
        [sys.executable, '-m', 'tools.bench_shared', str(tmp_path), '--tracks', 'pytorch',
         '--repeat', '1', '--env', 'PROBE=1'],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    (line,) = [json.loads(ln) for ln in out.stdout.splitlines()]
    assert line['track'] == 'pytorch' and line['notebook'] == 'tiny.ipynb'
    assert len(line['alone_seconds']) == 1 and len(line['together_seconds']) == 2
    assert line['alone_median'] == line['alone_seconds'][0] > 0
    assert line['ratios'] == [round(t / line['alone_median'], 2) for t in line['together_seconds']]
    assert line['env'] == ['PROBE=1'] and line['target'] == 2.3
