"""d2lmini.mxnet, the MXNet/Gluon twin of d2lmini.torch: the same checks as tests/test_torch.py,
in Gluon's terms, plus what only MXNet has (several devices on one machine, the loss scaling of
Trainer.step, legacy parameter files)."""
import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as onp
import pytest

from d2lmini.mxnet_compat import mxnet_problem

if mxnet_problem():
    pytest.skip(f'MXNet track skipped: {mxnet_problem()}', allow_module_level=True)

from d2lmini import mxnet as d2l  # before mxnet: it sets how many cores MXNet uses

# isort: split
import mxnet as mx
from mxnet import autograd, gluon, init, np, npx

from d2lmini import text
from d2lmini.threads import usable_cores

RESERVED = ['<pad>', '<mask>', '<cls>', '<sep>']
WORDS = ['a', 'dog', 'man', 'runs', 'sits', 'the', 'park', 'is', 'on', 'grass', '.']
CPU = [mx.cpu()]


def small_vocab():
    return d2l.Vocab([WORDS], reserved_tokens=RESERVED)


def random_pairs(n, seed, max_words=12):
    rng = onp.random.default_rng(seed)
    words = WORDS + ['Dog', 'zebra']  # upper case and an unknown word too

    def sentence():
        return ' '.join(rng.choice(words, size=rng.integers(1, max_words + 1)))

    return [sentence() for _ in range(n)], [sentence() for _ in range(n)], \
        rng.integers(0, 3, size=n).tolist()


def tiny_bert(vocab_size, num_blks=2, max_len=32, seed=0, dropout=0.1, ctx=CPU):
    mx.random.seed(seed)
    net = d2l.BERTModel(vocab_size, 16, 32, 2, num_blks, dropout, max_len=max_len)
    net.initialize(init.Xavier(), ctx=ctx)
    return net


def params_of(net):
    return net._collect_params_with_prefix()


def expected_names(num_blks, V, H, F, max_len):
    names = [('encoder.pos_embedding', (1, max_len, H)),
             ('encoder.token_embedding.weight', (V, H)),
             ('encoder.segment_embedding.weight', (2, H))]
    for i in range(num_blks):
        b = f'encoder.blks.{i}.'
        for w in 'qkvo':
            names += [(f'{b}attention.W_{w}.weight', (H, H)), (f'{b}attention.W_{w}.bias', (H,))]
        names += [(f'{b}addnorm1.ln.gamma', (H,)), (f'{b}addnorm1.ln.beta', (H,)),
                  (f'{b}ffn.dense1.weight', (F, H)), (f'{b}ffn.dense1.bias', (F,)),
                  (f'{b}ffn.dense2.weight', (H, F)), (f'{b}ffn.dense2.bias', (H,)),
                  (f'{b}addnorm2.ln.gamma', (H,)), (f'{b}addnorm2.ln.beta', (H,))]
    names += [('hidden.weight', (H, H)), ('hidden.bias', (H,)),
              ('mlm.mlp.0.weight', (H, H)), ('mlm.mlp.0.bias', (H,)),
              ('mlm.mlp.1.gamma', (H,)), ('mlm.mlp.1.beta', (H,)),
              ('mlm.mlp.2.weight', (V, H)), ('mlm.mlp.2.bias', (V,)),
              ('nsp.output.weight', (2, H)), ('nsp.output.bias', (2,))]
    return names


# --- names, hub, import ----------------------------------------------------------------------

