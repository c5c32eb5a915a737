"""PyTorch helpers for the notebooks: `from d2lmini import torch as d2l`.

The names follow the book (d2l.BERTModel, d2l.train_ch13, ...). d2lmini/mxnet.py is this file's
twin: the same public names, in the same order, with the same docstrings but for framework
words and framework notes (a paragraph that starts "PyTorch:" or "Gluon:").
"""
import io
import os
import pickle
import re
import sys
import zipfile

from .threads import let_idle_threads_sleep

let_idle_threads_sleep('torch')

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import checkpoints, hub
from .hub import DATA_URL, data_dir
from .metrics import confident_mistakes, confusion_matrix, recall_precision
from .plots import show_confusion_matrix, show_heatmaps, show_pretraining_curve
from .pretraining import (
    _get_mlm_data_from_tokens,
    _get_next_sentence,
    _get_nsp_data_from_paragraph,
    _pad_bert_inputs,
    _read_wiki,
    _replace_mlm_tokens,
    get_pretraining_data,
    pretraining_curve,
)
from .sentences import read_pair, unknown_words
from .snli import LABELS, read_handwritten_pairs, read_snli
from .text import (
    BucketBatchSampler,
    Vocab,
    get_tokens_and_segments,
    pack_pairs,
    tokenize,
    truncate_pair_of_tokens,
)
from .threads import threads_to_use
from .utils import Accumulator, Animator, Timer


def _set_threads():
    """Size PyTorch's operator threads to the cores this process may really use (the affinity
    mask, physical cores and a container's CPU quota: threads.usable_cores). Left to itself,
    PyTorch counts the cores it sees: in a container limited to one CPU of a 2-core machine it
    ran two threads that waited for each other. A thread count that the user gave PyTorch
    (torch.set_num_threads, OMP_NUM_THREADS or MKL_NUM_THREADS) is kept."""
    threads = threads_to_use('MKL_NUM_THREADS')
    if threads is not None and threads < torch.get_num_threads():
        torch.set_num_threads(threads)


_set_threads()

__all__ = [  # noqa: RUF022 (in teaching order, the twins' contract)
    # Framework-free helpers
    'Vocab', 'tokenize', 'get_tokens_and_segments', 'truncate_pair_of_tokens', 'pack_pairs',
    'BucketBatchSampler', 'Timer', 'Accumulator', 'Animator', 'read_snli', 'LABELS',
    'read_handwritten_pairs',
    'DATA_URL', 'data_dir', 'unknown_words', 'confusion_matrix', 'recall_precision',
    'confident_mistakes', 'show_heatmaps', 'show_confusion_matrix',
    # Data hub and checkpoints
    'DATA_HUB', 'download', 'download_extract', 'BERT_CONFIGS',
    # Devices
    'try_gpu', 'try_all_gpus', 'get_dataloader_workers',
    # The BERT model
    'MultiHeadAttention', 'AddNorm', 'PositionWiseFFN', 'TransformerEncoderBlock', 'BERTEncoder',
    'MaskLM', 'NextSentencePred', 'BERTModel',
    # Loading a pretrained BERT
    'load_bert_params', 'load_pretrained_model',
    # SNLI for BERT
    'SNLIBERTDataset', 'trim_batch', 'load_snli_batches', 'BERTClassifier',
    # Training and prediction
    'num_correct', 'accuracy', 'to_device', 'device_of', 'evaluate_accuracy_gpu',
    'train_batch_ch13', 'train_ch13',
    'predict_snli', 'predict_probs', 'attention_weights',
    # Pretraining BERT
    '_read_wiki', '_get_next_sentence', '_get_nsp_data_from_paragraph', '_replace_mlm_tokens',
    '_pad_bert_inputs', '_get_mlm_data_from_tokens', 'get_pretraining_data', '_WikiTextDataset',
    'pretraining_curve', 'show_pretraining_curve',
    'load_wiki_batches', 'load_data_wiki', '_get_batch_loss_bert', 'train_bert',
    'evaluate_pretraining', 'get_bert_encoding',
    'save_pretrained_model', 'register_saved_model',
]

# Code that the notebooks show calls helpers as `d2l.X`; this lets the very same text run here.
d2l = sys.modules[__name__]


# ---------------------------------------------------------------------------------------------
# Data hub and checkpoints

# The data sets, then this framework's checkpoints (checkpoints.HUB)
DATA_HUB = {**hub.DATA_HUB, **checkpoints.HUB['torch']}


