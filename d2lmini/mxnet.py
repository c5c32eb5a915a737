"""MXNet/Gluon helpers for the notebooks: `from d2lmini import mxnet as d2l`.

The names follow the book (d2l.BERTModel, d2l.train_ch13, ...). d2lmini/torch.py is this file's
twin: the same public names, in the same order, with the same docstrings but for framework
words and framework notes (a paragraph that starts "PyTorch:" or "Gluon:").
"""
import os
import sys
import tempfile
import warnings

from . import mxnet_compat
from .mxnet_compat import mxnet_problem
from .threads import let_idle_threads_sleep, threads_to_use  # before MXNet

# MXNet 1.9.1 (the last release) touches numpy and distutils names that are deprecated since;
# the warnings it raises about its own code say nothing a reader can act on.
warnings.filterwarnings('ignore', category=DeprecationWarning, module=r'mxnet(\.|$)')
# Importing MXNet shrinks the OpenMP pool that PyTorch uses to one thread; in a process that
# already uses PyTorch (tests, checkpoint conversion), give PyTorch its thread count back.
_torch = sys.modules.get('torch')
_torch_threads = _torch.get_num_threads() if _torch else None


def _set_threads():
    """Size MXNet's operator threads to the cores this process may really use (the affinity
    mask, physical cores and a container's CPU quota: threads.usable_cores). Left to itself, MXNet
    takes half of the CPUs it sees, assuming two hardware threads per core: on our 2-core test
    machine one core sat idle and fine-tuning ran 1.7x slower, and in a container limited to
    one CPU of a large server it starts a thread for every other CPU of the server. MXNet reads
    the setting once, when it is imported."""
    threads = threads_to_use('MXNET_OMP_MAX_THREADS')
    if threads is None:
        return  # the user's choice
    if 'mxnet' not in sys.modules:
        os.environ['MXNET_OMP_MAX_THREADS'] = str(threads)
        return
    mxnet_threads = max(1, len(os.sched_getaffinity(0)) // 2)  # MXNet's own choice
    if threads != mxnet_threads:
        warnings.warn(
            f'mxnet was imported before d2lmini.mxnet, so its operators use {mxnet_threads} '
            f'threads where this process may use {threads} cores: import d2lmini.mxnet first, '
            f'or set MXNET_OMP_MAX_THREADS={threads} before starting Python', stacklevel=3)


_problem = mxnet_problem()
if _problem:
    raise ImportError(f'd2lmini.mxnet cannot run here: {_problem}')
_set_threads()
let_idle_threads_sleep('mxnet')
# MXNet 1.9.1 on numpy 2 and Python 3.12+: our layer (mxnet_compat.py), not MXNet's, puts back the
# numpy names that MXNet's code reads and writes its operator parameters as numpy 1 did.
mxnet_compat.apply()

import mxnet as mx
import numpy as onp  # plain numpy; `np` below is MXNet's numpy interface
from mxnet import autograd, gluon, init, np, npx
from mxnet.base import MXNetError
from mxnet.gluon import nn

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
from .utils import Accumulator, Animator, Timer

npx.set_np()  # numpy semantics for arrays and Gluon, as in the book
if _torch:
    _torch.set_num_threads(_torch_threads)

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
DATA_HUB = {**hub.DATA_HUB, **checkpoints.HUB['mxnet']}


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
    if mx.context.num_gpus() > i:
        return mx.gpu(i)
    return mx.cpu()


def try_all_gpus():
    """All GPUs, or `[cpu]` when there is none (the book returns an empty list there)."""
    return [mx.gpu(i) for i in range(mx.context.num_gpus())] or [mx.cpu()]


def get_dataloader_workers():
    """Worker processes for data loading: none, as a batch is gathered in one indexing step."""
    return 0


# ---------------------------------------------------------------------------------------------
# The BERT model: the book's block tree and parameter names, so its checkpoints load unchanged.
# Every layer is given its input size, so parameters have their shapes before the first call.

class MultiHeadAttention(nn.Block):
    """Scaled dot-product attention in `num_heads` heads; keys at positions >= valid_len are
    ignored, and the attention weights get dropout while training. `weights` gives the
    attention weights themselves, for looking at."""

    def __init__(self, num_hiddens, num_heads, dropout):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(f'num_hiddens={num_hiddens} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.W_q = nn.Dense(num_hiddens, in_units=num_hiddens, flatten=False)
        self.W_k = nn.Dense(num_hiddens, in_units=num_hiddens, flatten=False)
        self.W_v = nn.Dense(num_hiddens, in_units=num_hiddens, flatten=False)
        self.W_o = nn.Dense(num_hiddens, in_units=num_hiddens, flatten=False)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, X):  # (batch, steps, hiddens) -> (batch * heads, steps, hiddens / heads)
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1).transpose(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def _softmax(self, q, k, valid_lens):  # -> (batch * heads, queries, keys)
        scores = npx.batch_dot(q, k, transpose_b=True) / q.shape[-1] ** 0.5
        if valid_lens is None:
            return npx.softmax(scores)
        # softmax's `length` leaves the keys past each length out of the sum (weight 0).
        # The book writes -1e6 into those scores instead; the weights come out the same.
        lengths = np.repeat(valid_lens.astype('int32'), self.num_heads)
        lengths = np.broadcast_to(lengths.reshape(-1, 1), scores.shape[:2])
        return npx.softmax(scores, length=lengths, use_length=True)

    def forward(self, queries, keys, values, valid_lens=None):
        q, k = self._heads(self.W_q(queries)), self._heads(self.W_k(keys))
        v = self._heads(self.W_v(values))
        out = npx.batch_dot(self.dropout(self._softmax(q, k, valid_lens)), v)
        out = out.reshape(-1, self.num_heads, out.shape[1], out.shape[2]).transpose(0, 2, 1, 3)
        return self.W_o(out.reshape(out.shape[0], out.shape[1], -1))

    def weights(self, queries, keys, valid_lens=None):
        """The attention weights, (batch, heads, queries, keys): for each head, the softmax of
        q k^T / sqrt(d) over the keys before valid_len, so each row sums to 1 and the keys
        after it get 0. No dropout.

        Gluon: forward computes them with the same code and uses them at once, keeping none;
        here they are computed again, from the same W_q and W_k, for the few inputs one wants
        to look at, as the PyTorch twin does."""
        w = self._softmax(self._heads(self.W_q(queries)), self._heads(self.W_k(keys)),
                          valid_lens)
        return w.reshape(-1, self.num_heads, w.shape[1], w.shape[2])


class AddNorm(nn.Block):
    """Residual connection, then layer normalization: ln(dropout(Y) + X)."""

    def __init__(self, num_hiddens, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(in_channels=num_hiddens)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class PositionWiseFFN(nn.Block):
    """The same two-layer ReLU network applied at every position."""

    def __init__(self, num_hiddens, ffn_num_hiddens):
        super().__init__()
        self.dense1 = nn.Dense(ffn_num_hiddens, in_units=num_hiddens, flatten=False,
                               activation='relu')
        self.dense2 = nn.Dense(num_hiddens, in_units=ffn_num_hiddens, flatten=False)

    def forward(self, X):
        return self.dense2(self.dense1(X))


class TransformerEncoderBlock(nn.Block):
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


class BERTEncoder(nn.Block):
    """Token, segment and learned position embeddings, then `num_blks` encoder blocks."""

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len=1000):
        super().__init__()
        # The embeddings start standard normal, as in PyTorch, whatever initializer the model
        # gets: then the two frameworks train alike from scratch.
        self.token_embedding = nn.Embedding(vocab_size, num_hiddens,
                                            weight_initializer=init.Normal(1.0))
        self.segment_embedding = nn.Embedding(2, num_hiddens, weight_initializer=init.Normal(1.0))
        self.blks = nn.Sequential()
        for _ in range(num_blks):
            self.blks.add(TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads,
                                                  dropout))
        self.pos_embedding = self.params.get('pos_embedding', shape=(1, max_len, num_hiddens),
                                             init=init.Normal(1.0))

    def _embed(self, tokens, segments):
        steps, max_len = tokens.shape[1], self.pos_embedding.shape[1]
        if steps > max_len:
            raise ValueError(f'inputs of {steps} tokens, but the position table has {max_len} '
                             f'rows: pack the pairs with max_len <= {max_len}')
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        return X + self.pos_embedding.data(tokens.ctx)[:, :steps, :]

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


