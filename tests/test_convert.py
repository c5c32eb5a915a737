"""d2lmini.convert: one checkpoint, two formats. The same weights give the same outputs in
PyTorch and MXNet, and conversion is lossless both ways."""
import hashlib
import io
import json
import os
import zipfile

import numpy as onp
import pytest

from d2lmini.mxnet_compat import mxnet_problem

if mxnet_problem():
    pytest.skip(f'MXNet track skipped: {mxnet_problem()}', allow_module_level=True)

import torch  # before d2lmini.mxnet, which then keeps PyTorch's thread count

from d2lmini import convert
from d2lmini import mxnet as d2l_mx
from d2lmini import torch as d2l_torch

np = d2l_mx.np  # MXNet's numpy

DATA = os.path.join(os.path.dirname(convert.__file__), 'data')
TOKENS = ['<unk>', '<pad>', '<mask>', '<cls>', '<sep>'] + [f'w{i}' for i in range(25)]
CONFIG = {'num_hiddens': 16, 'ffn_num_hiddens': 24, 'num_heads': 2, 'dropout': 0.1, 'max_len': 20}


def torch_bert(num_blks=2, seed=0):
    torch.manual_seed(seed)
    return d2l_torch.BERTModel(len(TOKENS), num_blks=num_blks, **CONFIG).eval()


def torch_zip(tmp_path, net, name='bert.test'):
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    path = tmp_path / f'{name}.torch.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr(f'{name}.torch/vocab.json', json.dumps(TOKENS))
        zf.writestr(f'{name}.torch/pretrained.params', buf.getvalue())
    return str(path)


def gluon_bert_from(zip_path, tmp_path, num_blks=2):
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / 'unzipped')
    folder = tmp_path / 'unzipped' / os.path.basename(zip_path)[:-len('.zip')]
    net = d2l_mx.BERTModel(len(TOKENS), num_blks=num_blks, **CONFIG)
    d2l_mx.load_bert_params(net, str(folder / 'pretrained.params'))
    return net