def test_all_lists_every_public_name_once():
    assert len(d2l.__all__) == len(set(d2l.__all__))
    for name in d2l.__all__:
        assert hasattr(d2l, name), name
    own = [n for n, obj in vars(d2l).items() if not n.startswith('_') and
           (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == d2l.__name__]
    assert set(own) <= set(d2l.__all__)


def test_data_hub_entries():
    assert d2l.DATA_HUB['bert.small'] == (
        d2l.DATA_URL + 'bert.small.zip', 'a4e718a47137ccd1809c9107ab4f5edd317bae2c')
    assert d2l.DATA_HUB['bert.base'] == (
        d2l.DATA_URL + 'bert.base.zip', '7b3820b35da691042e5d34c0971ac3edbd80d3f4')
    assert d2l.DATA_HUB['snli-mini'] == d2l.hub.DATA_HUB['snli-mini']
    assert set(d2l.BERT_CONFIGS) == {'bert.mini', 'bert.small', 'bert.base'}


def test_bundled_checkpoint_matches_its_sha1_and_loads(tmp_path, monkeypatch):
    url, sha1 = d2l.DATA_HUB['bert.mini']
    path = os.path.join(os.path.dirname(d2l.__file__), 'data', 'bert.mini.zip')
    assert url.endswith('/bert.mini.zip')
    with open(path, 'rb') as f:
        assert hashlib.sha1(f.read()).hexdigest() == sha1
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ['bert.mini/pretrained.params', 'bert.mini/vocab.json']
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    bert, vocab = d2l.load_pretrained_model('bert.mini', **d2l.BERT_CONFIGS['bert.mini'],
                                            devices=CPU)
    assert params_of(bert)['encoder.token_embedding.weight'].shape[0] == len(vocab)
    for token in RESERVED + ['<unk>', 'man', 'dog']:
        assert token in vocab.token_to_idx, token


def test_devices_fall_back_to_cpu():
    if mx.context.num_gpus():
        pytest.skip('a GPU is present')
    assert d2l.try_gpu() == mx.cpu()
    assert d2l.try_all_gpus() == [mx.cpu()]
    assert d2l.get_dataloader_workers() == 0


def test_import_and_exit_are_silent():
    # Warnings shown as a notebook would (-W default), a training step, and interpreter exit
    code = ('from d2lmini import mxnet as d2l\n'
            'from mxnet import gluon, init, np\n'
            'net = d2l.BERTClassifier(d2l.BERTModel(10, 8, 16, 2, 1, 0.1, max_len=8))\n'
            'net.initialize(init.Xavier())\n'
            'trainer = gluon.Trainer(net.collect_params(), "adam")\n'
            'X = (np.ones((2, 4), dtype="int32"), np.zeros((2, 4), dtype="int32"),'
            ' np.array([4, 2], dtype="int32"))\n'
            'd2l.train_batch_ch13(net, X, np.array([0, 1], dtype="int32"),'
            ' gluon.loss.SoftmaxCrossEntropyLoss(), trainer, d2l.try_all_gpus())\n')
    # Without oneDNN MXNet itself logs a storage fallback per operator: not ours to silence.
    env = {k: v for k, v in os.environ.items() if k != 'MXNET_MKLDNN_ENABLED'}
    run = subprocess.run([sys.executable, '-W', 'default', '-c', code], capture_output=True,
                         text=True, timeout=120, check=False, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == '' and run.stderr == ''


def _threads_setting(code, **env):
    """MXNET_OMP_MAX_THREADS and the warnings in a fresh Python that runs `code`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS')} | env
    code += '\nimport os; print(os.environ.get("MXNET_OMP_MAX_THREADS"))'
    run = subprocess.run([sys.executable, '-W', 'default', '-c', code], capture_output=True,
                         text=True, timeout=120, check=False, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip(), run.stderr


def test_mxnet_is_given_every_usable_core():
    cores = usable_cores()
    assert 1 <= cores <= len(os.sched_getaffinity(0))
    setting, err = _threads_setting('from d2lmini import mxnet')
    assert (setting, err) == (str(cores), '')


def test_a_thread_setting_of_the_user_is_kept():
    assert _threads_setting('from d2lmini import mxnet', OMP_NUM_THREADS='1') == ('None', '')
    assert _threads_setting('from d2lmini import mxnet', MXNET_OMP_MAX_THREADS='1') == ('1', '')


def test_importing_mxnet_first_warns_when_its_thread_count_is_wrong():
    # MXNet imported on its own (through our layer, which numpy 2 needs), then d2lmini.mxnet
    setting, err = _threads_setting('from d2lmini import mxnet_compat\nmxnet_compat.apply()\n'
                                    'from d2lmini import mxnet')
    assert setting == 'None'  # too late to tell MXNet
    # MXNet's own choice is half the CPUs: right only with two hardware threads per core
    if usable_cores() != max(1, len(os.sched_getaffinity(0)) // 2):
        assert 'import d2lmini.mxnet first' in err and 'MXNET_OMP_MAX_THREADS=' in err
    else:
        assert 'd2lmini' not in err


def test_numpy_semantics_are_on():
    assert mx.util.is_np_array() and mx.util.is_np_shape()


# --- model -----------------------------------------------------------------------------------

@pytest.mark.parametrize('num_blks, count', [(2, 45), (12, 205)])
def test_parameter_names_and_shapes_match_the_book(num_blks, count, tmp_path):
    net = d2l.BERTModel(50, 16, 24, 2, num_blks, 0.1, max_len=40)
    got = [(k, tuple(p.shape)) for k, p in params_of(net).items()]
    assert got == expected_names(num_blks, 50, 16, 24, 40)
    assert len(got) == count
    # and save_parameters writes exactly these names
    net.initialize()
    net.save_parameters(str(tmp_path / 'p.params'))
    assert list(npx.load(str(tmp_path / 'p.params'))) == [k for k, _ in got]


def book_attention(att, X, valid_lens):
    """The book's MXNet attention: scores of masked keys set to -1e6 by sequence_mask."""
    B, T, H = X.shape
    heads = att.num_heads

    def split(Y):
        return Y.reshape(B, T, heads, -1).transpose(0, 2, 1, 3).reshape(B * heads, T, -1)

    q, k, v = split(att.W_q(X)), split(att.W_k(X)), split(att.W_v(X))
    scores = npx.batch_dot(q, k, transpose_b=True) / (H // heads) ** 0.5
    lens = np.repeat(np.repeat(valid_lens, heads), T)
    masked = npx.sequence_mask(scores.reshape(-1, T), lens, True, value=-1e6, axis=1)
    weights = npx.softmax(masked).reshape(B * heads, T, T)
    out = npx.batch_dot(weights, v).reshape(B, heads, T, -1).transpose(0, 2, 1, 3)
    return att.W_o(out.reshape(B, T, H))


def test_attention_equals_the_books_masked_softmax():
    mx.random.seed(0)
    att = d2l.MultiHeadAttention(16, 4, 0.5)
    att.initialize(init.Xavier())
    X = np.random.normal(size=(3, 7, 16))
    valid_lens = np.array([7, 4, 1])
    onp.testing.assert_allclose(att(X, X, X, valid_lens).asnumpy(),
                                book_attention(att, X, valid_lens).asnumpy(),
                                atol=1e-6, rtol=1e-5)
    # No valid_lens: every key counts
    onp.testing.assert_allclose(att(X, X, X).asnumpy(),
                                att(X, X, X, np.array([7, 7, 7])).asnumpy(), atol=1e-6)


def direct_weights(att, queries, keys, valid_lens):
    """softmax(q k^T / sqrt(d)) per head in plain numpy, with the keys past valid_len left out."""
    def heads(Y, W):
        Y = Y.asnumpy() @ W.weight.data().asnumpy().T + W.bias.data().asnumpy()
        return Y.reshape(Y.shape[0], Y.shape[1], att.num_heads, -1).transpose(0, 2, 1, 3)

    q, k = heads(queries, att.W_q), heads(keys, att.W_k)
    scores = q @ k.transpose(0, 1, 3, 2) / onp.sqrt(q.shape[-1])
    valid = onp.arange(k.shape[2]) < valid_lens.asnumpy()[:, None, None, None]
    e = onp.where(valid, onp.exp(scores - scores.max(-1, keepdims=True)), 0)
    return e / e.sum(-1, keepdims=True)


def test_attention_weights_equal_a_direct_computation():
    mx.random.seed(0)
    att = d2l.MultiHeadAttention(16, 4, 0.5)
    att.initialize(init.Xavier())
    queries, keys = np.random.normal(size=(3, 5, 16)), np.random.normal(size=(3, 7, 16))
    valid_lens = np.array([7, 4, 1], dtype='int32')
    with autograd.record():  # training mode: the weights still get no dropout
        weights = att.weights(queries, keys, valid_lens).asnumpy()
    assert weights.shape == (3, 4, 5, 7)
    onp.testing.assert_allclose(weights, direct_weights(att, queries, keys, valid_lens),
                                atol=1e-6)
    for b, n in enumerate(valid_lens.tolist()):
        assert (weights[b, :, :, n:] == 0).all()  # masked keys: no weight at all
        onp.testing.assert_allclose(weights[b, :, :, :n].sum(-1), onp.ones((4, 5)), rtol=1e-6)
    onp.testing.assert_allclose(att.weights(queries, keys).asnumpy(), att.weights(
        queries, keys, np.array([7, 7, 7])).asnumpy(), atol=1e-7)


def test_attention_weights_are_the_ones_forward_uses():
    mx.random.seed(1)
    att = d2l.MultiHeadAttention(16, 4, 0.1)
    att.initialize(init.Xavier())
    X, valid_lens = np.random.normal(size=(2, 6, 16)), np.array([6, 3])
    v = att.W_v(X).reshape(2, 6, 4, 4).transpose(0, 2, 1, 3)
    mixed = np.matmul(att.weights(X, X, valid_lens), v).transpose(0, 2, 1, 3).reshape(2, 6, 16)
    onp.testing.assert_allclose(att.W_o(mixed).asnumpy(), att(X, X, X, valid_lens).asnumpy(),
                                atol=1e-6, rtol=1e-5)


def test_encoder_attention_weights_come_from_each_blocks_own_input():
    vocab = small_vocab()
    bert = tiny_bert(len(vocab), num_blks=3)
    tokens, segments, valid_lens = (np.array(a) for a in d2l.pack_pairs(
        ['a man sits on the grass .', 'a dog'], ['the man sits', 'a dog runs .'], vocab, 12))
    tokens, segments = tokens.astype('int64'), segments.astype('int64')
    inputs = []
    hooks = [blk.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
             for blk in bert.encoder.blks]
    weights = bert.encoder.attention_weights(tokens, segments, valid_lens)
    encoded = bert.encoder(tokens, segments, valid_lens)
    for hook in hooks:
        hook.detach()
    assert len(weights) == 3 and len(inputs) == 6  # attention_weights, then forward
    for i, blk in enumerate(bert.encoder.blks):
        onp.testing.assert_array_equal(inputs[i].asnumpy(), inputs[3 + i].asnumpy())
        onp.testing.assert_array_equal(weights[i].asnumpy(), blk.attention.weights(
            inputs[i], inputs[i], valid_lens).asnumpy())
    assert encoded.shape == (2, 12, 16)


@pytest.mark.parametrize('wrap', [False, True])
def test_attention_weights_of_one_pair(wrap):
    vocab = small_vocab()
    net = tiny_bert(len(vocab))
    net = d2l.BERTClassifier(net) if wrap else net
    tokens, weights = d2l.attention_weights(net, vocab, 'A man sits on the grass .',
                                            'a zebra sits .')
    assert tokens == ['<cls>', 'a', 'man', 'sits', 'on', 'the', 'grass', '.', '<sep>',
                      'a', '<unk>', 'sits', '.', '<sep>']
    assert isinstance(weights, onp.ndarray) and weights.shape == (2, 2, 14, 14)
    onp.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)


def test_predict_probs_gives_every_example_in_order():
    net, _, test_iter, _ = toy_setup(8, batch_size=8)
    test_set = d2l.SNLIBERTDataset(toy_task(64, 100), 32, small_vocab())  # toy_setup's
    probs, labels = d2l.predict_probs(net, test_iter)
    assert probs.shape == (64, 3) and labels.shape == (64,)
    onp.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert labels.tolist() == test_set.labels.tolist()
    assert (probs.argmax(1) == labels).mean() == d2l.evaluate_accuracy_gpu(net, test_iter)
    X, _ = test_set[[5]]
    onp.testing.assert_allclose(npx.softmax(net(d2l.trim_batch((X, None))[0]))[0].asnumpy(),
                                probs[5], atol=1e-6)
    with pytest.raises(ValueError, match='no examples'):
        d2l.predict_probs(net, [])


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match='num_heads=3'):
        d2l.MultiHeadAttention(16, 3, 0.1)


def test_bert_forward_shapes_and_position_table_limit():
    net = tiny_bert(20, max_len=10)
    tokens = np.random.randint(0, 20, (2, 6))
    segments = np.zeros((2, 6), dtype='int32')
    enc, mlm, nsp = net(tokens, segments, np.array([6, 3]), np.array([[1, 2, 3], [0, 1, 2]]))
    assert enc.shape == (2, 6, 16) and mlm.shape == (2, 3, 20) and nsp.shape == (2, 2)
    assert net(tokens, segments)[1] is None
    with pytest.raises(ValueError, match='position table has 10 rows'):
        net(np.zeros((1, 11)), np.zeros((1, 11)))


def test_dropout_only_in_training():
    net = tiny_bert(20)
    tokens, segments = np.random.randint(0, 20, (2, 6)), np.zeros((2, 6))
    assert (net(tokens, segments)[0] == net(tokens, segments)[0]).all()
    with autograd.record():  # train_mode by default
        a, b = net(tokens, segments)[0], net(tokens, segments)[0]
    assert not (a == b).all()


def test_fresh_embeddings_are_standard_normal_like_pytorchs():
    std = params_of(tiny_bert(2000))['encoder.token_embedding.weight'].data().asnumpy().std()
    assert 0.95 < std < 1.05


# --- checkpoints -----------------------------------------------------------------------------

def write_checkpoint(tmp_path, monkeypatch, name, tokens, net=None, raw=None):
    """A book-layout zip <name>/{vocab.json, pretrained.params} registered in DATA_HUB."""
    if raw is None:
        net.save_parameters(str(tmp_path / 'saved.params'))
        raw = (tmp_path / 'saved.params').read_bytes()
    path = tmp_path / f'{name}.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr(f'{name}/vocab.json', json.dumps(tokens))
        zf.writestr(f'{name}/pretrained.params', raw)
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    monkeypatch.setitem(d2l.DATA_HUB, name, (path.as_uri(), sha1))
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))


