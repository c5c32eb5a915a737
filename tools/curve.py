"""What pretraining buys as it grows: `python -m tools.curve OUT.tsv` (PyTorch, about 30 minutes
on two cores).

Pretrains BERT with bert.mini's recipe (tools.pretrain: 20,000 steps of 128 pairs, Adam at 2e-3
with warm-up and linear decay, foils as false next sentences) and takes a snapshot of the weights
after each number of steps in STEPS; each snapshot is scored on held-out text (masked-token and
next-sentence accuracy) and fine-tuned with the NLI notebook's recipe (tools.evaluate: 5 epochs,
batch 64, Adam at 1e-3) on the bundled snli-mini. The snapshots come from one run, so the early
ones were taken at a learning rate still meant for 20,000 steps, not at the end of a shorter run
of their own: they show how far the long run had got, not the best a short run can do.
"""
import csv
import os
import sys
import time

import numpy as np
import torch

from d2lmini import torch as d2l

from . import evaluate, pretrain, snli_scenes

STEPS = (0, 250, 500, 1000, 2000, 4000, 7000, 10000, 15000, 20000)
BATCH_SIZE = 128  # bert.mini's
COLUMNS = ('steps', 'sentence_pairs', 'mlm_accuracy', 'nsp_accuracy', 'nli_test_accuracy')


class Snapshots:
    """Wraps the batches of d2l.train_bert (`wrap`) and saves a copy of the weights once
    `steps` batches have been trained on (train_bert asks for the next batch only after its
    step)."""

    def __init__(self, net, steps):
        self.net, self.steps, self.batches, self.saved, self.done = net, steps, None, {}, 0

    def wrap(self, batches):
        self.batches = batches
        return self

    def copy(self):
        return {k: v.clone() for k, v in self.net.state_dict().items()}

    def save(self):
        if self.done in self.steps:
            self.saved[self.done] = self.copy()

    def __iter__(self):
        for batch in self.batches:
            self.save()
            yield batch
            self.done += 1
        self.save()


def fine_tuned_accuracy(fw, bert, train_set, test_set):
    net = evaluate.fine_tune(fw, bert, train_set, epochs=5, lr=1e-3, batch_size=64, seed=0)
    return evaluate.accuracy_of(fw, net, test_set)


def curve(seed=0, num_paragraphs=20000, eval_paragraphs=500, steps=STEPS, log=print):
    """Rows of COLUMNS, one per number of pretraining steps."""
    fw = evaluate.Torch()
    config = d2l.BERT_CONFIGS[pretrain.NAME]
    snli_dir = d2l.download_extract('snli-mini')
    snli_zip = os.path.join(os.path.dirname(d2l.__file__), 'data', 'snli-mini.zip')  # bundled
    corpus = snli_scenes.pretraining_corpus(seed, num_paragraphs)
    held_out = snli_scenes.pretraining_corpus(seed + 1, eval_paragraphs)
    vocab = pretrain.build_vocab(corpus, pretrain.snli_sentences(snli_zip))
    torch.manual_seed(seed)
    net = d2l.BERTModel(len(vocab), **config)
    snapshots = Snapshots(net, set(steps))
    start = time.perf_counter()
    pretrain.pretrain(net, corpus, vocab, max(steps), BATCH_SIZE,
                      rng=np.random.default_rng(seed), wrap=snapshots.wrap)
    snapshots.saved[max(steps)] = snapshots.copy()  # train_bert asks for no batch after it
    log(f'pretrained {max(steps)} steps in {time.perf_counter() - start:.0f} s')
    train_set = d2l.SNLIBERTDataset(d2l.read_snli(snli_dir, True), 128, vocab)
    test_set = d2l.SNLIBERTDataset(d2l.read_snli(snli_dir, False), 128, vocab)
    rows = []
    for n in steps:
        bert = d2l.BERTModel(len(vocab), **config)
        bert.load_state_dict(snapshots.saved[n])
        mlm, nsp = pretrain.pretraining_accuracy(bert.eval(), held_out, vocab, seed + 1)
        acc = fine_tuned_accuracy(fw, bert, train_set, test_set)
        rows.append((n, n * BATCH_SIZE, round(mlm, 3), round(nsp, 3), round(acc, 3)))
        log('\t'.join(map(str, rows[-1])))
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m tools.curve OUT.tsv   (e.g. d2lmini/data/pretraining_curve.tsv)')
    rows = curve()
    tmp = argv[0] + '.tmp'
    with open(tmp, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f, delimiter='\t', lineterminator='\n')
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, argv[0])  # whole or not at all
    print(f'wrote {argv[0]}')


if __name__ == '__main__':
    main()