def download(name, folder=None, sha1_hash=None):
    """Fetch a `DATA_HUB` entry (or a URL, with `sha1_hash`) and return its local path."""
    return hub.download(name, folder, sha1_hash, hub=DATA_HUB)


def download_extract(name, folder=None):
    """Fetch the archive `name` from `DATA_HUB`, unpack it, and return the unpacked folder."""
    return hub.download_extract(name, folder, hub=DATA_HUB)


# Each checkpoint's hyperparameters: build the model with them
BERT_CONFIGS = checkpoints.BERT_CONFIGS


# ---------------------------------------------------------------------------------------------
# Devices

def try_gpu(i=0):
    """GPU number `i` if there is one, else the CPU."""
    if torch.cuda.device_count() > i:
        return torch.device(f'cuda:{i}')
    return torch.device('cpu')


def try_all_gpus():
    """All GPUs, or `[cpu]` when there is none (the book returns an empty list there)."""
    return [torch.device(f'cuda:{i}') for i in range(torch.cuda.device_count())] or [
        torch.device('cpu')]


def get_dataloader_workers():
    """Worker processes for data loading: none, as a batch is gathered in one indexing step."""
    return 0


# ---------------------------------------------------------------------------------------------
# The BERT model: the book's module tree, so its checkpoints load unchanged

class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention in `num_heads` heads; keys at positions >= valid_len are
    ignored, and the attention weights get dropout while training. `weights` gives the
    attention weights themselves, for looking at."""

    def __init__(self, num_hiddens, num_heads, dropout):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(f'num_hiddens={num_hiddens} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads, self.dropout = num_heads, dropout
        self.W_q = nn.Linear(num_hiddens, num_hiddens)
        self.W_k = nn.Linear(num_hiddens, num_hiddens)
        self.W_v = nn.Linear(num_hiddens, num_hiddens)
        self.W_o = nn.Linear(num_hiddens, num_hiddens)

    def _heads(self, X):  # (batch, steps, hiddens) -> (batch, heads, steps, hiddens / heads)
        return X.reshape(X.shape[0], X.shape[1], self.num_heads, -1).transpose(1, 2)

    def _mask(self, k, valid_lens):
        if valid_lens is None:
            return None
        # True where a key may be attended to. The book writes -1e6 into the other scores
        # instead; after the softmax both give the same weights.
        positions = torch.arange(k.shape[2], device=k.device)
        return (positions < valid_lens[:, None])[:, None, None, :]

    def forward(self, queries, keys, values, valid_lens=None):
        q, k = self._heads(self.W_q(queries)), self._heads(self.W_k(keys))
        v = self._heads(self.W_v(values))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=self._mask(k, valid_lens),
            dropout_p=self.dropout if self.training else 0.0)
        return self.W_o(out.transpose(1, 2).flatten(2))

    def weights(self, queries, keys, valid_lens=None):
        """The attention weights, (batch, heads, queries, keys): for each head, the softmax of
        q k^T / sqrt(d) over the keys before valid_len, so each row sums to 1 and the keys
        after it get 0. No dropout.

        PyTorch: forward computes them inside a fused kernel that returns none, which keeps
        training fast; here they are computed again, from the same W_q and W_k, for the few
        inputs one wants to look at."""
        q, k = self._heads(self.W_q(queries)), self._heads(self.W_k(keys))
        scores = q @ k.transpose(2, 3) / q.shape[-1] ** 0.5
        mask = self._mask(k, valid_lens)
        if mask is not None:
            scores = scores.masked_fill(~mask, float('-inf'))
        return torch.softmax(scores, dim=-1)


class AddNorm(nn.Module):
    """Residual connection, then layer normalization: ln(dropout(Y) + X)."""

    def __init__(self, num_hiddens, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(num_hiddens)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class PositionWiseFFN(nn.Module):
    """The same two-layer ReLU network applied at every position."""

    def __init__(self, num_hiddens, ffn_num_hiddens):
        super().__init__()
        self.dense1 = nn.Linear(num_hiddens, ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.Linear(ffn_num_hiddens, num_hiddens)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class TransformerEncoderBlock(nn.Module):
    """Self-attention and a position-wise network, each followed by AddNorm (post-LN)."""

    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class BERTEncoder(nn.Module):
    """Token, segment and learned position embeddings, then `num_blks` encoder blocks."""

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len=1000):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
        self.segment_embedding = nn.Embedding(2, num_hiddens)
        self.blks = nn.ModuleList(
            TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
            for _ in range(num_blks))
        self.pos_embedding = nn.Parameter(torch.randn(1, max_len, num_hiddens))

    def _embed(self, tokens, segments):
        steps, max_len = tokens.shape[1], self.pos_embedding.shape[1]
        if steps > max_len:
            raise ValueError(f'inputs of {steps} tokens, but the position table has {max_len} '
                             f'rows: pack the pairs with max_len <= {max_len}')
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        return X + self.pos_embedding[:, :steps, :]

    def forward(self, tokens, segments, valid_lens):
        X = self._embed(tokens, segments)
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X

    def attention_weights(self, tokens, segments, valid_lens):
        """The attention weights of every block for these inputs, a list with one array
        (batch, heads, steps, steps) per block: the pass of forward, block by block, asking
        each block's attention for the weights on the very input it gets."""
        X, weights = self._embed(tokens, segments), []
        for blk in self.blks:
            weights.append(blk.attention.weights(X, X, valid_lens))
            X = blk(X, valid_lens)
        return weights