def config(num_blks=2):
    return {'num_hiddens': 16, 'ffn_num_hiddens': 32, 'num_heads': 2, 'num_blks': num_blks,
            'dropout': 0.1, 'max_len': 32}


def outputs(net, seed=0, vocab_size=None):
    rng = onp.random.default_rng(seed)
    V = vocab_size or len(small_vocab())
    tokens, segments = np.array(rng.integers(0, V, (3, 9))), np.array(rng.integers(0, 2, (3, 9)))
    valid_lens, positions = np.array([9, 5, 3]), np.array([[1, 2], [3, 1], [1, 1]])
    return [a.asnumpy() for a in net(tokens, segments, valid_lens, positions)]


@pytest.mark.parametrize('num_blks', [2, 12])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, monkeypatch, num_blks):
    vocab = small_vocab()
    bert = tiny_bert(len(vocab), num_blks)
    write_checkpoint(tmp_path, monkeypatch, 'bert.test', vocab.idx_to_token, bert)
    mx.random.seed(1)  # a different state, so equal outputs prove the load
    loaded, loaded_vocab = d2l.load_pretrained_model('bert.test', **config(num_blks),
                                                     devices=CPU)
    assert loaded_vocab.idx_to_token == vocab.idx_to_token
    for a, b in zip(outputs(bert), outputs(loaded)):
        assert onp.array_equal(a, b)


