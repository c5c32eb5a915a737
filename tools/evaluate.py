"""How good is the reduced-mode model? `python -m tools.evaluate [--framework mxnet]`.

Fine-tunes the bundled bert.mini with the NLI notebook's recipe (PyTorch, or MXNet/Gluon) and,
as the control, the same classifier from a randomly initialised BERT of the same shape, with the
same data and budget. For each it prints the test accuracy, the recall of each label, the mean
probability of the predicted label, and the accuracy on the hand-written pairs of
d2lmini/data/handwritten_pairs.tsv, which use the reduced vocabulary but none of the generator's
sentences (the notebooks check them too, through d2l.read_handwritten_pairs).

`--squares` reads the corpus of Latin squares that `python -m tools.snligen --squares` writes
(issue 23; not bundled yet) instead of the bundled snli-mini.

`--one-sentence premise` (or `hypothesis`) fine-tunes the same way on that sentence alone, the
other one left empty, and prints its test accuracy: a model that scores above chance (1/3) has
found a shortcut in the corpus that needs no comparison of the two sentences.
"""
import argparse
import contextlib
import importlib
import io
import os
import tempfile
import zipfile

import numpy as np

from d2lmini.metrics import confusion_matrix, recall_precision
from d2lmini.snli import read_handwritten_rows

from . import snligen


class Torch:
    """The notebook's recipe in PyTorch: Adam on the mean cross-entropy."""

    def __init__(self):
        self.d2l = importlib.import_module('d2lmini.torch')  # first: it sets torch's threads
        import torch
        self.torch = torch
        self.devices = [torch.device('cpu')]

    def seed(self, seed):
        self.torch.manual_seed(seed)

    def scratch(self, vocab, config):
        return self.d2l.BERTModel(len(vocab), **config)

    def recipe(self, net, lr):
        loss = self.torch.nn.CrossEntropyLoss(reduction='none')
        return loss, self.torch.optim.Adam(net.parameters(), lr=lr)


class MXNet:
    """The notebook's recipe in Gluon: Adam on the mean softmax cross-entropy."""

    def __init__(self):
        self.d2l = importlib.import_module('d2lmini.mxnet')  # first: it sets MXNet's threads
        import mxnet
        self.mx = mxnet
        self.devices = [mxnet.cpu()]

    def seed(self, seed):
        self.mx.random.seed(seed)

    def scratch(self, vocab, config):
        bert = self.d2l.BERTModel(len(vocab), **config)
        bert.initialize(self.mx.init.Xavier(), ctx=self.devices)
        return bert

    def recipe(self, net, lr):
        trainer = self.mx.gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': lr})
        return self.mx.gluon.loss.SoftmaxCrossEntropyLoss(), trainer


def fine_tune(fw, bert, train_set, epochs, lr, batch_size, seed):
    """Fine-tune a classifier on `bert` with batches of similar length, as the notebook does."""
    d2l = fw.d2l
    fw.seed(seed)
    net = d2l.BERTClassifier(bert)
    train_iter = d2l.load_snli_batches(train_set, batch_size, shuffle=True)
    loss, trainer = fw.recipe(net, lr)
    for _ in range(epochs):
        for X, y in train_iter:
            d2l.train_batch_ch13(net, X, y, loss, trainer, fw.devices)
    return net


def one_sentence(fw, bert, vocab, data_dir, side, epochs=5, lr=1e-3, batch_size=64, seed=0):
    """Test accuracy of a classifier fine-tuned on the premises (or hypotheses) alone."""
    d2l = fw.d2l
    keep = 0 if side == 'premise' else 1

    def alone(split):
        sentences, labels = split[keep], split[2]
        return d2l.SNLIBERTDataset((sentences, [''] * len(sentences), labels), 128, vocab)

    train_set, test_set = (alone(d2l.read_snli(data_dir, is_train)) for is_train in (True, False))
    return accuracy_of(fw, fine_tune(fw, bert, train_set, epochs, lr, batch_size, seed),
                         test_set)


def accuracy_of(fw, net, test_set):
    """The share of `test_set` that the fine-tuned classifier `net` labels right."""
    probs, labels = fw.d2l.predict_probs(net, fw.d2l.load_snli_batches(test_set, 256,
                                                                        shuffle=False))
    return float((probs.argmax(1) == labels).mean())


def squares_dir(out):
    """The corpus of squares written and unpacked under `out`; returns its folder."""
    snligen.write_snli_zip(out, squares=True)
    with zipfile.ZipFile(os.path.join(out, 'snli-mini.zip')) as zf:
        zf.extractall(out)
    return os.path.join(out, 'snli-mini')


def report(fw, name, net, vocab, test_set, heldout):
    d2l = fw.d2l
    probs, labels = d2l.predict_probs(net, d2l.load_snli_batches(test_set, 256, shuffle=False))
    preds = probs.argmax(1)
    recall, _ = recall_precision(confusion_matrix(labels, preds, len(d2l.LABELS)))
    with contextlib.redirect_stdout(io.StringIO()):  # no unknown words here: keep it quiet
        right = [d2l.predict_snli(net, vocab, r['premise'], r['hypothesis'])[0] == r['label']
                 for r in heldout]
    print(f'{name:12} test acc {(preds == labels).mean():.3f}  recall E/C/N '
          + '/'.join(f'{r:.2f}' for r in recall)
          + f'  mean p {probs.max(1).mean():.2f}  hand-written {np.mean(right):.2f}'
          f' ({sum(right)}/{len(right)})')
    for r, ok in zip(heldout, right):
        if not ok:
            print(f'    wrong: {r["label"]:13} ({r["phenomenon"]}) {r["premise"]} / '
                  f'{r["hypothesis"]}')


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tools.evaluate',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--framework', choices=['torch', 'mxnet'], default='torch')
    parser.add_argument('--checkpoint', default='bert.mini')
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--one-sentence', choices=['premise', 'hypothesis'])
    parser.add_argument('--squares', action='store_true')
    args = parser.parse_args(argv)
    fw = Torch() if args.framework == 'torch' else MXNet()
    d2l, config = fw.d2l, fw.d2l.BERT_CONFIGS[args.checkpoint]
    fw.seed(args.seed)
    bert, vocab = d2l.load_pretrained_model(args.checkpoint, **config, devices=fw.devices)
    data_dir = squares_dir(tempfile.mkdtemp()) if args.squares else d2l.download_extract(
        'snli-mini')
    if args.one_sentence:
        acc = one_sentence(fw, bert, vocab, data_dir, args.one_sentence, args.epochs, args.lr,
                           args.batch_size, args.seed)
        print(f'{args.one_sentence} alone: test acc {acc:.3f} (chance 0.333)')
        return
    train_set = d2l.SNLIBERTDataset(d2l.read_snli(data_dir, True), 128, vocab)
    test_set = d2l.SNLIBERTDataset(d2l.read_snli(data_dir, False), 128, vocab)
    heldout = read_handwritten_rows()
    recipe = (args.epochs, args.lr, args.batch_size, args.seed)
    report(fw, 'pretrained', fine_tune(fw, bert, train_set, *recipe), vocab, test_set, heldout)
    fw.seed(args.seed)
    scratch = fw.scratch(vocab, config)
    report(fw, 'from scratch', fine_tune(fw, scratch, train_set, *recipe), vocab, test_set,
           heldout)


if __name__ == '__main__':
    main()
