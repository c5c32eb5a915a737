"""How good is the reduced-mode model? `python -m tools.evaluate` (make evaluate).

Fine-tunes the bundled bert.mini with the NLI notebook's recipe (PyTorch) and, as the control,
the same classifier from a randomly initialised BERT of the same shape, with the same data and
budget. For each it prints the test accuracy, the recall of each label, the mean probability of
the predicted label, and the accuracy on the hand-written pairs of tests/heldout_pairs.tsv,
which use the reduced vocabulary but none of the generator's sentences.
"""
import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from torch import nn

from d2lmini import torch as d2l

HELDOUT = Path(__file__).resolve().parents[1] / 'tests' / 'heldout_pairs.tsv'


def read_heldout(path=HELDOUT):
    """The hand-written pairs: a list of dicts with label, phenomenon, premise, hypothesis."""
    with open(path, encoding='utf-8', newline='') as f:
        return list(csv.DictReader(f, delimiter='\t'))


def fine_tune(bert, train_set, epochs, lr, batch_size, seed):
    """The notebook's recipe: Adam on the mean cross-entropy, batches of similar length."""
    torch.manual_seed(seed)
    net = d2l.BERTClassifier(bert)
    train_iter = d2l.load_snli_batches(train_set, batch_size, shuffle=True)
    trainer = torch.optim.Adam(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss(reduction='none')
    for _ in range(epochs):
        for X, y in train_iter:
            d2l.train_batch_ch13(net, X, y, loss, trainer, [torch.device('cpu')])
    return net.eval()


def report(name, net, vocab, test_set, heldout):
    X, y = d2l.trim_batch(((test_set.all_token_ids, test_set.all_segments, test_set.valid_lens),
                           test_set.labels))
    with torch.no_grad():
        probs = torch.softmax(net(X), dim=1).numpy()
    pred, y = probs.argmax(1), y.numpy()
    recall = [float((pred[y == k] == k).mean()) for k in range(3)]
    right = [d2l.predict_snli(net, vocab, r['premise'], r['hypothesis'])[0] == r['label']
             for r in heldout]
    print(f'{name:12} test acc {(pred == y).mean():.3f}  recall E/C/N '
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
    parser.add_argument('--checkpoint', default='bert.mini')
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    config = d2l.BERT_CONFIGS[args.checkpoint]
    cpu = [torch.device('cpu')]
    bert, vocab = d2l.load_pretrained_model(args.checkpoint, **config, devices=cpu)
    data_dir = d2l.download_extract('snli-mini')
    train_set = d2l.SNLIBERTDataset(d2l.read_snli(data_dir, True), 128, vocab)
    test_set = d2l.SNLIBERTDataset(d2l.read_snli(data_dir, False), 128, vocab)
    heldout = read_heldout()
    recipe = (args.epochs, args.lr, args.batch_size, args.seed)
    report('pretrained', fine_tune(bert, train_set, *recipe), vocab, test_set, heldout)
    torch.manual_seed(args.seed)
    scratch = d2l.BERTModel(len(vocab), **config)
    report('from scratch', fine_tune(scratch, train_set, *recipe), vocab, test_set,
           heldout)


if __name__ == '__main__':
    main()