def test_loading_onto_several_devices(tmp_path, monkeypatch):
    vocab, devices = small_vocab(), [mx.cpu(0), mx.cpu(1)]  # two contexts work on one CPU
    bert = tiny_bert(len(vocab))
    write_checkpoint(tmp_path, monkeypatch, 'bert.test', vocab.idx_to_token, bert)
    loaded, _ = d2l.load_pretrained_model('bert.test', **config(), devices=devices)
    for name, param in params_of(loaded).items():
        assert param.list_ctx() == devices, name
    assert d2l.BERTClassifier(loaded).output.weight.list_ctx() == devices


def test_loading_into_an_initialized_model_overwrites_it(tmp_path):
    bert, other = tiny_bert(20, seed=0), tiny_bert(20, seed=1)
    bert.save_parameters(str(tmp_path / 'p.params'))
    d2l.load_bert_params(other, str(tmp_path / 'p.params'))
    for a, b in zip(outputs(bert, vocab_size=20), outputs(other, vocab_size=20)):
        assert onp.array_equal(a, b)


def test_float16_file_loads_as_float32(tmp_path):
    bert = tiny_bert(20)
    npx.save(str(tmp_path / 'half.params'),
             {k: p.data().astype('float16') for k, p in params_of(bert).items()})
    fresh = d2l.BERTModel(20, 16, 32, 2, 2, 0.1, max_len=32)
    d2l.load_bert_params(fresh, str(tmp_path / 'half.params'))
    weight = params_of(fresh)['encoder.token_embedding.weight'].data()
    assert weight.dtype == onp.float32
    half = params_of(bert)['encoder.token_embedding.weight'].data().astype('float16')
    assert onp.array_equal(weight.asnumpy(), half.asnumpy().astype('float32'))


def test_legacy_ndarray_file_loads(tmp_path):
    # Files written by MXNet's older ndarray API (no numpy semantics) load too
    bert = tiny_bert(20)
    arrays = {k: p.data().asnumpy() for k, p in params_of(bert).items()}
    with mx.util.np_array(False), mx.util.np_shape(False):
        mx.nd.save(str(tmp_path / 'legacy.params'), {k: mx.nd.array(v) for k, v in arrays.items()})
    fresh = d2l.BERTModel(20, 16, 32, 2, 2, 0.1, max_len=32)
    d2l.load_bert_params(fresh, str(tmp_path / 'legacy.params'))
    for a, b in zip(outputs(bert, vocab_size=20), outputs(fresh, vocab_size=20)):
        assert onp.array_equal(a, b)


def bad_load(tmp_path, monkeypatch, tokens=None, net=None, raw=None, **overrides):
    vocab = small_vocab()
    if net is None and raw is None:
        net = tiny_bert(len(vocab))
    write_checkpoint(tmp_path, monkeypatch, 'bert.bad', tokens or vocab.idx_to_token, net, raw)
    with pytest.raises(ValueError) as err:
        d2l.load_pretrained_model('bert.bad', **{**config(), **overrides}, devices=CPU)
    return str(err.value)


def saved_bytes(tmp_path, arrays):
    npx.save(str(tmp_path / 'custom.params'), arrays)
    return (tmp_path / 'custom.params').read_bytes()


@pytest.mark.parametrize('cut', [100, 5000, -10])
def test_truncated_params_file(tmp_path, monkeypatch, cut):
    tiny_bert(len(small_vocab())).save_parameters(str(tmp_path / 'full.params'))
    raw = (tmp_path / 'full.params').read_bytes()
    msg = bad_load(tmp_path, monkeypatch, raw=raw[:cut])
    assert 'truncated' in msg and 'download' in msg


def test_not_an_mxnet_file(tmp_path, monkeypatch):
    msg = bad_load(tmp_path, monkeypatch, raw=b'<html>not found</html>')
    assert 'not an MXNet parameter file' in msg and 'd2lmini.convert' in msg


def test_pytorch_file_is_named_as_such(tmp_path, monkeypatch):
    # What torch.save writes starts like every zip archive
    msg = bad_load(tmp_path, monkeypatch, raw=b'PK\x03\x04' + bytes(100))
    assert 'a PyTorch checkpoint' in msg and 'python -m d2lmini.convert' in msg


def test_unnamed_arrays_are_not_a_checkpoint(tmp_path, monkeypatch):
    msg = bad_load(tmp_path, monkeypatch, raw=saved_bytes(tmp_path, [np.zeros(2)]))
    assert 'holds a list' in msg


def test_wrong_shape_missing_and_unexpected_are_all_named(tmp_path, monkeypatch):
    arrays = {k: p.data() for k, p in params_of(tiny_bert(len(small_vocab()))).items()}
    arrays['encoder.blks.0.ffn.dense1.weight'] = np.zeros((7, 16))
    del arrays['nsp.output.bias']
    arrays['encoder.blks.0.attention.extra'] = np.zeros(3)
    msg = bad_load(tmp_path, monkeypatch, raw=saved_bytes(tmp_path, arrays))
    assert 'encoder.blks.0.ffn.dense1.weight (7, 16) -> (32, 16)' in msg
    assert re.search(r'missing.*\n\s+nsp\.output\.bias \(2,\)', msg)
    assert re.search(r'not in the model.*\n\s+encoder\.blks\.0\.attention\.extra \(3,\)', msg)
    assert 'BERT_CONFIGS' in msg


def test_pytorch_names_are_reported_as_unexpected(tmp_path, monkeypatch):
    arrays = {k.replace('.gamma', '.weight'): p.data()
              for k, p in params_of(tiny_bert(len(small_vocab()))).items()}
    msg = bad_load(tmp_path, monkeypatch, raw=saved_bytes(tmp_path, arrays))
    assert re.search(r'missing.*\n\s+encoder\.blks\.0\.addnorm1\.ln\.gamma \(16,\)', msg)
    assert re.search(r'not in the model.*\n(\s+.*\n)*\s+encoder\.blks\.0\.addnorm1\.ln\.weight',
                     msg)


