"""Pretrain the bundled bert.mini checkpoint: `python -m tools.pretrain d2lmini/data`.

BERT's two pretraining tasks, as in the book: masked language modeling (15% of the tokens are
picked; 80% of those become <mask>, 10% a random word, 10% stay) and next sentence prediction
(half the pairs are consecutive sentences, half are not). The text comes from the generated
corpus of tools.snli_scenes; the vocabulary also covers every word of the reduced SNLI, so that
fine-tuning meets no unknown words. Everything is seeded and runs on one CPU thread, so a
rebuild on the same machine writes the same bytes.

The pairs, the masks and the training loop are d2lmini's own (d2lmini/pretraining.py,
d2l._WikiTextDataset, d2l.train_bert, whose warm-up and linear decay it uses), the code the
bert-pretraining notebooks teach; this script adds the vocabulary and fresh pairs and masks every
epoch.

One change from the book: a false next sentence is a *foil*, the true next sentence with one
detail changed so that it contradicts the first (the book takes a random sentence). In this
small world a random sentence mostly differs at its first word, another subject, and telling it
apart teaches nothing that NLI needs; spotting the one detail that two sentences disagree on is
what contradictions take.
"""
import copy
import io
import os
import sys
import tempfile
import time
import zipfile

import numpy as np
import torch
from torch import nn

from d2lmini import checkpoints, hub
from d2lmini import torch as d2l
from d2lmini.convert import write_gluon_zip
from d2lmini.snli import read_snli_file
from d2lmini.text import RESERVED, Vocab, bucket_batches

from . import snli_scenes

NAME = 'bert.mini'


def build_vocab(corpus, snli_sentences):
    """Every word of the pretraining corpus and of SNLI, after <unk> and the reserved tokens."""
    paragraphs, foils = corpus
    words = [s.lower().split() for p in paragraphs for s in p]
    words += [s.lower().split() for f in foils for s in f if s]
    words += [s.lower().split() for s in snli_sentences]
    return Vocab(words, reserved_tokens=RESERVED)