def torch_state(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        [params] = [n for n in zf.namelist() if n.endswith('/pretrained.params')]
        return torch.load(io.BytesIO(zf.read(params)), weights_only=True)


# --- the name table ----------------------------------------------------------------------------

@pytest.mark.parametrize('num_blks, count', [(2, 45), (12, 205)])
def test_name_table_maps_every_parameter_both_ways(num_blks, count):
    torch_net = d2l_torch.BERTModel(len(TOKENS), num_blks=num_blks, **CONFIG)
    gluon_net = d2l_mx.BERTModel(len(TOKENS), num_blks=num_blks, **CONFIG)
    torch_shapes = {k: tuple(v.shape) for k, v in torch_net.state_dict().items()}
    gluon_shapes = {k: tuple(p.shape) for k, p in gluon_net._collect_params_with_prefix().items()}
    assert len(torch_shapes) == len(gluon_shapes) == count
    # the same order and shapes in both files
    assert [convert.torch_to_gluon_name(k) for k in torch_shapes] == list(gluon_shapes)
    assert [convert.gluon_to_torch_name(k) for k in gluon_shapes] == list(torch_shapes)
    for key, shape in torch_shapes.items():
        assert gluon_shapes[convert.torch_to_gluon_name(key)] == shape


def test_the_renamed_parameters():
    assert convert.torch_to_gluon_name('encoder.blks.11.addnorm2.ln.weight') == \
        'encoder.blks.11.addnorm2.ln.gamma'
    assert convert.torch_to_gluon_name('hidden.0.bias') == 'hidden.bias'
    assert convert.torch_to_gluon_name('mlm.mlp.2.weight') == 'mlm.mlp.1.gamma'
    assert convert.torch_to_gluon_name('mlm.mlp.3.weight') == 'mlm.mlp.2.weight'
    assert convert.gluon_to_torch_name('mlm.mlp.2.bias') == 'mlm.mlp.3.bias'
    assert convert.gluon_to_torch_name('mlm.mlp.1.beta') == 'mlm.mlp.2.bias'


@pytest.mark.parametrize('name', ['encoder.blks.x.ffn.dense1.weight', 'mlm.mlp.1.weight',
                                  'hidden.weight.extra', 'encoder.blks.0.addnorm1.ln.gamma'])
def test_unknown_torch_names_are_refused(name):
    with pytest.raises(ValueError, match='NAME_TABLE'):
        convert.torch_to_gluon_name(name)


def test_unknown_gluon_names_are_refused():
    with pytest.raises(ValueError, match='not a Gluon parameter name'):
        convert.gluon_to_torch_name('hidden.0.weight')


# --- parity and round trips ------------------------------------------------------------------

def inputs(seed=0):
    rng = onp.random.default_rng(seed)
    tokens = rng.integers(0, len(TOKENS), (4, 13))
    segments = (onp.arange(13) >= rng.integers(3, 8, (4, 1))).astype('int64')
    valid_lens = onp.array([13, 9, 4, 6])
    positions = rng.integers(1, 4, (4, 3))
    return tokens, segments, valid_lens, positions


@pytest.mark.parametrize('num_blks', [2, 12])
def test_same_checkpoint_same_outputs_in_both_frameworks(tmp_path, num_blks):
    net = torch_bert(num_blks)
    gluon_zip = convert.write_gluon_zip(torch_zip(tmp_path, net), str(tmp_path))
    gluon = gluon_bert_from(gluon_zip, tmp_path, num_blks)
    tokens, segments, valid_lens, positions = inputs()
    with torch.no_grad():  # eval mode: no dropout
        t_enc, t_mlm, t_nsp = net(*map(torch.tensor, (tokens, segments, valid_lens, positions)))
        t_hidden = net.hidden(t_enc[:, 0, :])
    g_enc, g_mlm, g_nsp = gluon(*map(np.array, (tokens, segments, valid_lens, positions)))
    g_hidden = gluon.hidden(g_enc[:, 0, :])
    for t, g in [(t_enc, g_enc), (t_hidden, g_hidden), (t_nsp, g_nsp), (t_mlm, g_mlm)]:
        onp.testing.assert_allclose(g.asnumpy(), t.numpy(), atol=1e-5, rtol=0)


def test_torch_to_mxnet_to_torch_is_exact(tmp_path):
    net = torch_bert()
    original = torch_zip(tmp_path, net)
    back_dir = tmp_path / 'back'
    back_dir.mkdir()
    back = convert.write_torch_zip(convert.write_gluon_zip(original, str(tmp_path)),
                                   str(back_dir))
    assert os.path.basename(back) == 'bert.test.torch.zip'
    state, expected = torch_state(back), net.state_dict()
    assert list(state) == list(expected)
    for key in expected:
        assert state[key].dtype == expected[key].dtype and torch.equal(state[key], expected[key])
    with zipfile.ZipFile(back) as zf:
        assert json.loads(zf.read('bert.test.torch/vocab.json')) == TOKENS
    # and it loads as a PyTorch checkpoint
    d2l_torch.load_bert_params(torch_bert(seed=1), _extract(back, tmp_path / 'x'))


def _extract(zip_path, folder):
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(folder)
        return str(folder / next(n for n in zf.namelist() if n.endswith('pretrained.params')))


def test_legacy_ndarray_checkpoint_converts_to_torch(tmp_path):
    # A Gluon file of MXNet's older ndarray API (no numpy semantics), as load_bert_params reads
    net = torch_bert()
    arrays = convert.torch_to_gluon({k: v.numpy() for k, v in net.state_dict().items()})
    mx = d2l_mx.mx
    with mx.util.np_array(False), mx.util.np_shape(False):
        mx.nd.save(str(tmp_path / 'legacy.params'), {k: mx.nd.array(v, dtype=v.dtype)
                                                     for k, v in arrays.items()})
    legacy = tmp_path / 'bert.test.zip'
    with zipfile.ZipFile(legacy, 'w') as zf:
        zf.writestr('bert.test/vocab.json', json.dumps(TOKENS))
        zf.write(tmp_path / 'legacy.params', 'bert.test/pretrained.params')
    (tmp_path / 'pt').mkdir()
    state = torch_state(convert.write_torch_zip(str(legacy), str(tmp_path / 'pt')))
    for key, value in net.state_dict().items():
        assert torch.equal(state[key], value)


def test_conversion_is_reproducible(tmp_path):
    source = torch_zip(tmp_path, torch_bert())
    (tmp_path / 'again').mkdir()
    first = convert.write_gluon_zip(source, str(tmp_path))
    second = convert.write_gluon_zip(source, str(tmp_path / 'again'))
    with open(first, 'rb') as a, open(second, 'rb') as b:
        assert a.read() == b.read()


def test_wrong_direction_and_wrong_layout_are_refused(tmp_path):
    gluon_zip = convert.write_gluon_zip(torch_zip(tmp_path, torch_bert()), str(tmp_path))
    with pytest.raises(ValueError, match='use write_torch_zip'):
        convert.write_gluon_zip(gluon_zip, str(tmp_path))
    with pytest.raises(ValueError, match='use write_gluon_zip'):
        convert.write_torch_zip(torch_zip(tmp_path, torch_bert()), str(tmp_path))
    odd = tmp_path / 'odd.zip'
    with zipfile.ZipFile(odd, 'w') as zf:
        zf.writestr('odd/pretrained.params', b'')
    with pytest.raises(ValueError, match='not a BERT checkpoint zip'):
        convert.write_gluon_zip(str(odd), str(tmp_path))


def test_command_line_converts_both_ways(tmp_path, capsys):
    source = torch_zip(tmp_path, torch_bert())
    (tmp_path / 'mx').mkdir()
    convert.main([source, str(tmp_path / 'mx')])
    gluon_zip = tmp_path / 'mx' / 'bert.test.zip'
    assert f'wrote {gluon_zip}: sha1 ' in capsys.readouterr().out
    (tmp_path / 'pt').mkdir()
    convert.main([str(gluon_zip), str(tmp_path / 'pt')])
    assert (tmp_path / 'pt' / 'bert.test.torch.zip').exists()
    with pytest.raises(SystemExit, match='usage'):
        convert.main([source])


# --- the bundled checkpoint ------------------------------------------------------------------

def test_bundled_mxnet_checkpoint_is_the_converted_pytorch_one(tmp_path):
    converted = convert.write_gluon_zip(os.path.join(DATA, 'bert.mini.torch.zip'),
                                        str(tmp_path))
    with open(converted, 'rb') as a, open(os.path.join(DATA, 'bert.mini.zip'), 'rb') as b:
        data = b.read()
        assert a.read() == data
    assert hashlib.sha1(data).hexdigest() == d2l_mx.DATA_HUB['bert.mini'][1]


def test_bundled_checkpoint_gives_the_same_outputs_in_both_frameworks(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    config = d2l_torch.BERT_CONFIGS['bert.mini']
    t_bert, vocab = d2l_torch.load_pretrained_model('bert.mini', **config,
                                                    devices=[torch.device('cpu')])
    g_bert, g_vocab = d2l_mx.load_pretrained_model('bert.mini', **config,
                                                   devices=[d2l_mx.mx.cpu()])
    assert g_vocab.idx_to_token == vocab.idx_to_token
    premises = ['a man is playing a guitar on stage .', 'two dogs run through the snow .']
    hypotheses = ['a person plays music .', 'the animals are asleep indoors .']
    tokens, segments, valid_lens = d2l_torch.pack_pairs(premises, hypotheses, vocab, 24)
    with torch.no_grad():
        t_enc, _, t_nsp = t_bert(torch.tensor(tokens).long(), torch.tensor(segments).long(),
                                 torch.tensor(valid_lens))
        t_hidden = t_bert.hidden(t_enc[:, 0, :])
    g_enc, _, g_nsp = g_bert(np.array(tokens), np.array(segments), np.array(valid_lens))
    g_hidden = g_bert.hidden(g_enc[:, 0, :])
    for t, g in [(t_enc, g_enc), (t_hidden, g_hidden), (t_nsp, g_nsp)]:
        onp.testing.assert_allclose(g.asnumpy(), t.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize('num_blks', [2, 12])
def test_same_checkpoint_same_attention_weights_in_both_frameworks(tmp_path, num_blks):
    net = torch_bert(num_blks)
    gluon = gluon_bert_from(convert.write_gluon_zip(torch_zip(tmp_path, net), str(tmp_path)),
                            tmp_path, num_blks)
    tokens, segments, valid_lens, _ = inputs()
    with torch.no_grad():
        t_weights = net.encoder.attention_weights(
            *map(torch.tensor, (tokens, segments, valid_lens)))
    g_weights = gluon.encoder.attention_weights(*map(np.array, (tokens, segments, valid_lens)))
    assert len(t_weights) == len(g_weights) == num_blks
    for t, g in zip(t_weights, g_weights):
        onp.testing.assert_allclose(g.asnumpy(), t.numpy(), atol=1e-5, rtol=0)


def test_bundled_checkpoint_gives_the_same_attention_in_both_frameworks(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    config = d2l_torch.BERT_CONFIGS['bert.mini']
    t_bert, vocab = d2l_torch.load_pretrained_model('bert.mini', **config,
                                                    devices=[torch.device('cpu')])
    g_bert, _ = d2l_mx.load_pretrained_model('bert.mini', **config, devices=[d2l_mx.mx.cpu()])
    pair = ('a girl is sleeping in the morning .', 'a girl is swimming in the morning .')
    t_tokens, t_weights = d2l_torch.attention_weights(t_bert, vocab, *pair)
    g_tokens, g_weights = d2l_mx.attention_weights(g_bert, vocab, *pair)
    assert t_tokens == g_tokens and len(t_tokens) == 19
    assert t_weights.shape == g_weights.shape == (2, 4, 19, 19)
    onp.testing.assert_allclose(g_weights, t_weights, atol=1e-5, rtol=0)


def test_checkpoints_saved_by_either_pretraining_notebook_load_in_the_other(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    monkeypatch.setattr(d2l_torch, 'DATA_HUB', dict(d2l_torch.DATA_HUB))
    monkeypatch.setattr(d2l_mx, 'DATA_HUB', dict(d2l_mx.DATA_HUB))
    monkeypatch.setattr(d2l_torch.checkpoints, 'BERT_CONFIGS', dict(d2l_torch.BERT_CONFIGS))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))  # where checkpoints are saved
    config = dict(CONFIG, num_blks=2)
    vocab = d2l_torch.Vocab([TOKENS[5:]], reserved_tokens=TOKENS[1:5])
    (tmp_path / 'g').mkdir()
    (tmp_path / 't').mkdir()
    tokens = torch.tensor([[3, 5, 6, 7, 4, 8, 9, 4]])
    X = (tokens, torch.tensor([[0] * 5 + [1] * 3]), torch.tensor([8]))
    # PyTorch saves, convert writes the MXNet file, MXNet loads it: the same outputs
    t_net = torch_bert()
    t_zip = d2l_torch.save_pretrained_model(t_net, vocab, 'bert.a', config)
    g_zip = convert.write_gluon_zip(t_zip, tmp_path / 'g')
    d2l_mx.DATA_HUB['bert.a'] = (d2l_mx.hub.Path(g_zip).as_uri(), d2l_mx.hub.sha1_of(g_zip))
    g_net, _ = d2l_mx.load_pretrained_model('bert.a', **config, devices=[d2l_mx.mx.cpu()])
    with torch.no_grad():
        expected = t_net(*X)[0].numpy()
    got = g_net(*(np.array(x.numpy()) for x in X))[0].asnumpy()
    assert onp.allclose(got, expected, atol=1e-5)
    # and back: MXNet saves, convert writes the PyTorch file, PyTorch loads it
    g_zip2 = d2l_mx.save_pretrained_model(g_net, vocab, 'bert.b', config)
    t_zip2 = convert.write_torch_zip(g_zip2, tmp_path / 't')
    d2l_torch.DATA_HUB['bert.b'] = (d2l_mx.hub.Path(t_zip2).as_uri(), d2l_mx.hub.sha1_of(t_zip2))
    t_net2, _ = d2l_torch.load_pretrained_model('bert.b', **config, devices=[torch.device('cpu')])
    assert all(torch.equal(a, b) for a, b in zip(t_net2.state_dict().values(),
                                                 t_net.state_dict().values()))