def test_wrong_hyperparameters_name_the_blocks(tmp_path, monkeypatch):
    msg = bad_load(tmp_path, monkeypatch, num_blks=3)
    assert 'encoder.blks.2.attention.W_q.weight (16, 16)' in msg and 'num_blks' in msg
    msg = bad_load(tmp_path, monkeypatch, max_len=64)
    assert 'encoder.pos_embedding (1, 32, 16) -> (1, 64, 16)' in msg


def test_vocabulary_of_wrong_size(tmp_path, monkeypatch):
    tokens = small_vocab().idx_to_token + ['extra']
    msg = bad_load(tmp_path, monkeypatch, tokens=tokens)
    n = len(tokens)
    assert f'embeds {n - 1} tokens but the model was built for a vocabulary of {n}' in msg
    assert 'vocab_size=len(vocab)' in msg and 'different checkpoints' in msg


# --- data --------------------------------------------------------------------------------------

def book_packing(premise, hypothesis, vocab, max_len):
    p, h = premise.lower().split(), hypothesis.lower().split()
    text.truncate_pair_of_tokens(p, h, max_len)
    tokens, segments = d2l.get_tokens_and_segments(p, h)
    pad = max_len - len(tokens)
    return vocab[tokens] + [vocab['<pad>']] * pad, segments + [0] * pad, len(tokens)


def test_dataset_equals_the_books_list_packing(capsys):
    vocab, max_len = small_vocab(), 16
    data = random_pairs(200, seed=1)
    dataset = d2l.SNLIBERTDataset(data, max_len, vocab)
    assert capsys.readouterr().out == 'read 200 examples\n'
    assert len(dataset) == 200
    tokens, segments = onp.asarray(dataset.all_token_ids), onp.asarray(dataset.all_segments)
    valid_lens, labels = onp.asarray(dataset.valid_lens), onp.asarray(dataset.labels)
    truncated = 0
    for i, (p, h, label) in enumerate(zip(*data)):
        want_tokens, want_segments, want_len = book_packing(p, h, vocab, max_len)
        assert tokens[i].tolist() == want_tokens and segments[i].tolist() == want_segments
        assert valid_lens[i] == want_len and labels[i] == label
        truncated += len(p.split()) + len(h.split()) > max_len - 3
    assert truncated > 20  # the check covered truncated pairs
    (t, s, v), y = dataset[3]
    assert t.tolist() == tokens[3].tolist() and s.tolist() == segments[3].tolist()
    assert int(v) == valid_lens[3] and int(y) == labels[3]


def test_dataset_without_vocab_builds_one():
    dataset = d2l.SNLIBERTDataset(random_pairs(100, seed=2), 16)
    assert dataset.vocab.idx_to_token[:5] == ['<unk>'] + RESERVED
    assert 'dog' in dataset.vocab.token_to_idx and 'Dog' not in dataset.vocab.token_to_idx


def test_trim_batch_accepts_batches_and_lists_of_examples():
    dataset = d2l.SNLIBERTDataset(random_pairs(10, seed=3, max_words=3), 32, small_vocab())
    (tokens, segments, valid_lens), labels = d2l.trim_batch(dataset[[0, 1, 2]])
    assert tokens.dtype == segments.dtype == onp.int64
    assert tokens.shape == segments.shape == (3, int(valid_lens.max()))
    assert tokens.shape[1] < 32
    stacked = d2l.trim_batch([dataset[0], dataset[1], dataset[2]])
    for a, b in zip(stacked[0], (tokens, segments, valid_lens)):
        assert a.tolist() == b.tolist()
    assert stacked[1].tolist() == labels.tolist()


def test_trimmed_batches_give_the_same_logits_as_full_padding():
    vocab, max_len = small_vocab(), 32
    dataset = d2l.SNLIBERTDataset(random_pairs(50, seed=4), max_len, vocab)
    net = d2l.BERTClassifier(tiny_bert(len(vocab), max_len=max_len))
    (tokens, segments, valid_lens), _ = dataset[list(range(50))]
    full = net((np.array(tokens, dtype='int64'), np.array(segments, dtype='int64'),
                np.array(valid_lens))).asnumpy()
    assert full.shape == (50, 3) and tokens.shape[1] == max_len  # every pair padded to max_len
    batches = list(d2l.load_snli_batches(dataset, 8, shuffle=False))
    trimmed = onp.concatenate([net(X).asnumpy() for X, _ in batches])
    assert max(X[0].shape[1] for X, _ in batches) < max_len  # the batches were trimmed
    onp.testing.assert_allclose(trimmed, full, atol=1e-5, rtol=0)


def test_shuffled_batches_cover_the_data_and_follow_the_mxnet_seed():
    pairs = random_pairs(40, seed=5)
    dataset = d2l.SNLIBERTDataset((pairs[0], pairs[1], list(range(40))), 32, small_vocab())

    def epochs(seed):
        mx.random.seed(seed)
        loader = d2l.load_snli_batches(dataset, 8, shuffle=True)
        return [[y.tolist() for _, y in loader] for _ in range(2)]

    first, second = epochs(0)
    assert sorted(y for b in first for y in b) == list(range(40))
    assert sorted(y for b in second for y in b) == list(range(40))
    assert first != second  # new batches every epoch
    assert epochs(0) == [first, second] and epochs(1) != [first, second]


def test_batches_are_of_similar_length():
    dataset = d2l.SNLIBERTDataset(random_pairs(400, seed=6), 32, small_vocab())
    mx.random.seed(0)
    widths = [X[0].shape[1] for X, _ in d2l.load_snli_batches(dataset, 16, shuffle=True)]
    padded = [X[0].shape[1] for X, _ in d2l.load_snli_batches(dataset, 16, shuffle=False)]
    assert sum(widths) < 0.9 * sum(padded)


# --- training ----------------------------------------------------------------------------------

def test_accuracy_is_a_rate():
    y_hat = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    y = np.array([1, 0, 0, 0], dtype='int32')
    assert d2l.num_correct(y_hat, y) == 3
    assert d2l.accuracy(y_hat, y) == 0.75


