"""Speed and memory benchmark: `python -m tools.bench` (or `make bench`).

Prints one JSON line per measurement, for both frameworks, each beside a naive baseline of ours
measured in the same run. Fine-tuning (on SNLI-sized input, bert.small's shape):
`d2lmini.text.pack_pairs_plain`, the readable packer that goes one pair at a time as the book
does, and batches padded to max_len in random order. Pretraining (on the bundled
wikitext-2-mini and on a generated WikiText-2-sized corpus, bert.mini's shape): the book's way
of building the dataset and of taking a training step (tools.bench_wiki). Every measurement
runs in a fresh subprocess, so peak memory is its own and MXNet's thread settings do not leak
into PyTorch; baseline and d2lmini alternate, `--repeats` times, and the summary lines give
the medians and their ratio. docs/results.md holds the book's own figures, the targets and the
results of a run.
"""
import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from d2lmini.checkpoints import BERT_CONFIGS
from d2lmini.hub import download_extract
from d2lmini.snli import HEADER, LABELS, read_snli
from d2lmini.text import RESERVED, Vocab, pack_pairs_plain

from . import bench_wiki
from .snli_lexicon import TAGS
from .snli_scenes import _describe, _scene
from .snli_trees import _binary, _ptb, _tree, _words, premise_form

SMALL = BERT_CONFIGS['bert.small']  # the shape of the book's section
MAX_LEN = 128
REPO = Path(__file__).resolve().parents[1]  # the workers run `python -m tools.bench` from here


def write_snli_sized(path, num_rows, seed=0, max_len=82):
    """Write an SNLI 1.0 layout file of `num_rows` rows with SNLI-like lengths.

    Premises have about 14 tokens and hypotheses about 8 (counting the final
    "."), with a long tail up to `max_len`. As in SNLI, each premise (caption)
    serves three rows in a row, and about 0.14% of the rows have the gold
    label "-". The text is cut from generated captions, so it uses the reduced
    corpus's words; it is for timing, not for learning. Rows are assembled
    from a small pool of prepared sentences, which keeps 550k rows to seconds.
    """
    rng = np.random.default_rng(seed)
    pool = _sentence_pool(random.Random(f'snli-mini/sized/{seed}'), max_len, variants=16)
    num_captions = (num_rows + 2) // 3
    p_len = np.clip(4 + np.rint(rng.gamma(2.8, 3.6, num_captions)), 2, max_len).astype(int)
    h_len = np.clip(3 + np.rint(rng.gamma(3.0, 1.77, num_rows)), 2, max_len).astype(int)
    p_var = rng.integers(0, 16, num_captions)
    h_var = rng.integers(0, 16, num_rows)
    gold = rng.integers(0, 3, num_rows)
    gold[rng.random(num_rows) < 0.0014] = 3
    names = [*LABELS, '-']
    no_majority = 'neutral\tentailment\tcontradiction\tneutral\tentailment'
    votes = [f'{g}\t\t\t\t' for g in LABELS] + [no_majority]
    with open(path, 'w', encoding='utf-8') as f:
        f.write(HEADER + '\n')
        for lo in range(0, num_rows, 50_000):
            lines = []
            for i in range(lo, min(lo + 50_000, num_rows)):
                c, g = i // 3, gold[i]
                pb, pp, ps = pool[p_len[c]][p_var[c]]
                hb, hp, hs = pool[h_len[i]][h_var[i]]
                cap = f'{1000000000 + c}.jpg#{c % 5}'
                lines.append(f'{names[g]}\t{pb}\t{hb}\t{pp}\t{hp}\t{ps}\t{hs}\t{cap}\t{cap}r1'
                             f'{"ecn"[g] if g < 3 else "n"}\t{votes[g]}\n')
            f.writelines(lines)


def _sentence_pool(rng, max_len, variants):
    """pool[n][k]: (binary parse, parse, sentence) of a k-th sentence of n tokens."""
    stream = []
    while len(stream) < max_len * variants * 3:
        stream += _words(_tree(_describe(rng, _scene(rng)), premise_form(rng)))[:-1]
    pool = [None, None]
    for n in range(2, max_len + 1):
        row = []
        for _ in range(variants):
            start = rng.randrange(len(stream) - n)
            words = stream[start:start + n - 1]
            words[0] = words[0][0].upper() + words[0][1:]
            leaves = [(TAGS.get(w.lower(), 'NN'), w) for w in words] + [('.', '.')]
            tree = ('ROOT', [('S', leaves)])
            row.append((_binary(tree), _ptb(tree), ' '.join(words) + '.'))
        pool.append(row)
    return pool


def peak_rss_mb():
    """This process's peak resident memory in MB. Linux's VmHWM starts afresh at exec, whereas
    getrusage's maxrss would carry the parent's footprint over into the measuring subprocess."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
    return maxrss / (1024 * 1024 if sys.platform == 'darwin' else 1024)


def write_vocab(data_dir):
    """A vocabulary of the generated words, as a checkpoint's vocab.json would bring it."""
    premises, hypotheses, _ = read_snli(data_dir, is_train=True)
    words = ' '.join(premises + hypotheses).lower().split()
    Vocab([words], reserved_tokens=RESERVED).save(os.path.join(data_dir, 'vocab.json'))


