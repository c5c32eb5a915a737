"""The pretraining half of `make bench`: building the pretraining dataset and training BERT on
it, each beside a baseline of ours that works the way the book's pretraining code does.

The baselines, written here: `PlainWikiDataset` builds every example one pair at a time as
Python lists, then one array per example, padded to max_len with round(0.15 * max_len)
predictions; the framework's plain data loader stacks them into batches of max_len tokens.
`book_steps` trains as the book's step does: attention computed in full (every query with every
key, -1e6 past valid_len, softmax), Adam with the framework's default implementation, and the
two losses read back from the device after every step. Both sides use bert.mini's shape and the
same corpus. tools.bench runs these functions in fresh subprocesses and prints the figures.
"""
import itertools
import os
import random
import time
import types

from d2lmini.checkpoints import BERT_CONFIGS
from d2lmini.text import RESERVED, Vocab
from d2lmini.utils import Accumulator

MINI = BERT_CONFIGS['bert.mini']  # 2 blocks, 128 hidden, 4 heads, ffn 256
MAX_LEN = 64
LR = 3e-3  # the pretraining notebook's, with a warm-up over a tenth of the steps for ours


def framework(fw):
    if fw == 'torch':
        from d2lmini import torch as d2l
    else:
        from d2lmini import mxnet as d2l
    return d2l


def read_wiki_plain(data_dir):
    """The paragraphs of `wiki.train.tokens` (lines of two sentences or more), read as the book
    reads them: split on ' . ', lower-cased."""
    with open(os.path.join(data_dir, 'wiki.train.tokens'), encoding='utf-8') as f:
        lines = f.readlines()
    return [line.strip().lower().split(' . ') for line in lines if len(line.split(' . ')) >= 2]


class PlainWikiDataset:
    """Pretraining examples made the book's way: for every pair of consecutive sentences a
    true or a random second sentence, then the masked words, all in Python lists, one example
    at a time; each of the seven fields becomes one array per example (`to_array`)."""

    def __init__(self, paragraphs, max_len, to_array, seed=0):
        rng = random.Random(seed)
        paragraphs = [[s.split() for s in p] for p in paragraphs]
        self.vocab = Vocab([s for p in paragraphs for s in p], min_freq=5,
                           reserved_tokens=RESERVED)
        pairs = []
        for paragraph in paragraphs:
            for a, b in itertools.pairwise(paragraph):
                is_next = rng.random() < 0.5
                if not is_next:
                    b = rng.choice(rng.choice(paragraphs))
                if len(a) + len(b) + 3 <= max_len:
                    pairs.append((['<cls>', *a, '<sep>', *b, '<sep>'],
                                  [0] * (len(a) + 2) + [1] * (len(b) + 1), int(is_next)))
        max_preds = round(max_len * 0.15)
        self.fields = [[] for _ in range(7)]
        for tokens, segments, is_next in pairs:
            candidates = [i for i, t in enumerate(tokens) if t not in ('<cls>', '<sep>')]
            rng.shuffle(candidates)
            masked, picked = list(tokens), []
            for i in sorted(candidates[:max(1, round(len(tokens) * 0.15))]):
                draw = rng.random()
                if draw < 0.8:
                    masked[i] = '<mask>'
                elif draw < 0.9:  # a random word, never a special token
                    masked[i] = self.vocab.idx_to_token[rng.randrange(len(RESERVED) + 1,
                                                                      len(self.vocab))]
                picked.append(i)
            pad, pred_pad = max_len - len(tokens), max_preds - len(picked)
            values = [(self.vocab[masked] + [self.vocab['<pad>']] * pad, 'int64'),
                      (segments + [0] * pad, 'int64'), (len(tokens), 'int32'),
                      (picked + [0] * pred_pad, 'int64'),
                      ([1.0] * len(picked) + [0.0] * pred_pad, 'float32'),
                      (self.vocab[[tokens[i] for i in picked]] + [0] * pred_pad, 'int64'),
                      (is_next, 'int64')]
            for field, (value, dtype) in zip(self.fields, values):
                field.append(to_array(value, dtype))

    def __getitem__(self, idx):
        return tuple(field[idx] for field in self.fields)

    def __len__(self):
        return len(self.fields[0])


