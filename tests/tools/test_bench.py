"""The benchmark command runs end to end on a tiny input and prints its JSON lines.

Only the shape of the report is checked here: speed is measured by `make bench`, not by tests.
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

from d2lmini.snli import HEADER, read_snli_file
from tools.bench import write_snli_sized

ROOT = Path(__file__).resolve().parents[2]


def bench(*args):
    out = subprocess.run([sys.executable, '-m', 'tools.bench', '--frameworks', 'torch', *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_bench_prints_each_measurement_and_the_ratios():
    lines = bench('--tasks', 'dataset,training', '--pairs', '600', '--examples', '96',
                  '--batch-size', '32', '--repeats', '1')
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


def test_bench_prints_pretraining_beside_the_books_way_with_medians():
    lines = bench('--tasks', 'wiki-dataset,pretraining', '--wiki-lines', '300',
                  '--wiki-tokens', '20000', '--steps', '3', '--wiki-batch-size', '16',
                  '--repeats', '2')
    assert lines[0]['step'] == 'generate' and lines[0]['corpus'] == 'wikitext-2-sized'
    assert lines[0]['tokens'] >= 20000 and lines[0]['lines'] > 100
    rows = [r for r in lines if 'variant' in r]
    summaries = {(r['task'], r['corpus']): r for r in lines if 'speedup' in r}
    assert sorted(summaries) == [('pretraining', 'wikitext-2-mini'),
                                 ('wiki-dataset', 'wikitext-2-mini'),
                                 ('wiki-dataset', 'wikitext-2-sized')]
    for (task, corpus), summary in summaries.items():
        measured = [r for r in rows if (r['task'], r['corpus']) == (task, corpus)]
        # Interleaved: baseline, d2lmini, baseline, d2lmini
        assert [r['variant'] for r in measured] == ['baseline', 'd2lmini'] * 2
        figure = summary['figure']
        for variant in ('baseline', 'd2lmini'):
            values = sorted(r[figure] for r in measured if r['variant'] == variant)
            assert summary[f'{variant}_median'] == max(sum(values) / 2, 1e-3)
        ratio = summary['baseline_median'] / summary['d2lmini_median']
        if task == 'pretraining':
            ratio = 1 / ratio
        assert summary['speedup'] == round(ratio, 2) > 0 and summary['repeats'] == 2
        assert summary['target'] == (10 if task == 'wiki-dataset' else 5)
    for r in rows:
        if r['task'] == 'wiki-dataset':  # both sides make the same number of pairs, about
            assert r['pairs'] > 100 and r['seconds'] > 0 and r['epoch_seconds'] > 0
        else:
            assert r['steps'] == 3 and r['batch_size'] == 16 and r['pairs_per_sec'] > 0


def test_write_snli_sized(tmp_path):
    path = tmp_path / 'snli_1.0_train.txt'
    write_snli_sized(path, 20_000, seed=3)
    text = path.read_text(encoding='utf-8')
    lines = text.split('\n')
    assert lines[0] == HEADER and len(lines) == 20_002 and lines[-1] == ''
    rows = [line.split('\t') for line in lines[1:-1]]
    assert all(len(r) == 14 for r in rows)
    # as in SNLI, a caption (premise) serves three rows in a row
    assert rows[0][7] == rows[2][7] != rows[3][7] and rows[0][1] == rows[1][1] == rows[2][1]
    assert len({r[7] for r in rows}) == 20_000 // 3 + 1
    premises, hypotheses, labels = read_snli_file(path)
    assert 19_900 <= len(labels) < 20_000  # a few "-" rows
    p_lens = [len(s.split()) for s in premises]
    h_lens = [len(s.split()) for s in hypotheses]
    assert 13.5 <= statistics.mean(p_lens) <= 14.7 and max(p_lens) >= 40
    assert 7.8 <= statistics.mean(h_lens) <= 8.8 and max(h_lens) >= 20
    assert min(p_lens + h_lens) >= 2
    again = tmp_path / 'again.txt'
    write_snli_sized(again, 20_000, seed=3)
    assert again.read_bytes() == path.read_bytes()