class MaskLM(nn.Module):
    """Predict the original tokens at `pred_positions` (the masked language model task)."""

    def __init__(self, vocab_size, num_hiddens):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(num_hiddens, num_hiddens), nn.ReLU(),
                                 nn.LayerNorm(num_hiddens), nn.Linear(num_hiddens, vocab_size))

    def forward(self, X, pred_positions):
        rows = torch.arange(X.shape[0], device=X.device)[:, None]
        return self.mlp(X[rows, pred_positions])  # (batch, predictions, vocab_size)


class NextSentencePred(nn.Module):
    """Tell whether the second sentence followed the first (next sentence prediction)."""

    def __init__(self, num_hiddens):
        super().__init__()
        self.output = nn.Linear(num_hiddens, 2)

    def forward(self, X):
        return self.output(X)


class BERTModel(nn.Module):
    """BERT: the encoder plus the two pretraining heads. `forward` returns
    `(encoded_X, mlm_Y_hat, nsp_Y_hat)`; `mlm_Y_hat` is None without `pred_positions`."""

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len=1000):
        super().__init__()
        self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                                   num_blks, dropout, max_len)
        self.hidden = nn.Sequential(nn.Linear(num_hiddens, num_hiddens), nn.Tanh())
        self.mlm = MaskLM(vocab_size, num_hiddens)
        self.nsp = NextSentencePred(num_hiddens)

    def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
        encoded_X = self.encoder(tokens, segments, valid_lens)
        mlm_Y_hat = None if pred_positions is None else self.mlm(encoded_X, pred_positions)
        # Next sentence prediction reads the <cls> encoding through the tanh `hidden` layer.
        nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))
        return encoded_X, mlm_Y_hat, nsp_Y_hat


# ---------------------------------------------------------------------------------------------
# Loading a pretrained BERT

def load_bert_params(bert, path):
    """Load a checkpoint's `pretrained.params` into `bert`, after checking every name and shape.

    Only tensors are read: a file that would run code while loading is refused. A mismatch
    raises one error naming all missing, unexpected and wrongly shaped parameters.
    """
    try:
        params = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, zipfile.BadZipFile) as err:
        # weights_only=True refuses every reference to a function or class (a pickle GLOBAL)
        found = re.search(r'GLOBAL ([\w.]+)', str(err))
        if found:
            raise ValueError(
                f'{path} is not a plain file of tensors: it refers to {found[1]}, which could '
                f'run code, so it was not loaded. Use a checkpoint saved with '
                f'torch.save(model.state_dict()) by a source you trust.') from None
        reason = '' if isinstance(err, pickle.UnpicklingError) else f'\n  reason: {err}'
        raise ValueError(
            f'{path} cannot be read: it is truncated or not a PyTorch file. Delete it, its '
            f'folder and the zip it came from in {os.path.dirname(os.path.dirname(path))}, '
            f'then load again to download a fresh copy.{reason}') from None
    if not (isinstance(params, dict) and all(torch.is_tensor(v) for v in params.values())):
        raise ValueError(f'{path} holds a {type(params).__name__}, not a dict of named tensors '
                         f'(a state_dict); it is not a BERT checkpoint')
    expected = bert.state_dict()
    checkpoints.check_params(path, params, expected)
    bert.load_state_dict(params)