def toy_task(n, seed):
    """The label is the premise's first word (man / dog / park): easy to learn."""
    rng = onp.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    key = onp.array(['man', 'dog', 'park'])[labels]
    premises = [f'{k} ' + ' '.join(rng.choice(WORDS[:5], size=rng.integers(1, 6))) for k in key]
    hypotheses = [' '.join(rng.choice(WORDS[5:], size=rng.integers(1, 6))) for _ in range(n)]
    return premises, hypotheses, labels.tolist()


def toy_setup(n, batch_size, lr=1e-2, seed=0, optimizer='adam', devices=CPU, dropout=0.1):
    vocab = small_vocab()
    train = d2l.SNLIBERTDataset(toy_task(n, seed), 32, vocab)
    test = d2l.SNLIBERTDataset(toy_task(64, seed + 100), 32, vocab)
    net = d2l.BERTClassifier(tiny_bert(len(vocab), seed=seed, dropout=dropout, ctx=devices))
    trainer = gluon.Trainer(net.collect_params(), optimizer, {'learning_rate': lr})
    return (net, d2l.load_snli_batches(train, batch_size, shuffle=True),
            d2l.load_snli_batches(test, 32, shuffle=False), trainer)


LOSS = gluon.loss.SoftmaxCrossEntropyLoss()


@pytest.mark.parametrize('n, num_batches', [(5, 1), (9, 2), (20, 3), (25, 4)])
def test_train_ch13_with_few_batches(n, num_batches, capsys):
    net, train_iter, test_iter, trainer = toy_setup(n, batch_size=8)
    assert len(train_iter) == num_batches
    results = d2l.train_ch13(net, train_iter, test_iter, LOSS, trainer, 2, CPU)
    assert set(results) == {'loss', 'train_acc', 'test_acc', 'examples_per_sec'}
    assert results['loss'] > 0 and results['examples_per_sec'] > 0
    assert 0 <= results['train_acc'] <= 1 and 0 <= results['test_acc'] <= 1
    out = capsys.readouterr().out
    assert re.search(r'loss \d+\.\d{3}, train acc [01]\.\d{3}, test acc [01]\.\d{3}\n', out)
    assert re.search(r"\d+\.\d examples/sec on \['cpu\(0\)'\]", out)


def test_train_ch13_learns_a_toy_task(capsys):
    net, train_iter, test_iter, trainer = toy_setup(96, batch_size=16)
    first = d2l.train_ch13(net, train_iter, test_iter, LOSS, trainer, 1, CPU)
    later = d2l.train_ch13(net, train_iter, test_iter, LOSS, trainer, 6, CPU)
    assert later['loss'] < 0.5 * first['loss']
    assert later['test_acc'] > 0.9


def test_train_ch13_needs_an_epoch():
    net, train_iter, test_iter, trainer = toy_setup(8, batch_size=8)
    with pytest.raises(ValueError, match='at least one epoch'):
        d2l.train_ch13(net, train_iter, test_iter, LOSS, trainer, 0, CPU)


def test_train_ch13_refuses_devices_the_model_is_not_on():
    net, train_iter, test_iter, trainer = toy_setup(8, batch_size=8)
    with pytest.raises(ValueError, match=r'model is on \[cpu\(0\)\].*cpu\(1\)'):
        d2l.train_ch13(net, train_iter, test_iter, LOSS, trainer, 1, [mx.cpu(1)])


def snapshot(net):
    return {k: p.data().asnumpy().copy() for k, p in params_of(net).items()}


@pytest.mark.parametrize('n', [8, 13])  # 13: a full batch of 8 and a short one of 5
def test_each_step_follows_the_mean_loss_over_its_batch(n):
    """SGD with lr 1 moves the parameters by minus the gradient of the batch's mean loss."""
    net, train_iter, _, trainer = toy_setup(n, batch_size=8, lr=1.0, optimizer='sgd',
                                            dropout=0.0)
    for X, y in train_iter:
        before = snapshot(net)
        with autograd.record():
            mean = LOSS(net(X), y).mean()
        mean.backward()
        grads = {k: p.grad().asnumpy().copy() for k, p in params_of(net).items()}
        loss_sum, _ = d2l.train_batch_ch13(net, X, y, LOSS, trainer, CPU)
        assert loss_sum == pytest.approx(float(mean) * len(y), rel=1e-5)
        after = snapshot(net)
        for k in before:
            onp.testing.assert_allclose(before[k] - after[k], grads[k], atol=1e-6, err_msg=k)


def test_mean_and_per_example_losses_train_alike():
    results = []
    for loss in (LOSS, lambda y_hat, y: LOSS(y_hat, y).mean()):
        net, train_iter, test_iter, trainer = toy_setup(24, batch_size=8)
        mx.random.seed(3)
        results.append(d2l.train_ch13(net, train_iter, test_iter, loss, trainer, 1, CPU))
    assert results[0]['loss'] == pytest.approx(results[1]['loss'], rel=1e-5)


def test_several_devices_train_like_one():
    # Two CPU contexts stand in for two GPUs: each gets a slice of every batch, the
    # gradients are added up and divided by the whole batch size.
    runs = []
    for devices in (CPU, [mx.cpu(0), mx.cpu(1)]):
        net, train_iter, _, trainer = toy_setup(19, batch_size=8, optimizer='sgd', lr=0.5,
                                                devices=devices, dropout=0.0)
        mx.random.seed(7)
        for X, y in train_iter:  # the last batch has 3 examples
            d2l.train_batch_ch13(net, X, y, LOSS, trainer, devices)
        runs.append(snapshot(net))
    for k in runs[0]:
        onp.testing.assert_allclose(runs[0][k], runs[1][k], atol=1e-5, err_msg=k)


def test_a_batch_smaller_than_the_device_count():
    # One example, two devices: the spare device works on a copy that counts 0, so both
    # replicas get the same update as on one device.
    two = [mx.cpu(0), mx.cpu(1)]
    X = (np.array([[5, 6, 7, 8]], dtype='int32'), np.array([[0, 0, 1, 1]], dtype='int32'),
         np.array([4], dtype='int32'))
    y = np.array([1], dtype='int32')
    runs = []
    for devices in (CPU, two):
        net, _, _, trainer = toy_setup(8, batch_size=8, optimizer='sgd', lr=0.5,
                                       devices=devices, dropout=0.0)
        loss_sum, correct = d2l.train_batch_ch13(net, X, y, LOSS, trainer, devices)
        runs.append((loss_sum, correct, snapshot(net)))
        for k, p in params_of(net).items():
            assert all(onp.array_equal(d.asnumpy(), p.data(devices[0]).asnumpy())
                       for d in p.list_data()), k
    (loss1, correct1, one), (loss2, correct2, both) = runs
    assert loss1 == pytest.approx(loss2, rel=1e-6) and correct1 == correct2 <= 1
    for k in one:
        onp.testing.assert_allclose(one[k], both[k], atol=1e-6, err_msg=k)