def plain_data(fw, paragraphs, batch_size):
    """The baseline's dataset and the framework's plain loader of it (shuffled batches)."""
    if fw == 'torch':
        import torch
        dataset = PlainWikiDataset(paragraphs, MAX_LEN,
                                   lambda v, dtype: torch.tensor(v, dtype=getattr(torch, dtype)))
        return dataset, torch.utils.data.DataLoader(dataset, batch_size, shuffle=True)
    from mxnet import gluon, np
    dataset = PlainWikiDataset(paragraphs, MAX_LEN, lambda v, dtype: np.array(v, dtype=dtype))
    return dataset, gluon.data.DataLoader(dataset, batch_size, shuffle=True)


def wiki_dataset(fw, data_dir, naive, batch_size):
    """Seconds to read the corpus and build the dataset, then for one epoch of its loader."""
    d2l = framework(fw)
    start = time.perf_counter()
    if naive:
        dataset, loader = plain_data(fw, read_wiki_plain(data_dir), batch_size)
    else:
        paragraphs, _ = d2l._read_wiki(data_dir)
        dataset = d2l._WikiTextDataset(paragraphs, MAX_LEN, rng=0)
        loader = d2l.load_wiki_batches(dataset, batch_size, shuffle=True)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    batches = sum(1 for _ in loader)
    return {'pairs': len(dataset), 'seconds': round(seconds, 3),
            'epoch_seconds': round(time.perf_counter() - start, 3), 'batches': batches}


def book_attention(self, queries, keys, values, valid_lens=None):
    """PyTorch attention computed as the book does: the scores of every query with every key,
    -1e6 past each valid_len, softmax, dropout on the weights, then their sum of the values."""
    import torch
    from torch.nn import functional as F
    q, k = self._heads(self.W_q(queries)), self._heads(self.W_k(keys))
    scores = q @ k.transpose(2, 3) / q.shape[-1] ** 0.5
    if valid_lens is not None:
        scores = scores.masked_fill(~self._mask(k, valid_lens), -1e6)
    weights = F.dropout(torch.softmax(scores, dim=-1), self.dropout, self.training)
    return self.W_o((weights @ self._heads(self.W_v(values))).transpose(1, 2).flatten(2))


def book_steps(fw, net, train_iter, vocab_size, device, steps):
    """`steps` training steps as the book's train_bert takes them (no plot: the book's timer
    leaves its plot out too)."""
    d2l = framework(fw)
    metric, step = Accumulator(4), 0  # sums of both losses, pairs, steps
    if fw == 'torch':
        import torch
        loss = torch.nn.CrossEntropyLoss(reduction='none')
        trainer = torch.optim.Adam(net.parameters(), lr=LR)
        net.train()
    else:
        from mxnet import autograd, gluon
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
        trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': LR})
    while step < steps:
        for batch in train_iter:
            batch = d2l.to_device(batch, device)
            if fw == 'torch':
                trainer.zero_grad()
                mlm_l, nsp_l, l = d2l._get_batch_loss_bert(net, loss, vocab_size, *batch)
                l.backward()
                trainer.step()
            else:
                with autograd.record():
                    mlm_l, nsp_l, l = d2l._get_batch_loss_bert(net, loss, vocab_size, *batch)
                l.backward()
                trainer.step(1)
            metric.add(mlm_l, nsp_l, len(batch[0]), 1)  # float(): the host waits for the step
            step += 1
            if step == steps:
                break
    return metric[2]


