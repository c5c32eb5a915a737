"""Speed and memory benchmark: `python -m tools.bench` (or `make bench`).

Prints one JSON line per measurement, for both frameworks, each beside a naive baseline of ours
measured in the same run: `d2lmini.text.pack_pairs_plain`, the readable packer that goes one
pair at a time as the book does, and batches padded to max_len in random order. Every measurement runs in a fresh subprocess, so
peak memory is its own and MXNet's thread settings do not leak into PyTorch. The README holds
the book's own figures, the targets and the results of a run.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from d2lmini.checkpoints import BERT_CONFIGS
from d2lmini.snli import HEADER, LABELS, read_snli
from d2lmini.text import RESERVED, Vocab, pack_pairs_plain

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
    else:
        result = training(args.framework, args.data_dir, args.naive, args.examples,
                          args.batch_size)
    print('RESULT ' + json.dumps(result))


def measure(task, fw, naive, data_dir, examples, batch_size):
    cmd = [sys.executable, '-m', 'tools.bench', '--worker', '--task', task,
           '--framework', fw, '--data-dir', data_dir, '--examples', str(examples),
           '--batch-size', str(batch_size)] + (['--naive'] if naive else [])
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith('RESULT ')]
    if out.returncode or not lines:
        raise RuntimeError(f'benchmark step {task}/{fw} failed:\n{out.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=550_000, help='SNLI-sized rows to generate')
    parser.add_argument('--examples', type=int, default=3840, help='pairs to train on')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--frameworks', default='torch,mxnet')
    parser.add_argument('--tasks', default='dataset,training')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--task', help=argparse.SUPPRESS)
    parser.add_argument('--framework', help=argparse.SUPPRESS)
    parser.add_argument('--data-dir', help=argparse.SUPPRESS)
    parser.add_argument('--naive', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args)
    with tempfile.TemporaryDirectory(prefix='d2lmini-bench-') as data_dir:
        start = time.perf_counter()
        write_snli_sized(os.path.join(data_dir, 'snli_1.0_train.txt'), args.pairs)
        write_vocab(data_dir)
        print(json.dumps({'step': 'generate', 'pairs': args.pairs,
                          'seconds': round(time.perf_counter() - start, 2)}), flush=True)
        for fw in args.frameworks.split(','):
            for task in args.tasks.split(','):
                pair = {}
                for naive in (True, False):
                    pair['baseline' if naive else 'd2lmini'] = measure(
                        task, fw, naive, data_dir, args.examples, args.batch_size)
                    print(json.dumps(dict(framework=fw, task=task,
                                          variant='baseline' if naive else 'd2lmini',
                                          **pair['baseline' if naive else 'd2lmini'])),
                          flush=True)
                key = 'seconds' if task == 'dataset' else 'train_examples_per_sec'
                # A floor of 1 ms: a tiny input can be built in less than the clock shows
                b, d = (max(pair[v][key], 1e-3) for v in ('baseline', 'd2lmini'))
                speedup = b / d if task == 'dataset' else d / b
                summary = {'framework': fw, 'task': task, 'speedup': round(speedup, 2)}
                if task == 'training':
                    summary['eval_speedup'] = round(pair['d2lmini']['eval_examples_per_sec']
                                                    / pair['baseline']['eval_examples_per_sec'], 2)
                print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