def read_vocab(data_dir):
    return Vocab.from_file(os.path.join(data_dir, 'vocab.json'))


def dataset_build(fw, data_dir, naive):
    d2l = framework(fw)
    vocab = read_vocab(data_dir)
    base = peak_rss_mb()
    start = time.perf_counter()
    data = d2l.read_snli(data_dir, is_train=True)
    if naive:
        pairs = len(pack_pairs_plain(data[0], data[1], vocab, MAX_LEN)[0])
    else:
        pairs = len(d2l.SNLIBERTDataset(data, MAX_LEN, vocab))
    seconds = time.perf_counter() - start
    return {'pairs': pairs, 'seconds': round(seconds, 3), 'peak_rss_mb': round(peak_rss_mb()),
            'rss_before_mb': round(base)}


def framework(fw):
    if fw == 'torch':
        from d2lmini import torch as d2l
    else:
        from d2lmini import mxnet as d2l
    return d2l


def untrimmed_batches(fw, dataset, batch_size, shuffle):
    """Baseline batches: random order, every pair padded to max_len."""
    import numpy as np
    if fw != 'torch':
        from mxnet import np as mnp  # the model takes MXNet arrays
    order = np.arange(len(dataset))
    if shuffle:
        order = np.random.default_rng(0).permutation(order)
    batches = []
    for lo in range(0, len(order), batch_size):
        (tokens, segments, valid_lens), labels = dataset[order[lo:lo + batch_size].tolist()]
        if fw == 'torch':  # torch embeddings want int64 ids, as trim_batch makes them
            tokens, segments = tokens.long(), segments.long()
        else:  # the MXNet dataset holds numpy arrays
            tokens, segments = mnp.array(tokens, dtype='int64'), mnp.array(segments, dtype='int64')
            valid_lens, labels = mnp.array(valid_lens), mnp.array(labels)
        batches.append(((tokens, segments, valid_lens), labels))
    return batches


def training(fw, data_dir, naive, num_examples, batch_size):
    """Fine-tuning examples/s through the notebook's path: dataset, loader, model, train_ch13."""
    d2l = framework(fw)
    train = [column[:num_examples] for column in read_snli(data_dir, True)]
    vocab = read_vocab(data_dir)
    dataset = d2l.SNLIBERTDataset(train, MAX_LEN, vocab)
    devices = d2l.try_all_gpus()
    if fw == 'torch':
        import torch
        torch.manual_seed(0)
        bert = d2l.BERTModel(len(vocab), **SMALL).to(devices[0])
        net = d2l.BERTClassifier(bert)
        loss = torch.nn.CrossEntropyLoss(reduction='none')
        trainer = torch.optim.Adam(net.parameters(), lr=1e-4)
    else:
        import mxnet as mx
        from mxnet import gluon, init
        mx.random.seed(0)
        bert = d2l.BERTModel(len(vocab), **SMALL)
        bert.initialize(init.Xavier(), ctx=devices)
        net = d2l.BERTClassifier(bert)
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
        trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 1e-4})
    if naive:
        train_iter = untrimmed_batches(fw, dataset, batch_size, shuffle=True)
        test_iter = untrimmed_batches(fw, dataset, 512, shuffle=False)
    else:
        train_iter = d2l.load_snli_batches(dataset, batch_size, shuffle=True)
        test_iter = d2l.load_snli_batches(dataset, 512, shuffle=False)
    metrics = d2l.train_ch13(net, train_iter, test_iter, loss, trainer, 1, devices)
    start = time.perf_counter()
    d2l.evaluate_accuracy_gpu(net, test_iter)
    eval_rate = len(dataset) / (time.perf_counter() - start)
    return {'examples': len(dataset), 'batch_size': batch_size,
            'train_examples_per_sec': round(metrics['examples_per_sec'], 1),
            'eval_examples_per_sec': round(eval_rate, 1)}


def run_worker(args):
    if args.task == 'dataset':
        result = dataset_build(args.framework, args.data_dir, args.naive)
    elif args.task == 'training':
        result = training(args.framework, args.data_dir, args.naive, args.examples,
                          args.batch_size)
    elif args.task == 'wiki-dataset':
        result = bench_wiki.wiki_dataset(args.framework, args.data_dir, args.naive,
                                         args.wiki_batch_size)
    else:
        result = bench_wiki.pretraining(args.framework, args.data_dir, args.naive, args.steps,
                                        args.wiki_batch_size)
    result['peak_rss_mb'] = round(peak_rss_mb())
    print('RESULT ' + json.dumps(result))