class MaskLM(nn.Block):
    """Predict the original tokens at `pred_positions` (the masked language model task)."""

    def __init__(self, vocab_size, num_hiddens):
        super().__init__()
        self.mlp = nn.Sequential()
        self.mlp.add(nn.Dense(num_hiddens, in_units=num_hiddens, flatten=False,
                              activation='relu'),
                     nn.LayerNorm(in_channels=num_hiddens),
                     nn.Dense(vocab_size, in_units=num_hiddens, flatten=False))

    def forward(self, X, pred_positions):
        rows = np.arange(X.shape[0], ctx=X.ctx).reshape(-1, 1)
        return self.mlp(X[rows, pred_positions])  # (batch, predictions, vocab_size)


class NextSentencePred(nn.Block):
    """Tell whether the second sentence followed the first (next sentence prediction)."""

    def __init__(self, num_hiddens):
        super().__init__()
        self.output = nn.Dense(2, in_units=num_hiddens)

    def forward(self, X):
        return self.output(X)


class BERTModel(nn.Block):
    """BERT: the encoder plus the two pretraining heads. `forward` returns
    `(encoded_X, mlm_Y_hat, nsp_Y_hat)`; `mlm_Y_hat` is None without `pred_positions`."""

    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len=1000):
        super().__init__()
        self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                                   num_blks, dropout, max_len)
        self.hidden = nn.Dense(num_hiddens, in_units=num_hiddens, activation='tanh')
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