def pretraining(fw, data_dir, naive, steps, batch_size):
    """Sentence pairs per second over `steps` training steps on bert.mini's shape: d2lmini's
    train_bert on its loader (plot included), or the baseline's steps on the baseline's data.
    Building the data and the model is not timed."""
    d2l = framework(fw)
    if naive:
        dataset, train_iter = plain_data(fw, read_wiki_plain(data_dir), batch_size)
    else:
        paragraphs, _ = d2l._read_wiki(data_dir)
        dataset = d2l._WikiTextDataset(paragraphs, MAX_LEN, rng=0)
    vocab_size, devices = len(dataset.vocab), d2l.try_all_gpus()[:1]
    if fw == 'torch':
        import torch
        torch.manual_seed(0)
        net = d2l.BERTModel(vocab_size, **MINI).to(devices[0])
        if naive:
            for block in net.encoder.blks:
                block.attention.forward = types.MethodType(book_attention, block.attention)
        else:
            train_iter = d2l.load_wiki_batches(dataset, batch_size, shuffle=True)
        loss = torch.nn.CrossEntropyLoss(reduction='none')
    else:
        import mxnet as mx
        from mxnet import gluon, init
        mx.random.seed(0)
        net = d2l.BERTModel(vocab_size, **MINI)
        net.initialize(init.Xavier(), ctx=devices)
        if not naive:
            train_iter = d2l.load_wiki_batches(dataset, batch_size, shuffle=True)
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
    import matplotlib.pyplot  # noqa: F401  (loaded already in a notebook: not timed here)
    start = time.perf_counter()
    if naive:
        pairs = book_steps(fw, net, train_iter, vocab_size, devices[0], steps)
    else:
        d2l.train_bert(train_iter, net, loss, vocab_size, devices, steps, LR,
                       max(1, steps // 10))
        pairs = steps * batch_size  # the bucketed batches are full but for an epoch's last
    seconds = time.perf_counter() - start
    return {'steps': steps, 'batch_size': batch_size, 'seconds': round(seconds, 3),
            'pairs_per_sec': round(pairs / seconds, 1)}


def first_lines(source_dir, data_dir, lines):
    """A copy of the first `lines` lines of `source_dir`'s wiki.train.tokens in `data_dir`."""
    os.mkdir(data_dir)
    with open(os.path.join(source_dir, 'wiki.train.tokens'), encoding='utf-8') as f:
        text = list(itertools.islice(f, lines))
    with open(os.path.join(data_dir, 'wiki.train.tokens'), 'w', encoding='utf-8') as f:
        f.writelines(text)
    return data_dir


def write_wikitext2_sized(data_dir, source_dir, tokens=2_100_000, seed=0):
    """A WikiText-2-sized `wiki.train.tokens` in `data_dir`, from the bundled corpus's lines in
    `source_dir`: WikiText-2's training split has about 2.1 million tokens in 36,700 lines,
    articles of a heading and paragraphs of about 120 tokens, separated by empty lines, with
    sentences of about 20 tokens. Here two bundled sentences joined by 'and' make one sentence,
    and sentences are drawn, shuffled, until the paragraphs hold `tokens` tokens."""
    with open(os.path.join(source_dir, 'wiki.train.tokens'), encoding='utf-8') as f:
        sentences = [s.strip(' .') for line in f for s in line.strip().split(' . ') if s]
    rng, lines, count, paragraphs = random.Random(seed), [], 0, 0
    while count < tokens:
        if paragraphs % 30 == 0:  # an article of 30 paragraphs
            lines += [' \n', f' = Article {paragraphs // 30 + 1} = \n', ' \n']
        paragraphs += 1
        paragraph = []
        while sum(len(s.split()) for s in paragraph) < 120:
            paragraph.append(f'{rng.choice(sentences)} and {rng.choice(sentences)}')
        lines += [' ' + ' . '.join(paragraph) + ' . \n', ' \n']
        count += sum(len(s.split()) + 1 for s in paragraph)
    with open(os.path.join(data_dir, 'wiki.train.tokens'), 'w', encoding='utf-8') as f:
        f.writelines(lines)
    return {'lines': len(lines), 'tokens': count}
