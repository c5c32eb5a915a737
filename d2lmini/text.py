"""Tokens, vocabularies and BERT input pairs, with no deep-learning framework.

The book packs one pair at a time into Python lists. Here whole corpora are
packed with numpy in chunks, which is what makes SNLI-sized data cheap.
"""
import collections
import itertools
import json

import numpy as np


def tokenize(lines, token='word'):
    """Split each line into word tokens (on whitespace) or character tokens."""
    if token == 'word':
        return [line.split() for line in lines]
    if token == 'char':
        return [list(line) for line in lines]
    raise ValueError(f"unknown token type {token!r}: use 'word' or 'char'")


class Vocab:
    """Map tokens to indices and back; unknown tokens map to `<unk>`.

    Index 0 is `<unk>`, then the reserved tokens, then the corpus tokens by
    decreasing frequency (ties in alphabetical order, so the order is stable).
    """

    def __init__(self, tokens=(), min_freq=0, reserved_tokens=()):
        tokens = list(tokens)
        if tokens and isinstance(tokens[0], (list, tuple)):
            tokens = list(itertools.chain.from_iterable(tokens))
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

    def save(self, path):
        """Write `vocab.json` in the checkpoint layout (a JSON list of tokens)."""
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(self.idx_to_token, f, ensure_ascii=False)

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


def truncated_lengths(p_lens, h_lens, max_len):
    """The lengths `truncate_pair_of_tokens` leaves, for whole arrays at once.

    Popping from the longer side first shrinks only that side until the two
    meet; after that they shrink in turn, the premise keeping the odd token.
    """
    p_lens, h_lens = np.asarray(p_lens), np.asarray(h_lens)
    budget = max_len - 3
    if budget < 0:
        raise ValueError(f'max_len={max_len} leaves no room for <cls> and two <sep> tokens')
    keep_p = np.minimum(p_lens, np.maximum((budget + 1) // 2, budget - h_lens))
    fits = p_lens + h_lens <= budget
    new_p = np.where(fits, p_lens, keep_p)
    new_h = np.where(fits, h_lens, budget - keep_p)
    return new_p, new_h


def _ids_and_lengths(sentences, vocab):
    """Lower-case, split and look up sentences.

    Returns the ids of the distinct sentences laid end to end, and for every
    input sentence the offset and length of its run. SNLI pairs each caption
    with several hypotheses, so each distinct sentence is looked up once.
    """
    index = {}
    which = np.fromiter((index.setdefault(s, len(index)) for s in sentences),
                        dtype=np.int64, count=len(sentences))
    split = [s.lower().split() for s in index]
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    flat = itertools.chain.from_iterable(split)
    ids = np.fromiter(map(vocab.token_to_idx.get, flat, itertools.repeat(vocab.unk)),
                      dtype=np.int32, count=int(lengths.sum()))
    starts = np.cumsum(lengths) - lengths
    return ids, starts[which], lengths[which]


def _scatter(out, rows, starts, src, src_starts, lengths):
    """Copy `lengths[i]` ids from `src[src_starts[i]:]` into row `rows[i]` at `starts[i]`."""
    total = int(lengths.sum())
    run = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows[run], starts[run] + within] = src[src_starts[run] + within]


def pack_pairs(premises, hypotheses, vocab, max_len, chunk_size=50_000):
    """Tokenize, truncate and pack sentence pairs for BERT, as numpy arrays.

    Returns `(token_ids, segments, valid_lens)`: int32 `(n, max_len)` ids padded
    with `<pad>`, uint8 `(n, max_len)` segment ids (0 for `<cls> p <sep>`, 1 for
    `h <sep>`, 0 on padding) and int32 `(n,)` counts of real tokens. Works in
    chunks so that only one chunk's Python strings are alive at a time.
    """
    if len(premises) != len(hypotheses):
        raise ValueError(f'{len(premises)} premises but {len(hypotheses)} hypotheses')
    for special in ('<pad>', '<cls>', '<sep>'):
        if special not in vocab.token_to_idx:
            raise ValueError(f'the vocabulary has no {special} token, which BERT inputs need')
    n = len(premises)
    token_ids = np.full((n, max_len), vocab['<pad>'], dtype=np.int32)
    segments = np.zeros((n, max_len), dtype=np.uint8)
    valid_lens = np.empty(n, dtype=np.int32)
    for lo in range(0, n, chunk_size):
        hi = min(lo + chunk_size, n)
        p_ids, p_starts, p_lens = _ids_and_lengths(premises[lo:hi], vocab)
        h_ids, h_starts, h_lens = _ids_and_lengths(hypotheses[lo:hi], vocab)
        p_keep, h_keep = truncated_lengths(p_lens, h_lens, max_len)
        rows = np.arange(lo, hi)
        ones = np.ones(hi - lo, dtype=np.int64)
        token_ids[rows, 0] = vocab['<cls>']
        _scatter(token_ids, rows, ones, p_ids, p_starts, p_keep)
        token_ids[rows, p_keep + 1] = vocab['<sep>']
        _scatter(token_ids, rows, p_keep + 2, h_ids, h_starts, h_keep)
        token_ids[rows, p_keep + h_keep + 2] = vocab['<sep>']
        valid = p_keep + h_keep + 3
        valid_lens[lo:hi] = valid
        # Segment 1 runs from the first hypothesis token through the final <sep>.
        cols = np.arange(max_len)
        segments[lo:hi] = (cols >= (p_keep + 2)[:, None]) & (cols < valid[:, None])
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
    """Batches of indices of similar length, drawn anew each epoch.

    Pass it as `batch_sampler` to a PyTorch or Gluon DataLoader. `lengths`
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
        return -(-len(self.lengths) // self.batch_size)