def load_pretrained_model(pretrained_model, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                          dropout, max_len, devices):
    """Download a pretrained BERT and its vocabulary; return `(bert, vocab)`.

    PyTorch: the model is on devices[0] and in evaluation mode; train_ch13 spreads it over
    `devices` and switches it to training."""
    data_dir = d2l.download_extract(pretrained_model)
    # vocab.json is a list of tokens: position i holds token i
    vocab = d2l.Vocab.from_file(os.path.join(data_dir, 'vocab.json'))
    # Every argument counts (the book's loader ignores num_heads, num_blks and dropout)
    bert = d2l.BERTModel(len(vocab), num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                         dropout, max_len)
    d2l.load_bert_params(bert, os.path.join(data_dir, 'pretrained.params'))
    return bert.to(devices[0]).eval(), vocab


# ---------------------------------------------------------------------------------------------
# SNLI for BERT

class SNLIBERTDataset(torch.utils.data.Dataset):
    """SNLI pairs packed as `<cls> premise <sep> hypothesis <sep>` and padded to `max_len`.

    `truncate(p_tokens, h_tokens, max_len)` shortens the pairs that do not fit: the book's
    rule unless you pass a rule of your own."""

    def __init__(self, dataset, max_len, vocab=None, truncate=d2l.truncate_pair_of_tokens):
        premises, hypotheses, labels = dataset
        if vocab is None:  # no pretrained vocabulary: make one from this data
            vocab = d2l.Vocab(d2l.tokenize([s.lower() for s in premises + hypotheses]),
                              min_freq=5, reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])
        self.vocab = vocab
        # One array per field: a few bytes per token, where Python lists of ints take gigabytes
        # for SNLI's 550k pairs. With the book's rule numpy packs them all at once, in seconds;
        # another rule runs on each pair in turn, in plain Python.
        token_ids, segments, valid_lens = d2l.pack_pairs(premises, hypotheses, vocab, max_len,
                                                         truncate)
        # The tensors share the numpy arrays' memory; trim_batch makes each batch int64.
        self.all_token_ids = torch.from_numpy(token_ids)   # int32, (pairs, max_len)
        self.all_segments = torch.from_numpy(segments)     # uint8: 0 or 1
        self.valid_lens = torch.from_numpy(valid_lens)     # real tokens in each pair
        self.labels = torch.tensor(labels)
        print(f'read {len(self.labels)} examples')

    def __getitem__(self, idx):
        # `idx` may also be a list of indices: then a whole batch comes back at once.
        return ((self.all_token_ids[idx], self.all_segments[idx], self.valid_lens[idx]),
                self.labels[idx])

    def __len__(self):
        return len(self.labels)


def trim_batch(batch):
    """Cut a batch to its longest pair and make the token and segment ids int64.

    `batch` is `((token_ids, segments, valid_lens), labels)` for a whole batch, or a list of
    such examples (then they are stacked first). Positions past every valid_len are padding
    that attention ignores, so dropping them changes no result and saves computation.
    """
    if isinstance(batch, list):
        batch = torch.utils.data.default_collate(batch)
    (token_ids, segments, valid_lens), labels = batch
    steps = int(valid_lens.max())
    return (token_ids[:, :steps].long(), segments[:, :steps].long(), valid_lens), labels


def load_snli_batches(dataset, batch_size, shuffle, num_workers=0):
    """A data loader of batches of pairs of similar length, each cut to its longest pair.

    The sampler hands out a list of indices per batch, the dataset gathers the whole batch
    with one indexing step, and `trim_batch` cuts it. With `shuffle`, every epoch sees new
    batches, in an order that seeding the framework's random generator makes repeatable.
    """
    seed = int(torch.randint(2**31, ())) if shuffle else None  # follows torch.manual_seed
    sampler = BucketBatchSampler(dataset.valid_lens.numpy(), batch_size, shuffle, seed)
    # batch_size=None: each item the sampler yields is already a batch of indices
    return torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None,
                                       collate_fn=trim_batch, num_workers=num_workers)