_MAGIC = (0x112).to_bytes(8, 'little')  # how every file of MXNet's save / save_parameters starts


def _read_params(path):
    """The named arrays of an MXNet parameter file, or a ValueError that says what to do."""
    with open(path, 'rb') as f:
        head = f.read(len(_MAGIC))
    if head != _MAGIC:
        what = ('a PyTorch checkpoint (PyTorch files are zip archives)' if head[:2] == b'PK'
                else 'not an MXNet parameter file')
        raise ValueError(
            f'{path} is {what}. MXNet loads the files of the MXNet checkpoints (bert.small.zip, '
            f'not bert.small.torch.zip); `python -m d2lmini.convert` converts a PyTorch '
            f'checkpoint zip to one.')
    try:
        return npx.load(path)
    except MXNetError as err:
        reason = str(err).strip().splitlines()[-1]
        if 'is_np_shape' not in reason:
            raise ValueError(
                f'{path} cannot be read: it is truncated or damaged. Delete it, its folder and '
                f'the zip it came from in {os.path.dirname(os.path.dirname(path))}, then load '
                f'again to download a fresh copy.\n  reason: {reason}') from None
    # Saved without numpy semantics (by MXNet's older ndarray API): read it that way.
    with mx.util.np_array(False), mx.util.np_shape(False):
        legacy = mx.nd.load(path)
    if isinstance(legacy, dict):
        return {name: array.as_np_ndarray() for name, array in legacy.items()}
    return legacy


def load_bert_params(bert, path):
    """Load a checkpoint's `pretrained.params` into `bert`, after checking every name and shape.

    Only tensors are read: a file that would run code while loading is refused. A mismatch
    raises one error naming all missing, unexpected and wrongly shaped parameters.
    """
    params = _read_params(path)  # MXNet's format holds arrays and names only, never code
    if not isinstance(params, dict):
        raise ValueError(  # noqa: TRY004 (one error type for every unusable checkpoint)
            f'{path} holds a {type(params).__name__} of unnamed arrays, not a dict of named '
            f'arrays (save_parameters); it is not a BERT checkpoint')
    # Gluon's structural names ("encoder.blks.0.ffn.dense1.weight"), the ones save_parameters
    # writes; MXNet 1.9.1 is the last release, so this private helper stays as it is.
    expected = bert._collect_params_with_prefix()
    checkpoints.check_params(path, params, expected)
    for name, param in expected.items():
        # Initializes a parameter not yet initialized (on the CPU), else overwrites its data
        # on the devices it lives on, as load_parameters does; other float types are cast, as
        # PyTorch's load_state_dict does.
        param._load_init(params[name].astype(param.dtype, copy=False), None)