def snli_sentences(snli_zip):
    """All premises and hypotheses of the three splits in the reduced-SNLI zip."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(snli_zip) as zf:
            zf.extractall(tmp)
        sentences = []
        for split in ('train', 'dev', 'test'):
            path = os.path.join(tmp, 'snli-mini', f'snli_1.0_{split}.txt')  # snligen's layout
            premises, hypotheses, _ = read_snli_file(path)
            sentences += premises + hypotheses
    return sentences


def make_batches(corpus, vocab, max_len, batch_size, rng):
    """One epoch of shuffled pretraining batches, with fresh pairs and masks, each cut to its
    longest pair: the very dataset and batches of d2l.load_data_wiki."""
    dataset = d2l._WikiTextDataset(corpus[0], max_len, corpus[1], vocab, rng)
    # Pairs of similar length share a batch, so that cutting padding saves the most
    for idx in bucket_batches(dataset.valid_lens.numpy(), batch_size, shuffle=True, rng=rng):
        yield d2l._trim_bert_batch(dataset[idx])


class Epochs:
    """Batches for d2l.train_bert that draw new pairs and masks each time they are iterated."""

    def __init__(self, corpus, vocab, max_len, batch_size, rng):
        self.args = corpus, vocab, max_len, batch_size, rng

    def __iter__(self):
        return make_batches(*self.args)


def pretrain(net, corpus, vocab, num_steps, batch_size=128, max_len=64, lr=2e-3, rng=None,
             wrap=None):
    """Train `net` on both tasks for `num_steps` batches with d2l.train_bert, with fresh pairs
    and masks every epoch. Adam's learning rate rises linearly over the first tenth of the
    steps, then decays linearly to zero. `wrap`, if given, wraps the batches (tools.curve
    takes its snapshots that way)."""
    epochs = Epochs(corpus, vocab, max_len, batch_size, rng)
    batches = wrap(epochs) if wrap else epochs
    return d2l.train_bert(batches, net, nn.CrossEntropyLoss(reduction='none'), len(vocab),
                          [torch.device('cpu')], num_steps, lr=lr,
                          warmup_steps=max(1, num_steps // 10))


def pretraining_accuracy(net, corpus, vocab, seed, max_len=64):
    """Accuracy of masked-token and next-sentence predictions on `corpus` (eval mode)."""
    rng = np.random.default_rng(seed)
    return d2l.evaluate_pretraining(net, make_batches(corpus, vocab, max_len, 256, rng))


def zip_checkpoint(path, folder, vocab, state_dict):
    """Write `vocab` and `state_dict` in the checkpoint layout as a reproducible zip."""
    params = io.BytesIO()
    torch.save(state_dict, params)
    return checkpoints.write_checkpoint_zip(path, folder, vocab.to_json().encode(), params.getvalue())


def build_torch_checkpoint(out_dir, snli_zip=None, config=None, num_paragraphs=20000,
                           num_steps=20000, eval_paragraphs=500, seed=0, log=print):
    """Pretrain bert.mini and write `<out_dir>/bert.mini.torch.zip`; return its path.

    `snli_zip` (default `<out_dir>/snli-mini.zip`) supplies the fine-tuning words for the
    vocabulary; `config` defaults to d2l.BERT_CONFIGS['bert.mini']. Masked-token accuracy on
    held-out generated text is logged for the pretrained and for the untrained model.
    """
    config = dict(d2l.BERT_CONFIGS[NAME] if config is None else config)
    snli_zip = os.path.join(out_dir, 'snli-mini.zip') if snli_zip is None else snli_zip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # no run-to-run changes from how threads split the sums
    try:
        start = time.perf_counter()
        corpus = snli_scenes.pretraining_corpus(seed, num_paragraphs)
        held_out = snli_scenes.pretraining_corpus(seed + 1, eval_paragraphs)
        vocab = build_vocab(corpus, snli_sentences(snli_zip))
        torch.manual_seed(seed)
        net = d2l.BERTModel(len(vocab), **config)
        untrained = copy.deepcopy(net)
        pretrain(net, corpus, vocab, num_steps, rng=np.random.default_rng(seed))
        seconds = time.perf_counter() - start
        mlm, nsp = pretraining_accuracy(net, held_out, vocab, seed + 1)
        mlm0, nsp0 = pretraining_accuracy(untrained, held_out, vocab, seed + 1)
    finally:
        torch.set_num_threads(threads)
    log(f'{NAME}: {len(vocab)} tokens in the vocabulary, {num_steps} steps on '
        f'{num_paragraphs} paragraphs in {seconds:.0f} s')
    log(f'held-out masked-token accuracy: pretrained {mlm:.3f}, untrained {mlm0:.3f}')
    log(f'held-out next-sentence accuracy: pretrained {nsp:.3f}, untrained {nsp0:.3f}')
    path = os.path.join(out_dir, f'{NAME}.torch.zip')
    return zip_checkpoint(path, f'{NAME}.torch', vocab, net.state_dict())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m tools.pretrain OUT_DIR   (e.g. d2lmini/data)')
    torch.use_deterministic_algorithms(True)
    path = build_torch_checkpoint(argv[0])
    print(f'wrote {path}: {os.path.getsize(path)} bytes, sha1 {hub.sha1_of(path)} '
          f"(put it in DATA_HUB['{NAME}'] of d2lmini/torch.py)")
    # The MXNet checkpoint is the same weights, converted; MXNet is imported only now.
    path = write_gluon_zip(path, argv[0])
    print(f'wrote {path}: {os.path.getsize(path)} bytes, sha1 {hub.sha1_of(path)} '
          f"(put it in DATA_HUB['{NAME}'] of d2lmini/mxnet.py)")


if __name__ == '__main__':
    main()