def test_every_encoder_parameter_gets_a_gradient():
    net, train_iter, _, _ = toy_setup(16, batch_size=16)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.0})
    X, y = next(iter(train_iter))
    d2l.train_batch_ch13(net, X, y, LOSS, trainer, CPU)
    for name, p in params_of(net).items():
        assert float(np.abs(p.grad()).sum()) > 0, name


def test_evaluation_has_no_dropout_even_in_train_mode():
    net, _, test_iter, _ = toy_setup(8, batch_size=8, dropout=0.5)
    X, _ = next(iter(test_iter))
    vocab, pair = small_vocab(), ('a man runs', 'a dog sleeps')
    with autograd.train_mode():  # where dropout applies, as inside autograd.record()
        assert not (net(X) == net(X)).all()  # so two passes differ
        first = d2l.evaluate_accuracy_gpu(net, test_iter)
        probs, labels = d2l.predict_probs(net, test_iter)
        assert 0 <= first <= 1 and first == (probs.argmax(1) == labels).mean()
        assert d2l.evaluate_accuracy_gpu(net, test_iter) == first
        assert (d2l.predict_probs(net, test_iter)[0] == probs).all()  # no dropout noise
        assert d2l.predict_snli(net, vocab, *pair)[1] == d2l.predict_snli(net, vocab, *pair)[1]
    with pytest.raises(ValueError, match='no examples'):
        d2l.evaluate_accuracy_gpu(net, [])


def test_predict_snli():
    vocab = small_vocab()
    net = d2l.BERTClassifier(tiny_bert(len(vocab)))
    label, probs = d2l.predict_snli(net, vocab, 'A man sits on the grass .', 'a man sits .')
    assert label in d2l.LABELS and list(probs) == d2l.LABELS
    assert sum(probs.values()) == pytest.approx(1, abs=1e-6)
    assert probs[label] == max(probs.values())
    long = ' '.join(['dog'] * 100)
    assert d2l.predict_snli(net, vocab, long, long, max_len=32)[0] in d2l.LABELS


def test_predict_snli_names_the_words_it_does_not_know(capsys):
    vocab = small_vocab()
    net = d2l.BERTClassifier(tiny_bert(len(vocab)))
    d2l.predict_snli(net, vocab, 'a man sits on the grass .', 'a man sits .')
    assert capsys.readouterr().out == ''
    d2l.predict_snli(net, vocab, 'A zebra sits on the grass .', 'a Zebra naps !')
    assert capsys.readouterr().out == 'not in the vocabulary, read as <unk>: zebra, naps, !\n'


# ---------------------------------------------------------------------------------------------
# Pretraining BERT (the same checks as in test_torch.py)

WIKI = ['the dog runs on the grass .', 'a man sits in the park .', 'the man is on the grass .',
        'a dog sits .', 'the park is green .']
TINY_BERT = {'num_hiddens': 16, 'ffn_num_hiddens': 32, 'num_heads': 2, 'num_blks': 2,
             'dropout': 0.0, 'max_len': 64}


def wiki_folder(tmp_path, lines=400):
    rng = onp.random.default_rng(0)
    text_lines = [' ' + ' '.join(rng.choice(WIKI, rng.integers(2, 5))) + ' \n'
                  for _ in range(lines)]
    (tmp_path / 'wiki.train.tokens').write_text(' = Title = \n' + ''.join(text_lines))
    return tmp_path


def pretraining_bert(vocab_size):
    mx.random.seed(0)
    net = d2l.BERTModel(vocab_size, **TINY_BERT)
    net.initialize(init.Xavier(), ctx=CPU)
    return net


def test_pretraining_batches_and_the_loss_ignore_padded_predictions(tmp_path):
    paragraphs, foils = d2l._read_wiki(wiki_folder(tmp_path))
    dataset = d2l._WikiTextDataset(paragraphs, 64, foils, rng=0)
    batch = d2l._trim_bert_batch(dataset[list(range(32))])
    tokens, _, valid_lens, _, weights, labels, nsp = batch
    assert tokens.shape[1] == int(valid_lens.max()) and tokens.dtype == onp.int64
    net = pretraining_bert(len(dataset.vocab))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    mlm_l, nsp_l, l = d2l._get_batch_loss_bert(net, loss, len(dataset.vocab), *batch)
    _, mlm_Y_hat, nsp_Y_hat = net(*batch[:4])
    real = weights.asnumpy() > 0
    per_pred = loss(mlm_Y_hat.reshape(-1, len(dataset.vocab)), labels.reshape(-1)).asnumpy()
    assert onp.isclose(float(mlm_l), per_pred[real.reshape(-1)].mean(), rtol=1e-5)
    assert onp.isclose(float(nsp_l), float(loss(nsp_Y_hat, nsp).mean()), rtol=1e-5)
    assert onp.isclose(float(l), float(mlm_l) + float(nsp_l), rtol=1e-5)


def test_train_bert_lowers_the_mlm_loss_and_needs_steps(tmp_path):
    paragraphs, foils = d2l._read_wiki(wiki_folder(tmp_path))
    dataset = d2l._WikiTextDataset(paragraphs, 64, foils, rng=0)
    batches = [d2l._trim_bert_batch(dataset[list(range(i, i + 64))])
               for i in range(0, len(dataset) - 64, 64)]
    net = pretraining_bert(len(dataset.vocab))
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    with pytest.raises(ValueError, match='at least one step'):
        d2l.train_bert(batches, net, loss, len(dataset.vocab), CPU, 0)
    losses = d2l.train_bert(batches, net, loss, len(dataset.vocab), CPU, 30, lr=1e-2,
                            warmup_steps=3)
    assert len(losses['mlm']) == len(losses['nsp']) == 30
    assert onp.mean(losses['mlm'][-5:]) < onp.mean(losses['mlm'][:5]) - 0.5
    with pytest.raises(ValueError, match='no batches'):
        d2l.train_bert([], net, loss, len(dataset.vocab), CPU, 1)


