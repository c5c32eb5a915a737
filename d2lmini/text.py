"""Tokens, vocabularies and BERT input pairs, with no deep-learning framework.

`pack_pairs_plain` packs sentence pairs one at a time, as the book does; `pack_pairs` hands the
same work to the fast packer of `fastpack` (numpy on whole chunks, which is what makes SNLI-sized
data cheap) when the truncation rule is the book's, and to `pack_pairs_plain` otherwise.
"""
import collections
import itertools
import json

import numpy as np

from . import fastpack
from .utils import gc_paused


def tokenize(lines, token='word'):
    """Split each line into word tokens (on whitespace) or character tokens."""
    with gc_paused():
        if token == 'word':
            return [line.split() for line in lines]
        if token == 'char':
            return [list(line) for line in lines]
    raise ValueError(f"unknown token type {token!r}: use 'word' or 'char'")


# BERT's special tokens, which a Vocab puts after <unk>, for code that builds a BERT vocabulary.
# SNLIBERTDataset writes the same list out instead, so that the notebooks show the tokens.
RESERVED = ['<pad>', '<mask>', '<cls>', '<sep>']


class Vocab:
    """Map tokens to indices and back; unknown tokens map to `<unk>`.

    Index 0 is `<unk>`, then the reserved tokens, then the corpus tokens by
    decreasing frequency (ties in alphabetical order, so the order is stable).
    """

    def __init__(self, tokens=(), min_freq=0, reserved_tokens=()):
        with gc_paused():
            tokens = list(tokens)
            if tokens and isinstance(tokens[0], (list, tuple)):
                tokens = itertools.chain.from_iterable(tokens)
            counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        specials = ['<unk>'] + [t for t in reserved_tokens if t != '<unk>']
        self.idx_to_token = specials + [
            t for t, freq in self.token_freqs if freq >= min_freq and t not in specials]
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    @classmethod
    def from_file(cls, path):
        """Read a checkpoint's `vocab.json`: a JSON list whose position i holds token i."""
        with open(path, encoding='utf-8') as f:
            idx_to_token = json.load(f)
        if not (isinstance(idx_to_token, list) and all(isinstance(t, str) for t in idx_to_token)):
            raise ValueError(f'{path} is not a vocabulary: expected a JSON list of token strings')
        if len(set(idx_to_token)) != len(idx_to_token):
            raise ValueError(f'{path} lists some tokens twice: a vocabulary needs unique tokens')
        if '<unk>' not in idx_to_token:
            raise ValueError(f'{path} has no <unk> token: unknown words would have no index')
        vocab = cls()
        vocab.idx_to_token = idx_to_token
        vocab.token_to_idx = {t: i for i, t in enumerate(idx_to_token)}
        return vocab

    def to_json(self):
        """The text of `vocab.json` in the checkpoint layout (a JSON list of tokens)."""
        return json.dumps(self.idx_to_token, ensure_ascii=False)

    def save(self, path):
        """Write `vocab.json` in the checkpoint layout."""
        with open(path, 'w', encoding='utf-8') as f:
            f.write(self.to_json())

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if isinstance(tokens, (list, tuple)):
            return [self.__getitem__(t) for t in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        if hasattr(indices, 'tolist'):  # numpy, torch and mxnet arrays
            indices = indices.tolist()
        if isinstance(indices, (list, tuple)):
            return [self.to_tokens(i) for i in indices]
        return self.idx_to_token[indices]

    @property
    def unk(self):
        return self.token_to_idx['<unk>']


def get_tokens_and_segments(tokens_a, tokens_b=None):
    """Pack one or two token lists as `<cls> a <sep> [b <sep>]` with segment ids 0/1."""
    tokens = ['<cls>'] + tokens_a + ['<sep>']
    segments = [0] * (len(tokens_a) + 2)
    if tokens_b is not None:
        tokens += tokens_b + ['<sep>']
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


def truncate_pair_of_tokens(p_tokens, h_tokens, max_len):
    """Pop the last token of the longer list (the hypothesis on a tie) until the
    pair fits in `max_len` with its three special tokens. Changes the lists in place."""
    while len(p_tokens) + len(h_tokens) > max_len - 3:
        if len(p_tokens) > len(h_tokens):
            p_tokens.pop()
        else:
            h_tokens.pop()


def _check_pairs(premises, hypotheses, vocab, max_len):
    """Stop with a clear error on input that cannot be packed."""
    if len(premises) != len(hypotheses):
        raise ValueError(f'{len(premises)} premises but {len(hypotheses)} hypotheses')
    for special in ('<pad>', '<cls>', '<sep>'):
        if special not in vocab.token_to_idx:
            raise ValueError(f'the vocabulary has no {special} token, which BERT inputs need')
    if max_len < 3:
        raise ValueError(f'max_len={max_len} leaves no room for <cls> and two <sep> tokens')


def pack_pairs(premises, hypotheses, vocab, max_len, truncate=truncate_pair_of_tokens):
    """Tokenize, truncate and pack sentence pairs for BERT, as numpy arrays.

    Returns `(token_ids, segments, valid_lens)`: int32 `(n, max_len)` ids padded
    with `<pad>`, uint8 `(n, max_len)` segment ids (0 for `<cls> p <sep>`, 1 for
    `h <sep>`, 0 on padding) and int32 `(n,)` counts of real tokens. Tokens are
    `sentence.lower().split()`, as in the book.

    `truncate(p_tokens, h_tokens, max_len)` shortens a pair's two token lists in place.
    `pack_pairs_plain` below shows the whole method; with the book's rule, the default,
    `fastpack.pack_pairs` builds the same arrays in seconds for SNLI's 550,000 pairs. A rule
    of your own runs on every pair in `pack_pairs_plain`.
    """
    _check_pairs(premises, hypotheses, vocab, max_len)
    if truncate is truncate_pair_of_tokens:
        with gc_paused():
            return fastpack.pack_pairs(premises, hypotheses, vocab, max_len)
    return pack_pairs_plain(premises, hypotheses, vocab, max_len, truncate)


def pack_pairs_plain(premises, hypotheses, vocab, max_len, truncate=truncate_pair_of_tokens):
    """`pack_pairs`, one pair at a time in plain Python: the reference for the fast packer."""
    _check_pairs(premises, hypotheses, vocab, max_len)
    n = len(premises)
    token_ids = np.full((n, max_len), vocab['<pad>'], dtype=np.int32)
    segments = np.zeros((n, max_len), dtype=np.uint8)
    valid_lens = np.zeros(n, dtype=np.int32)
    for i, (premise, hypothesis) in enumerate(zip(premises, hypotheses)):
        p_tokens, h_tokens = premise.lower().split(), hypothesis.lower().split()
        truncate(p_tokens, h_tokens, max_len)
        tokens, segment_ids = get_tokens_and_segments(p_tokens, h_tokens)
        if len(tokens) > max_len:
            raise ValueError(f'{truncate.__name__} left {len(tokens)} tokens with the special '
                             f'ones, more than max_len={max_len}: pair {i} ({premise!r}, '
                             f'{hypothesis!r}); a truncation rule must leave at most max_len - 3')
        token_ids[i, :len(tokens)] = vocab[tokens]
        segments[i, :len(tokens)] = segment_ids
        valid_lens[i] = len(tokens)
    return token_ids, segments, valid_lens


def bucket_batches(lengths, batch_size, shuffle=True, rng=None, pool=50):
    """Split indices into batches of similar length, so padding each batch to its
    own longest pair costs little.

    With `shuffle`, indices are shuffled, cut into pools of `pool` batches,
    sorted by length within each pool, batched, and the batches shuffled:
    every epoch sees new batches. Without it, batches follow the data order.
    """
    n = len(lengths)
    if not shuffle:
        return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    rng = np.random.default_rng() if rng is None else rng
    order = rng.permutation(n)
    lengths = np.asarray(lengths)
    batches = []
    for lo in range(0, n, batch_size * pool):
        chunk = order[lo:lo + batch_size * pool]
        chunk = chunk[np.argsort(lengths[chunk], kind='stable')]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class BucketBatchSampler:
    """Batches of indices of similar length, drawn anew each epoch: one list per batch.

    load_snli_batches passes it as `sampler` to a PyTorch or Gluon DataLoader,
    so that the dataset gathers each batch with one indexing step. `lengths`
    are the valid lengths of the examples; `seed` makes the epochs repeatable.
    """

    def __init__(self, lengths, batch_size, shuffle=True, seed=None):
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        batches = bucket_batches(self.lengths, self.batch_size, self.shuffle, self.rng)
        return (batch.tolist() for batch in batches)

    def __len__(self):
        # Pools hold whole batches, so only the last batch can be short.
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size