def load_pretrained_model(pretrained_model, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                          dropout, max_len, devices):
    """Download a pretrained BERT and its vocabulary; return `(bert, vocab)`.

    Gluon: the parameters have a copy on every device in `devices`, where train_ch13 trains
    them."""
    data_dir = d2l.download_extract(pretrained_model)
    # vocab.json is a list of tokens: position i holds token i
    vocab = d2l.Vocab.from_file(os.path.join(data_dir, 'vocab.json'))
    # Every argument counts (the book's loader ignores num_heads, num_blks and dropout)
    bert = d2l.BERTModel(len(vocab), num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                         dropout, max_len)
    d2l.load_bert_params(bert, os.path.join(data_dir, 'pretrained.params'))
    # On every device, devices[0] first: a Gluon Trainer serves the devices the parameters are
    # on when it is made, so train_ch13 cannot spread them later as PyTorch's DataParallel does.
    # (Gluon has no evaluation mode to set: dropout acts only inside autograd.record().)
    bert.collect_params().reset_ctx(devices)
    return bert, vocab


# ---------------------------------------------------------------------------------------------
# SNLI for BERT

class SNLIBERTDataset(gluon.data.Dataset):
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
        # They stay numpy arrays: a second copy in MXNet's memory would double the peak for
        # SNLI's 550k pairs. trim_batch turns each batch into int64 MXNet arrays.
        self.all_token_ids = token_ids                     # int32, (pairs, max_len)
        self.all_segments = segments                       # uint8: 0 or 1
        self.valid_lens = valid_lens                       # real tokens in each pair
        self.labels = onp.array(labels, dtype='int32')
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
        fields = list(zip(*[(*X, y) for X, y in batch]))
        token_ids, segments, valid_lens, labels = (onp.stack(f) for f in fields)
        batch = (token_ids, segments, valid_lens), labels
    (token_ids, segments, valid_lens), labels = batch
    steps = int(valid_lens.max())
    # numpy or MXNet arrays in, MXNet arrays out
    X = (np.array(token_ids[:, :steps], dtype='int64'),
         np.array(segments[:, :steps], dtype='int64'), np.array(valid_lens, dtype='int32'))
    return X, None if labels is None else np.array(labels, dtype='int32')


def load_snli_batches(dataset, batch_size, shuffle, num_workers=0):
    """A data loader of batches of pairs of similar length, each cut to its longest pair.

    The sampler hands out a list of indices per batch, the dataset gathers the whole batch
    with one indexing step, and `trim_batch` cuts it. With `shuffle`, every epoch sees new
    batches, in an order that seeding the framework's random generator makes repeatable.
    """
    seed = int(np.random.randint(0, 2**31)) if shuffle else None  # follows mx.random.seed
    valid_lens = dataset.valid_lens  # numpy, or MXNet arrays in a dataset of one's own
    valid_lens = valid_lens.asnumpy() if hasattr(valid_lens, 'asnumpy') else valid_lens
    sampler = BucketBatchSampler(onp.asarray(valid_lens), batch_size, shuffle, seed)
    # batch_size=1 wraps each batch of indices into a list of one "index", which the dataset
    # resolves to the whole batch in one step; _trim_gathered unwraps it.
    return gluon.data.DataLoader(dataset, sampler=sampler, batch_size=1,
                                 batchify_fn=_trim_gathered, num_workers=num_workers)


def _trim_gathered(items):
    (batch,) = items
    return trim_batch(batch)


class BERTClassifier(nn.Block):
    """The pretrained encoder and `hidden` layer of a BERT, and a new output layer that
    classifies the `<cls>` encoding into the three SNLI labels."""

    def __init__(self, bert):
        super().__init__()
        self.encoder = bert.encoder
        self.hidden = bert.hidden
        # Sized from the pretrained layer and made on its devices, so it exists (and is
        # trained) from the start; a BERT not initialized yet leaves it to net.initialize().
        self.output = nn.Dense(3, in_units=bert.hidden.weight.shape[0])
        try:
            self.output.initialize(init.Xavier(), ctx=bert.hidden.weight.list_ctx())
        except RuntimeError:
            pass

    def forward(self, inputs):
        tokens_X, segments_X, valid_lens_x = inputs
        encoded_X = self.encoder(tokens_X, segments_X, valid_lens_x)
        return self.output(self.hidden(encoded_X[:, 0, :]))