class BERTClassifier(nn.Module):
    """The pretrained encoder and `hidden` layer of a BERT, and a new output layer that
    classifies the `<cls>` encoding into the three SNLI labels."""

    def __init__(self, bert):
        super().__init__()
        self.encoder = bert.encoder
        self.hidden = bert.hidden
        # Sized from the pretrained layer, so it exists (and is trained) from the start
        self.output = nn.Linear(bert.hidden[0].out_features, 3)

    def forward(self, inputs):
        tokens_X, segments_X, valid_lens_x = inputs
        encoded_X = self.encoder(tokens_X, segments_X, valid_lens_x)
        return self.output(self.hidden(encoded_X[:, 0, :]))


# ---------------------------------------------------------------------------------------------
# Training and prediction

def num_correct(y_hat, y):
    """The number of predictions (rows of scores `y_hat`) that match the labels `y`."""
    return int((y_hat.argmax(dim=1) == y).sum())


def accuracy(y_hat, y):
    """The fraction of correct predictions, in [0, 1] (the book's accuracy() is a count)."""
    return num_correct(y_hat, y) / len(y)


def to_device(X, device):
    """`X`, an array or a list or tuple of arrays, copied to `device` (a list comes back)."""
    if isinstance(X, (list, tuple)):
        return [x.to(device) for x in X]
    return X.to(device)