class EchoBERT(gluon.nn.Block):
    """Predicts at each picked position the token that is there, and "is next" for a pair of
    even valid length: a model whose every prediction a test can work out by hand."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.unused = self.params.get('unused', shape=(1,))

    def forward(self, tokens, segments, valid_lens, pred_positions):
        rows = np.arange(len(tokens)).reshape(-1, 1)
        mlm_Y_hat = npx.one_hot(tokens[rows, pred_positions], self.vocab_size)
        return None, mlm_Y_hat, npx.one_hot((valid_lens % 2 == 0).astype('int64'), 2)


def test_evaluate_pretraining_counts_real_predictions_over_all_batches():
    tokens = np.array([[3, 5, 6, 4, 0], [3, 7, 8, 4, 0]], dtype='int64')
    # Row 0: two real predictions, 5 right and 6 wrong; row 1: 7 wrong, then a padded
    # prediction at position 0 whose label happens to be right (it must not count)
    first = (tokens, np.zeros_like(tokens), np.array([4, 4], dtype='int32'),
             np.array([[1, 2], [1, 0]], dtype='int64'), np.array([[1., 1.], [1., 0.]]),
             np.array([[5, 9], [9, 3]], dtype='int64'), np.array([1, 0], dtype='int64'))
    second = (np.array([[3, 5, 4]], dtype='int64'), np.zeros((1, 3), dtype='int64'),
              np.array([3], dtype='int32'), np.array([[1]], dtype='int64'), np.array([[1.]]),
              np.array([[5]], dtype='int64'), np.array([0], dtype='int64'))
    net = EchoBERT(10)
    net.initialize(ctx=CPU)
    mlm_acc, nsp_acc = d2l.evaluate_pretraining(net, [first, second])
    # 2 of 4 real predictions (counting padding: 3 of 5; a mean of batch means: 2/3)
    assert mlm_acc == 0.5 and nsp_acc == 2 / 3
    with pytest.raises(ValueError, match='no examples'):
        d2l.evaluate_pretraining(net, [])


def test_load_wiki_batches_serves_a_dataset_of_ones_own(tmp_path):
    paragraphs, foils = d2l._read_wiki(wiki_folder(tmp_path))
    dataset = d2l._WikiTextDataset(paragraphs, 64, foils, rng=0)
    dataset.nsp_labels = onp.ones_like(dataset.nsp_labels)  # an edit the batches must show
    batches = list(d2l.load_wiki_batches(dataset, 32, shuffle=False))
    assert sum(len(b[0]) for b in batches) == len(dataset)
    assert all(b[0].shape[1] == int(b[2].max()) and (b[6] == 1).all() for b in batches)
    mx.random.seed(0)
    a = [b[2].tolist() for b in d2l.load_wiki_batches(dataset, 32, shuffle=True)]
    mx.random.seed(0)
    assert a == [b[2].tolist() for b in d2l.load_wiki_batches(dataset, 32, shuffle=True)]


def test_device_of_and_to_device():
    net = pretraining_bert(len(small_vocab()))
    assert d2l.device_of(net) == CPU[0]
    batch = d2l.to_device([np.zeros(2), np.ones(3)], d2l.device_of(net))
    assert isinstance(batch, list) and all(x.ctx == CPU[0] for x in batch)
    assert d2l.to_device(np.zeros(2), CPU[0]).ctx == CPU[0]


def test_train_bert_needs_the_model_on_the_training_device_alone(tmp_path):
    net = pretraining_bert(10)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    with pytest.raises(ValueError, match='initialize it with ctx=gpu'):
        d2l.train_bert([], net, loss, 10, [mx.gpu(0)], 1)


def test_bert_encoding_depends_on_the_sentence():
    vocab = small_vocab()
    net = pretraining_bert(len(vocab))
    alone = d2l.get_bert_encoding(net, vocab, ['a', 'dog', 'runs'])
    pair = d2l.get_bert_encoding(net, vocab, ['a', 'dog', 'sits'], ['the', 'man'])
    assert alone.shape == (1, 5, 16) and pair.shape == (1, 8, 16)
    assert not onp.allclose(alone[0, 2].asnumpy(), pair[0, 2].asnumpy())


def test_a_saved_model_loads_back_here_and_in_another_session(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    monkeypatch.setattr(d2l, 'DATA_HUB', dict(d2l.DATA_HUB))
    monkeypatch.setattr(d2l.checkpoints, 'BERT_CONFIGS', dict(d2l.BERT_CONFIGS))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))  # the learner's own folder
    vocab = small_vocab()
    net = pretraining_bert(len(vocab))
    path = d2l.save_pretrained_model(net, vocab, 'bert.test', TINY_BERT)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ['bert.test/vocab.json', 'bert.test/pretrained.params']
    bert, vocab2 = d2l.load_pretrained_model('bert.test', **TINY_BERT, devices=CPU)
    assert vocab2.idx_to_token == vocab.idx_to_token
    X = (np.array([[3, 5, 6, 4]]), np.zeros((1, 4), dtype='int64'), np.array([4]))
    assert onp.array_equal(bert(*X)[0].asnumpy(), net(*X)[0].asnumpy())
    del d2l.DATA_HUB['bert.test'], d2l.checkpoints.BERT_CONFIGS['bert.test']
    # in the learner's own folder, with its unpacked copy: nothing in the data folder
    assert str(path).startswith(str(tmp_path / 'cache')) and not list(tmp_path.glob('bert.test*'))
    d2l.register_saved_model('bert.test')  # as the NLI notebook does in a new session
    assert d2l.checkpoints.BERT_CONFIGS['bert.test'] == TINY_BERT
    assert d2l.DATA_HUB['bert.test'][1] == d2l.hub.sha1_of(path)
    again, vocab3 = d2l.load_pretrained_model('bert.test', **TINY_BERT, devices=CPU)
    assert vocab3.idx_to_token == vocab.idx_to_token
    expected = {k: p.data().asnumpy() for k, p in params_of(net).items()}
    got = {k: p.data().asnumpy() for k, p in params_of(again).items()}
    assert list(got) == list(expected)
    assert all(onp.array_equal(got[k], expected[k]) for k in expected)