# ---------------------------------------------------------------------------------------------
# Training and prediction

def num_correct(y_hat, y):
    """The number of predictions (rows of scores `y_hat`) that match the labels `y`."""
    return int((y_hat.argmax(axis=1).astype(y.dtype) == y).sum())


def accuracy(y_hat, y):
    """The fraction of correct predictions, in [0, 1] (the book's accuracy() is a count)."""
    return num_correct(y_hat, y) / len(y)


def to_device(X, device):
    """`X`, an array or a list or tuple of arrays, copied to `device` (a list comes back)."""
    if isinstance(X, (list, tuple)):
        return [x.as_in_ctx(device) for x in X]
    return X.as_in_ctx(device)


def device_of(net):
    """The device that holds the parameters of `net` (the first one, if they are on several)."""
    return _devices_of(net)[0]


def _devices_of(net):
    return next(iter(net.collect_params().values())).list_ctx()


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Accuracy of `net` over all batches of `data_iter`, in evaluation mode, without
    gradients; on `device`, by default the one holding the model."""
    if device is None:
        device = device_of(net)
    metric = Accumulator(2)  # correct predictions, examples
    # No dropout even if the caller is inside autograd.record() or train_mode()
    with autograd.predict_mode():
        for X, y in data_iter:
            y = y.as_in_ctx(device)
            metric.add(num_correct(net(to_device(X, device)), y), y.size)
    if metric[1] == 0:
        raise ValueError('data_iter yielded no examples to evaluate on')
    return metric[0] / metric[1]


def _split_batch_multi_inputs(X, y, devices):
    """The book's split_batch_multi_inputs: a slice of every input and of the labels for each
    device. A batch smaller than the number of devices is filled up with copies of its first
    example, so that every device computes a gradient, as Trainer.step expects."""
    if len(y) < len(devices):
        idx = np.array(list(range(len(y))) + [0] * (len(devices) - len(y)))
        X, y = [x[idx] for x in X], y[idx]
    X = list(zip(*[gluon.utils.split_and_load(x, devices, even_split=False) for x in X]))
    return X, gluon.utils.split_and_load(y, devices, even_split=False)


def train_batch_ch13(net, X, y, loss, trainer, devices):
    """One optimizer step on the mean loss over the batch `(X, y)`; returns the sum of the
    per-example losses and the number of correct predictions, for averaging over an epoch.

    `loss` may give one loss per example (as in the book) or their mean already.
    """
    n = len(y)
    X_shards, y_shards = _split_batch_multi_inputs(X, y, devices)
    with autograd.record():
        preds = [net(X_shard) for X_shard in X_shards]
        losses = [loss(pred, y_shard) for pred, y_shard in zip(preds, y_shards)]
        # Sums over the examples of each shard; a loss that returned the mean is scaled back.
        # Shards past the n-th only exist when n < len(devices): copies, which count 0.
        sums = [(l.sum() if l.ndim else l * len(y_shard)) * (i < n)
                for i, (l, y_shard) in enumerate(zip(losses, y_shards))]
    autograd.backward(sums)
    # The gradients of the summed losses, added up over the devices and divided by the batch
    # size: the gradient of the mean loss, for a short last batch too.
    trainer.step(n)
    return (sum(float(s) for s in sums),
            sum(num_correct(pred, y_shard) for pred, y_shard in zip(preds[:n], y_shards[:n])))


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
    if _devices_of(net) != list(devices):
        raise ValueError(
            f'the model is on {_devices_of(net)} but training was asked on {list(devices)}: '
            f'load it with devices={list(devices)} (load_pretrained_model) before creating '
            f'the Trainer, which serves the devices the parameters are on')
    animator = Animator(xlabel='epoch', xlim=[1, num_epochs] if num_epochs > 1 else None,
                        legend=['train loss', 'train acc', 'test acc'])
    timer, num_examples = Timer(), 0
    for epoch in range(num_epochs):
        metric = Accumulator(3)  # sum of losses, correct predictions, examples
        for X, y in train_iter:
            timer.start()
            loss_sum, correct = train_batch_ch13(net, X, y, loss, trainer, devices)
            timer.stop()
            metric.add(loss_sum, correct, y.size)
        if metric[2] == 0:
            raise ValueError('train_iter yielded no examples to train on')
        num_examples += metric[2]
        test_acc = evaluate_accuracy_gpu(net, test_iter, devices[0])
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
    packed = [np.array(a) for a in pack_pairs([premise], [hypothesis], vocab, max_len)]
    X, _ = trim_batch((packed, None))
    with autograd.predict_mode():  # no dropout, wherever it is called from
        probs = npx.softmax(net(to_device(X, device_of(net))), axis=1)[0]
    return LABELS[int(probs.argmax())], dict(zip(LABELS, probs.tolist()))


def predict_probs(net, data_iter):
    """The label probabilities that `net` gives every example of `data_iter`, in the order of
    the iterator, and the true labels: numpy arrays (examples, labels) and (examples,). In
    evaluation mode, without gradients: one pass, from which the accuracy, the confusion matrix
    and the mistakes can all be read."""
    device = device_of(net)
    probs, labels = [], []
    with autograd.predict_mode():  # no dropout, wherever it is called from
        for X, y in data_iter:
            probs.append(npx.softmax(net(to_device(X, device)), axis=1).asnumpy())
            labels.append(y.asnumpy())
    if not labels:
        raise ValueError('data_iter yielded no examples to predict')
    return onp.concatenate(probs), onp.concatenate(labels)


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
    packed = [np.array(a) for a in pack_pairs([premise], [hypothesis], vocab, max_len)]
    X, _ = trim_batch((packed, None))
    weights = net.encoder.attention_weights(*to_device(X, device_of(net)))
    return vocab.to_tokens(X[0][0]), np.stack(weights)[:, 0].asnumpy()


# ---------------------------------------------------------------------------------------------
# Pretraining BERT

class _WikiTextDataset(gluon.data.Dataset):
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
                                          onp.random.default_rng(rng))
        # Seven numpy arrays, one row per pair; _trim_bert_batch makes MXNet arrays of a batch
        (self.all_token_ids, self.all_segments, self.valid_lens, self.all_pred_positions,
         self.all_mlm_weights, self.all_mlm_labels, self.nsp_labels) = arrays

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
    return (np.array(tokens[:, :steps], dtype='int64'),
            np.array(segments[:, :steps], dtype='int64'), np.array(valid_lens, dtype='int32'),
            np.array(pred_positions, dtype='int64'), np.array(mlm_weights, dtype='float32'),
            np.array(mlm_labels, dtype='int64'), np.array(nsp_labels, dtype='int64'))


def _trim_gathered_bert(items):
    (batch,) = items
    return _trim_bert_batch(batch)


def load_wiki_batches(dataset, batch_size, shuffle):
    """A data loader of `dataset`'s pairs (a _WikiTextDataset, or a class of one's own with
    the same seven arrays) in batches of pairs of similar length, each cut to its longest pair.

    With `shuffle`, every epoch sees new batches, in an order that seeding the framework's
    random generator makes repeatable.
    """
    seed = int(np.random.randint(0, 2**31)) if shuffle else None  # follows mx.random.seed
    valid_lens = dataset.valid_lens  # numpy, or MXNet arrays in a dataset of one's own
    valid_lens = valid_lens.asnumpy() if hasattr(valid_lens, 'asnumpy') else valid_lens
    sampler = BucketBatchSampler(onp.asarray(valid_lens), batch_size, shuffle, seed)
    # batch_size=1 wraps each batch of indices into a list of one "index" (load_snli_batches)
    return gluon.data.DataLoader(dataset, sampler=sampler, batch_size=1,
                                 batchify_fn=_trim_gathered_bert)


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
    seed = int(np.random.randint(0, 2**31))  # follows mx.random.seed
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

    Gluon: the model trains on devices[0], where it must be initialized (and nowhere else).
    """
    if num_steps < 1:
        raise ValueError(f'num_steps={num_steps}: train for at least one step')
    if net.collect_params().list_ctx() != [devices[0]]:
        raise ValueError(f'the model is on {net.collect_params().list_ctx()}: initialize it '
                         f'with ctx={devices[0]} to pretrain it there')
    trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': lr})
    animator = d2l.Animator(xlabel='step', ylabel='loss', xlim=[1, num_steps],
                            legend=['mlm', 'nsp'])
    every = max(1, num_steps // 20)  # points on the plot: redrawing it costs time
    timer, losses, pairs = d2l.Timer(), {'mlm': [], 'nsp': []}, 0
    while len(losses['mlm']) < num_steps:
        epoch_start = len(losses['mlm'])
        for batch in train_iter:
            timer.start()
            batch = d2l.to_device(batch, devices[0])
            step = len(losses['mlm'])
            if warmup_steps:
                trainer.set_learning_rate(lr * min(
                    (step + 1) / warmup_steps, (num_steps - step) / (num_steps - warmup_steps + 1)))
            with autograd.record():
                mlm_l, nsp_l, l = _get_batch_loss_bert(net, loss, vocab_size, *batch)
            l.backward()
            trainer.step(1)  # the loss is a mean already
            losses['mlm'].append(float(mlm_l))
            losses['nsp'].append(float(nsp_l))
            npx.waitall()  # MXNet computes asynchronously: the update too belongs to this step
            timer.stop()
            pairs += len(batch[0])
            step += 1
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
    metric = Accumulator(4)  # right masked tokens, masked tokens, right pairs, pairs
    for batch in data_iter:  # outside autograd.record(): no gradients, dropout off
        tokens_X, segments_X, valid_lens_x, pred_positions_X, mlm_weights_X, mlm_Y, nsp_y = (
            to_device(batch, device))
        _, mlm_Y_hat, nsp_Y_hat = net(tokens_X, segments_X, valid_lens_x, pred_positions_X)
        hits = (mlm_Y_hat.argmax(axis=-1).astype(mlm_Y.dtype) == mlm_Y) * mlm_weights_X
        metric.add(hits.sum(), mlm_weights_X.sum(), num_correct(nsp_Y_hat, nsp_y), len(nsp_y))
    if metric[3] == 0:
        raise ValueError('data_iter yielded no examples to evaluate on')
    return metric[0] / metric[1], metric[2] / metric[3]


def get_bert_encoding(net, vocab, tokens_a, tokens_b=None):
    """BERT's encoding of one sentence (or pair), a list of tokens each: `(1, tokens, hiddens)`,
    `<cls>` and `<sep>` included. The book's version reads `vocab` from a global variable."""
    tokens, segments = d2l.get_tokens_and_segments(tokens_a, tokens_b)
    device = d2l.device_of(net)
    token_ids = np.array(vocab[tokens], ctx=device, dtype='int64')[None, :]
    segments = np.array(segments, ctx=device, dtype='int64')[None, :]
    valid_len = np.array([len(tokens)], ctx=device, dtype='int32')
    encoded_X, _, _ = net(token_ids, segments, valid_len)  # outside autograd: no dropout
    return encoded_X


def save_pretrained_model(bert, vocab, name, config):
    """Save `bert` and `vocab` in the book's checkpoint layout: a zip in the learner's own
    checkpoint folder (checkpoints.checkpoint_dir(), never the data folder, which a class may
    share) holding one folder with `vocab.json` and `pretrained.params`. Register it as `name` in
    DATA_HUB (with its sha1) and its hyperparameters `config` in BERT_CONFIGS, so that
    load_pretrained_model(name, ...) loads it; return the zip's path.

    Gluon: `<name>.zip` holding the folder `<name>/`; the parameters are written by
    save_parameters (structural names)."""
    with tempfile.TemporaryDirectory() as tmp:
        bert.save_parameters(os.path.join(tmp, 'pretrained.params'))
        with open(os.path.join(tmp, 'pretrained.params'), 'rb') as f:
            params = f.read()
    path = checkpoints.save_checkpoint(name, f'{name}.zip', vocab.to_json().encode(), params,
                                       config, DATA_HUB)
    return path


def register_saved_model(name):
    """Register a model that save_pretrained_model saved as `name` in an earlier session (in
    the learner's checkpoint folder), so that load_pretrained_model(name, ...) finds it."""
    checkpoints.register_saved_checkpoint(name, f'{name}.zip', DATA_HUB)