def measure(task, fw, naive, data_dir, args):
    cmd = [sys.executable, '-m', 'tools.bench', '--worker', '--task', task,
           '--framework', fw, '--data-dir', data_dir, '--examples', str(args.examples),
           '--batch-size', str(args.batch_size), '--steps', str(args.steps),
           '--wiki-batch-size', str(args.wiki_batch_size)] + (['--naive'] if naive else [])
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith('RESULT ')]
    if out.returncode or not lines:
        raise RuntimeError(f'benchmark step {task}/{fw} failed:\n{out.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


# What each task's summary compares (higher is better unless `lower`), and the target ratio
FIGURES = {'dataset': ('seconds', True, None),
           'training': ('train_examples_per_sec', False, None),
           'wiki-dataset': ('seconds', True, 10),
           'pretraining': ('pairs_per_sec', False, 5)}


def compare(task, fw, corpus, data_dir, args):
    """Baseline and d2lmini, alternating `args.repeats` times: a line per measurement, then
    the medians and their ratio."""
    runs = {'baseline': [], 'd2lmini': []}
    for _ in range(args.repeats):
        for variant, results in runs.items():
            result = measure(task, fw, variant == 'baseline', data_dir, args)
            results.append(result)
            print(json.dumps(dict(framework=fw, task=task, corpus=corpus, variant=variant,
                                  **result)), flush=True)
    key, lower, target = FIGURES[task]
    # A floor of 1 ms: a tiny input can be built in less than the clock shows
    medians = {v: max(statistics.median(r[key] for r in rs), 1e-3) for v, rs in runs.items()}
    speedup = (medians['baseline'] / medians['d2lmini'] if lower
               else medians['d2lmini'] / medians['baseline'])
    summary = {'framework': fw, 'task': task, 'corpus': corpus, 'figure': key,
               'repeats': args.repeats, 'baseline_median': medians['baseline'],
               'd2lmini_median': medians['d2lmini'], 'speedup': round(speedup, 2)}
    if target:
        summary['target'] = target
    if task == 'training':
        summary['eval_speedup'] = round(
            statistics.median(r['eval_examples_per_sec'] for r in runs['d2lmini'])
            / statistics.median(r['eval_examples_per_sec'] for r in runs['baseline']), 2)
    if task == 'wiki-dataset':
        summary['epoch_seconds'] = {v: statistics.median(r['epoch_seconds'] for r in rs)
                                    for v, rs in runs.items()}
    print(json.dumps(summary), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=550_000, help='SNLI-sized rows to generate')
    parser.add_argument('--examples', type=int, default=3840, help='pairs to train on')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--wiki-tokens', type=int, default=2_100_000,
                        help='tokens of the generated WikiText-2-sized corpus (0: none)')
    parser.add_argument('--wiki-lines', type=int, default=0,
                        help='lines of wikitext-2-mini to use (0: all; for tests)')
    parser.add_argument('--steps', type=int, default=100, help='pretraining steps to time')
    parser.add_argument('--wiki-batch-size', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=3,
                        help='measurements of each side, alternating; the summary gives medians')
    parser.add_argument('--threads', type=int, default=0,
                        help='OMP_NUM_THREADS for every measurement (0: the framework default)')
    parser.add_argument('--frameworks', default='torch,mxnet')
    parser.add_argument('--tasks', default='dataset,training,wiki-dataset,pretraining')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--task', help=argparse.SUPPRESS)
    parser.add_argument('--framework', help=argparse.SUPPRESS)
    parser.add_argument('--data-dir', help=argparse.SUPPRESS)
    parser.add_argument('--naive', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args)
    tasks = args.tasks.split(',')
    with tempfile.TemporaryDirectory(prefix='d2lmini-bench-') as data_dir:
        if {'dataset', 'training'} & set(tasks):
            start = time.perf_counter()
            write_snli_sized(os.path.join(data_dir, 'snli_1.0_train.txt'), args.pairs)
            write_vocab(data_dir)
            print(json.dumps({'step': 'generate', 'pairs': args.pairs,
                              'seconds': round(time.perf_counter() - start, 2)}), flush=True)
        corpora = {}
        if {'wiki-dataset', 'pretraining'} & set(tasks):
            corpora['wikitext-2-mini'] = download_extract('wikitext-2-mini')
            if args.wiki_lines:
                corpora['wikitext-2-mini'] = bench_wiki.first_lines(
                    corpora['wikitext-2-mini'], os.path.join(data_dir, 'mini'), args.wiki_lines)
            if args.wiki_tokens:
                sized = os.path.join(data_dir, 'wikitext-2-sized')
                os.mkdir(sized)
                made = bench_wiki.write_wikitext2_sized(sized, corpora['wikitext-2-mini'],
                                                        args.wiki_tokens)
                print(json.dumps({'step': 'generate', 'corpus': 'wikitext-2-sized', **made}),
                      flush=True)
                corpora['wikitext-2-sized'] = sized
        for fw in args.frameworks.split(','):
            for task in tasks:
                if task in ('dataset', 'training'):
                    compare(task, fw, 'snli-sized', data_dir, args)
                elif task == 'wiki-dataset':
                    for corpus, folder in corpora.items():
                        compare(task, fw, corpus, folder, args)
                else:  # pretraining: on the bundled corpus
                    compare(task, fw, 'wikitext-2-mini', corpora['wikitext-2-mini'], args)


if __name__ == '__main__':
    main()
