"""tools.curve: snapshots taken at the right steps, the file written whole, and the stored curve."""
import csv
from pathlib import Path

import pytest
import torch

from tools import curve

STORED = Path(__file__).resolve().parents[2] / 'd2lmini' / 'data' / 'pretraining_curve.tsv'


def test_snapshots_hold_the_weights_after_that_many_steps_across_epochs():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
    snapshots = curve.Snapshots(net, {0, 2, 5, 6}).wrap(range(3))
    trained = 0
    while trained < 6:  # as d2l.train_bert does: epochs until num_steps
        for _ in snapshots:
            with torch.no_grad():
                net.weight += 1  # one "step"
            trained += 1
            if trained == 6:
                break
    # 6 is the last step: train_bert never asks for a seventh batch; curve() saves it after
    assert {k: float(v['weight']) for k, v in snapshots.saved.items()} == {0: 0, 2: 2, 5: 5}


def test_main_writes_the_file_whole(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match='usage'):
        curve.main([])
    monkeypatch.setattr(curve, 'curve', lambda: [(0, 0, 0.0, 0.5, 0.5), (10, 1280, 0.4, 0.7, 0.8)])
    out = tmp_path / 'c.tsv'
    curve.main([str(out)])
    assert out.read_text() == ('steps\tsentence_pairs\tmlm_accuracy\tnsp_accuracy\t'
                               'nli_test_accuracy\n0\t0\t0.0\t0.5\t0.5\n10\t1280\t0.4\t0.7\t0.8\n')
    assert not list(tmp_path.glob('*.tmp'))


def test_the_stored_curve_runs_from_random_weights_to_bert_mini():
    with STORED.open(encoding='utf-8') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    assert tuple(rows[0]) == curve.COLUMNS
    steps = [int(r['steps']) for r in rows]
    assert tuple(steps) == curve.STEPS
    assert all(int(r['sentence_pairs']) == int(r['steps']) * curve.BATCH_SIZE for r in rows)
    first, last = rows[0], rows[-1]
    assert float(first['nli_test_accuracy']) < 0.6  # random weights: about 0.5
    assert float(last['nli_test_accuracy']) > 0.85  # bert.mini's recipe: about 0.9
    assert float(last['mlm_accuracy']) > float(first['mlm_accuracy']) + 0.5