def device_of(net):
    """The device that holds the parameters of `net` (the first one, if they are on several)."""
    return next(iter(net.parameters())).device


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Accuracy of `net` over all batches of `data_iter`, in evaluation mode, without
    gradients; on `device`, by default the one holding the model."""
    if device is None:
        device = device_of(net)
    net.eval()
    metric = Accumulator(2)  # correct predictions, examples
    with torch.no_grad():
        for X, y in data_iter:
            y = y.to(device)
            metric.add(num_correct(net(to_device(X, device)), y), y.numel())
    if metric[1] == 0:
        raise ValueError('data_iter yielded no examples to evaluate on')
    return metric[0] / metric[1]


def train_batch_ch13(net, X, y, loss, trainer, devices):
    """One optimizer step on the mean loss over the batch `(X, y)`; returns the sum of the
    per-example losses and the number of correct predictions, for averaging over an epoch.

    `loss` may give one loss per example (as in the book) or their mean already.
    """
    X, y = to_device(X, devices[0]), y.to(devices[0])
    net.train()
    trainer.zero_grad()
    pred = net(X)
    mean_loss = loss(pred, y).mean()  # the book backpropagates the sum in PyTorch
    mean_loss.backward()
    trainer.step()
    return mean_loss.item() * y.numel(), num_correct(pred, y)


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices=None):
    """Train `net`, plot loss, train and test accuracy after every epoch, and return the
    final figures as a dict: loss, train_acc, test_acc, examples_per_sec.

    `devices` defaults to every GPU, else the CPU; several GPUs split each batch between
    them (data parallelism). Examples/sec counts training steps only, not data loading or
    testing.
    """
    if num_epochs < 1:
        raise ValueError(f'num_epochs={num_epochs}: train for at least one epoch')
    devices = try_all_gpus() if devices is None else devices
    if len(devices) > 1:
        net = nn.DataParallel(net, device_ids=devices)
    net = net.to(devices[0])
    animator = Animator(xlabel='epoch', xlim=[1, num_epochs] if num_epochs > 1 else None,
                        legend=['train loss', 'train acc', 'test acc'])
    timer, num_examples = Timer(), 0
    for epoch in range(num_epochs):
        metric = Accumulator(3)  # sum of losses, correct predictions, examples
        for X, y in train_iter:
            timer.start()
            loss_sum, correct = train_batch_ch13(net, X, y, loss, trainer, devices)
            timer.stop()
            metric.add(loss_sum, correct, y.numel())
        if metric[2] == 0:
            raise ValueError('train_iter yielded no examples to train on')
        num_examples += metric[2]
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        animator.add(epoch + 1, (metric[0] / metric[2], metric[1] / metric[2], test_acc))
    results = {'loss': metric[0] / metric[2], 'train_acc': metric[1] / metric[2],
               'test_acc': test_acc, 'examples_per_sec': num_examples / timer.sum()}
    print(f"loss {results['loss']:.3f}, train acc {results['train_acc']:.3f}, "
          f"test acc {results['test_acc']:.3f}")
    print(f"{results['examples_per_sec']:.1f} examples/sec on {[str(d) for d in devices]}")
    return results


def predict_snli(net, vocab, premise, hypothesis, max_len=128):
    """Classify one pair of sentences; return the label and a dict of the three probabilities.

    The sentences are read as the SNLI text was tokenized: lower-cased, punctuation apart
    from words ('A dog runs.' is 'a dog runs .'). An empty one raises ValueError; a pair longer
    than max_len is cut as in training, and a line says so. Words that are not in the
    vocabulary reach the model as `<unk>`: a line names them.
    """
    premise, hypothesis = read_pair(premise, hypothesis, max_len)
    unknown = unknown_words(vocab, premise, hypothesis)
    if unknown:
        print(f'not in the vocabulary, read as <unk>: {", ".join(unknown)}')
    packed = [torch.from_numpy(a) for a in pack_pairs([premise], [hypothesis], vocab, max_len)]
    X, _ = trim_batch((packed, None))
    net.eval()
    with torch.no_grad():
        probs = torch.softmax(net(to_device(X, device_of(net))), dim=1)[0]
    return LABELS[int(probs.argmax())], dict(zip(LABELS, probs.tolist()))


def predict_probs(net, data_iter):
    """The label probabilities that `net` gives every example of `data_iter`, in the order of
    the iterator, and the true labels: numpy arrays (examples, labels) and (examples,). In
    evaluation mode, without gradients: one pass, from which the accuracy, the confusion matrix
    and the mistakes can all be read."""
    device = device_of(net)
    net.eval()
    probs, labels = [], []
    with torch.no_grad():
        for X, y in data_iter:
            probs.append(torch.softmax(net(to_device(X, device)), dim=1).cpu().numpy())
            labels.append(y.cpu().numpy())
    if not labels:
        raise ValueError('data_iter yielded no examples to predict')
    return np.concatenate(probs), np.concatenate(labels)


def attention_weights(net, vocab, premise, hypothesis, max_len=128):
    """How every token of one packed pair attends to the others, in every block and head.

    Returns `(tokens, weights)`: the tokens as the model reads them (`<cls>` premise `<sep>`
    hypothesis `<sep>`, with `<unk>` for unknown words) and a numpy array (blocks, heads,
    queries, keys) whose row i spreads token i's attention over the tokens, summing to 1.
    `net` is a BERTClassifier or a BERTModel; the weights are computed for this pair alone
    (BERTEncoder.attention_weights), so training pays nothing for them. The sentences are read
    as predict_snli reads them.
    """
    premise, hypothesis = read_pair(premise, hypothesis, max_len)
    packed = [torch.from_numpy(a) for a in pack_pairs([premise], [hypothesis], vocab, max_len)]
    X, _ = trim_batch((packed, None))
    net.eval()
    with torch.no_grad():
        weights = net.encoder.attention_weights(*to_device(X, device_of(net)))
    return vocab.to_tokens(X[0][0]), torch.stack(weights)[:, 0].cpu().numpy()


# ---------------------------------------------------------------------------------------------
# Pretraining BERT

class _WikiTextDataset(torch.utils.data.Dataset):
    """BERT's pretraining examples from paragraphs (lists of sentences): next-sentence pairs,
    packed and padded to `max_len`, with 15% of the words masked. `rng` (a seed or a numpy
    Generator) draws the pairs and masks once; `foils` are _read_wiki's."""

    def __init__(self, paragraphs, max_len, foils=None, vocab=None, rng=None):
        if vocab is None:  # words seen fewer than 5 times become <unk>, as in the book
            sentences = [s for p in paragraphs for s in p]
            vocab = d2l.Vocab(d2l.tokenize(sentences), min_freq=5,
                              reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])
        self.vocab = vocab
        arrays = d2l.get_pretraining_data(paragraphs, foils, vocab, max_len,
                                          np.random.default_rng(rng))
        # Seven arrays, one row per pair; the tensors share the numpy arrays' memory
        (self.all_token_ids, self.all_segments, self.valid_lens, self.all_pred_positions,
         self.all_mlm_weights, self.all_mlm_labels, self.nsp_labels) = map(torch.from_numpy,
                                                                           arrays)

    def __getitem__(self, idx):
        # `idx` may also be a list of indices: then a whole batch comes back at once.
        return (self.all_token_ids[idx], self.all_segments[idx], self.valid_lens[idx],
                self.all_pred_positions[idx], self.all_mlm_weights[idx],
                self.all_mlm_labels[idx], self.nsp_labels[idx])

    def __len__(self):
        return len(self.nsp_labels)


