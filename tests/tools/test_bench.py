"""The benchmark command runs end to end on a tiny input and prints its JSON lines.

Only the shape of the report is checked here: speed is measured by `make bench`, not by tests.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_prints_each_measurement_and_the_ratios():
    out = subprocess.run(
        [sys.executable, '-m', 'tools.bench', '--pairs', '600', '--examples', '96',
         '--batch-size', '32', '--frameworks', 'torch'],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]['step'] == 'generate' and lines[0]['pairs'] == 600
    rows = {(r.get('task'), r.get('variant')): r for r in lines[1:]}
    for variant in ('baseline', 'd2lmini'):
        dataset = rows[('dataset', variant)]
        assert dataset['pairs'] > 590 and dataset['seconds'] > 0 and dataset['peak_rss_mb'] > 0
        training = rows[('training', variant)]
        assert training['examples'] == 96 and training['batch_size'] == 32
        assert training['train_examples_per_sec'] > 0 and training['eval_examples_per_sec'] > 0
    summaries = [r for r in lines if 'speedup' in r]
    assert [s['task'] for s in summaries] == ['dataset', 'training']
    assert all(s['speedup'] > 0 for s in summaries) and summaries[1]['eval_speedup'] > 0