def _trim_bert_batch(batch):
    """A whole batch of _WikiTextDataset cut to its longest pair, with int64 ids and labels."""
    tokens, segments, valid_lens, pred_positions, mlm_weights, mlm_labels, nsp_labels = batch
    steps = int(valid_lens.max())
    return (tokens[:, :steps].long(), segments[:, :steps].long(), valid_lens,
            pred_positions.long(), mlm_weights, mlm_labels.long(), nsp_labels.long())


def load_wiki_batches(dataset, batch_size, shuffle):
    """A data loader of `dataset`'s pairs (a _WikiTextDataset, or a class of one's own with
    the same seven arrays) in batches of pairs of similar length, each cut to its longest pair.

    With `shuffle`, every epoch sees new batches, in an order that seeding the framework's
    random generator makes repeatable.
    """
    seed = int(torch.randint(2**31, ())) if shuffle else None  # follows torch.manual_seed
    sampler = BucketBatchSampler(np.asarray(dataset.valid_lens), batch_size, shuffle, seed)
    # batch_size=None: each item the sampler yields is already a batch of indices
    return torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None,
                                       collate_fn=_trim_bert_batch)


def load_data_wiki(batch_size, max_len, name='wikitext-2', split='train', vocab=None,
                   use_foils=False):
    """Load a WikiText split as pretraining batches; return `(data_iter, vocab)`.

    `name` is a DATA_HUB entry: 'wikitext-2' (the real one) or 'wikitext-2-mini' (bundled).
    Without `vocab`, one is made from the text. A false next sentence is a random one, as in
    the book; with `use_foils`, the corpus's foil where it has one (bert.mini's recipe).
    The book's one call for _read_wiki, _WikiTextDataset and load_wiki_batches (shuffled);
    the pairs and masks are drawn once, seeded by the framework's random generator.
    """
    # The real zip unpacks to wikitext-2/, not to a folder named after the zip
    data_dir = d2l.download_extract(name, 'wikitext-2' if name == 'wikitext-2' else None)
    paragraphs, foils = d2l._read_wiki(data_dir, split)
    seed = int(torch.randint(2**31, ()))  # follows torch.manual_seed
    dataset = _WikiTextDataset(paragraphs, max_len, foils if use_foils else None, vocab, seed)
    return load_wiki_batches(dataset, batch_size, shuffle=True), dataset.vocab


def _get_batch_loss_bert(net, loss, vocab_size, tokens_X, segments_X, valid_lens_x,
                         pred_positions_X, mlm_weights_X, mlm_Y, nsp_y):
    """The two pretraining losses of a batch and their sum: `(mlm_l, nsp_l, l)`.

    `loss` gives one loss per example. The masked-LM loss is the mean over the real
    predictions (weight 1), the next-sentence loss the mean over the pairs.
    """
    _, mlm_Y_hat, nsp_Y_hat = net(tokens_X, segments_X, valid_lens_x, pred_positions_X)
    mlm_l = loss(mlm_Y_hat.reshape(-1, vocab_size), mlm_Y.reshape(-1))
    mlm_l = (mlm_l * mlm_weights_X.reshape(-1)).sum() / mlm_weights_X.sum()
    nsp_l = loss(nsp_Y_hat, nsp_y).mean()
    return mlm_l, nsp_l, mlm_l + nsp_l


def train_bert(train_iter, net, loss, vocab_size, devices, num_steps, lr=0.01,
               warmup_steps=None):
    """Pretrain `net` on both tasks for `num_steps` batches with Adam, plot both losses, and
    return the losses of every step: `{'mlm': [...], 'nsp': [...]}`.

    The learning rate is `lr` throughout (the book's 0.01); with `warmup_steps`, it rises
    linearly over those steps, then falls linearly to 0 at the last step.

    PyTorch: the model trains on devices[0].
    """
    if num_steps < 1:
        raise ValueError(f'num_steps={num_steps}: train for at least one step')
    net = net.to(devices[0])
    trainer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = None
    if warmup_steps:
        schedule = torch.optim.lr_scheduler.LambdaLR(trainer, lambda s: min(
            (s + 1) / warmup_steps, (num_steps - s) / (num_steps - warmup_steps + 1)))
    animator = d2l.Animator(xlabel='step', ylabel='loss', xlim=[1, num_steps],
                            legend=['mlm', 'nsp'])
    every = max(1, num_steps // 20)  # points on the plot: redrawing it costs time
    timer, losses, pairs = d2l.Timer(), {'mlm': [], 'nsp': []}, 0
    net.train()
    while len(losses['mlm']) < num_steps:
        epoch_start = len(losses['mlm'])
        for batch in train_iter:
            timer.start()
            batch = d2l.to_device(batch, devices[0])
            trainer.zero_grad()
            mlm_l, nsp_l, l = _get_batch_loss_bert(net, loss, vocab_size, *batch)
            l.backward()
            trainer.step()
            if schedule is not None:
                schedule.step()
            # .item() waits for the step to finish (a GPU runs behind Python): part of its time
            losses['mlm'].append(mlm_l.item())
            losses['nsp'].append(nsp_l.item())
            timer.stop()
            pairs += len(batch[0])
            step = len(losses['mlm'])
            if step % every == 0 or step == num_steps:
                animator.add(step, (sum(losses['mlm'][-every:]) / every,
                                    sum(losses['nsp'][-every:]) / every))
            if step == num_steps:
                break
        if len(losses['mlm']) == epoch_start:
            raise ValueError('train_iter yielded no batches to train on')
    print(f"MLM loss {losses['mlm'][-1]:.3f}, NSP loss {losses['nsp'][-1]:.3f}")
    print(f'{pairs / timer.sum():.1f} sentence pairs/sec on {[str(d) for d in devices]}')
    return losses


def evaluate_pretraining(net, data_iter):
    """Accuracy of the masked-token and of the next-sentence predictions over all batches of
    `data_iter`, in evaluation mode: `(mlm_acc, nsp_acc)`. Padded predictions do not count."""
    device = device_of(net)
    net.eval()
    metric = Accumulator(4)  # right masked tokens, masked tokens, right pairs, pairs
    with torch.no_grad():
        for batch in data_iter:
            tokens_X, segments_X, valid_lens_x, pred_positions_X, mlm_weights_X, mlm_Y, nsp_y = (
                to_device(batch, device))
            _, mlm_Y_hat, nsp_Y_hat = net(tokens_X, segments_X, valid_lens_x, pred_positions_X)
            hits = (mlm_Y_hat.argmax(dim=-1) == mlm_Y).float() * mlm_weights_X
            metric.add(hits.sum(), mlm_weights_X.sum(), num_correct(nsp_Y_hat, nsp_y), len(nsp_y))
    if metric[3] == 0:
        raise ValueError('data_iter yielded no examples to evaluate on')
    return metric[0] / metric[1], metric[2] / metric[3]


def get_bert_encoding(net, vocab, tokens_a, tokens_b=None):
    """BERT's encoding of one sentence (or pair), a list of tokens each: `(1, tokens, hiddens)`,
    `<cls>` and `<sep>` included. The book's version reads `vocab` from a global variable."""
    tokens, segments = d2l.get_tokens_and_segments(tokens_a, tokens_b)
    device = d2l.device_of(net)
    token_ids = torch.tensor(vocab[tokens], device=device)[None, :]
    segments = torch.tensor(segments, device=device)[None, :]
    valid_len = torch.tensor([len(tokens)], device=device)
    net.eval()
    with torch.no_grad():
        encoded_X, _, _ = net(token_ids, segments, valid_len)
    return encoded_X


def save_pretrained_model(bert, vocab, name, config):
    """Save `bert` and `vocab` in the book's checkpoint layout: a zip in the learner's own
    checkpoint folder (checkpoints.checkpoint_dir(), never the data folder, which a class may
    share) holding one folder with `vocab.json` and `pretrained.params`. Register it as `name` in
    DATA_HUB (with its sha1) and its hyperparameters `config` in BERT_CONFIGS, so that
    load_pretrained_model(name, ...) loads it; return the zip's path.

    PyTorch: `<name>.torch.zip` holding the folder `<name>.torch/`, as the book names PyTorch
    checkpoints; the parameters are a state_dict of CPU tensors."""
    params = io.BytesIO()
    torch.save({k: v.cpu() for k, v in bert.state_dict().items()}, params)
    path = checkpoints.save_checkpoint(name, f'{name}.torch.zip', vocab.to_json().encode(),
                                       params.getvalue(), config, DATA_HUB)
    return path


def register_saved_model(name):
    """Register a model that save_pretrained_model saved as `name` in an earlier session (in
    the learner's checkpoint folder), so that load_pretrained_model(name, ...) finds it."""
    checkpoints.register_saved_checkpoint(name, f'{name}.torch.zip', DATA_HUB)
