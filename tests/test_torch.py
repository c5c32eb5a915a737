import hashlib
import inspect
import io
import itertools
import json
import os
import re
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from d2lmini import text
from d2lmini import torch as d2l

RESERVED = ['<pad>', '<mask>', '<cls>', '<sep>']
WORDS = ['a', 'dog', 'man', 'runs', 'sits', 'the', 'park', 'is', 'on', 'grass', '.']
CPU = [torch.device('cpu')]


def small_vocab():
    return d2l.Vocab([WORDS], reserved_tokens=RESERVED)


def random_pairs(n, seed, max_words=12):
    rng = np.random.default_rng(seed)
    words = WORDS + ['Dog', 'zebra']  # upper case and an unknown word too

    def sentence():
        return ' '.join(rng.choice(words, size=rng.integers(1, max_words + 1)))

    return [sentence() for _ in range(n)], [sentence() for _ in range(n)], \
        rng.integers(0, 3, size=n).tolist()


def tiny_bert(vocab_size, num_blks=2, max_len=32, seed=0):
    torch.manual_seed(seed)
    return d2l.BERTModel(vocab_size, 16, 32, 2, num_blks, 0.1, max_len=max_len)


def expected_keys(num_blks, V, H, F, max_len):
    keys = [('encoder.pos_embedding', (1, max_len, H)),
            ('encoder.token_embedding.weight', (V, H)),
            ('encoder.segment_embedding.weight', (2, H))]
    for i in range(num_blks):
        b = f'encoder.blks.{i}.'
        for w in 'qkvo':
            keys += [(f'{b}attention.W_{w}.weight', (H, H)), (f'{b}attention.W_{w}.bias', (H,))]
        keys += [(f'{b}addnorm1.ln.weight', (H,)), (f'{b}addnorm1.ln.bias', (H,)),
                 (f'{b}ffn.dense1.weight', (F, H)), (f'{b}ffn.dense1.bias', (F,)),
                 (f'{b}ffn.dense2.weight', (H, F)), (f'{b}ffn.dense2.bias', (H,)),
                 (f'{b}addnorm2.ln.weight', (H,)), (f'{b}addnorm2.ln.bias', (H,))]
    keys += [('hidden.0.weight', (H, H)), ('hidden.0.bias', (H,)),
             ('mlm.mlp.0.weight', (H, H)), ('mlm.mlp.0.bias', (H,)),
             ('mlm.mlp.2.weight', (H,)), ('mlm.mlp.2.bias', (H,)),
             ('mlm.mlp.3.weight', (V, H)), ('mlm.mlp.3.bias', (V,)),
             ('nsp.output.weight', (2, H)), ('nsp.output.bias', (2,))]
    return keys


# --- names and hub ---------------------------------------------------------------------------

def test_all_lists_every_public_name_once():
    assert len(d2l.__all__) == len(set(d2l.__all__))
    for name in d2l.__all__:
        assert hasattr(d2l, name), name
    own = [n for n, obj in vars(d2l).items() if not n.startswith('_') and
           (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == d2l.__name__]
    assert set(own) <= set(d2l.__all__)


def test_data_hub_entries():
    assert d2l.DATA_HUB['bert.small'] == (
        d2l.DATA_URL + 'bert.small.torch.zip', 'c72329e68a732bef0452e4b96a1c341c8910f81f')
    assert d2l.DATA_HUB['bert.base'] == (
        d2l.DATA_URL + 'bert.base.torch.zip', '225d66f04cae318b841a13d32af3acc165f253ac')
    assert d2l.DATA_HUB['snli-mini'] == d2l.hub.DATA_HUB['snli-mini']
    assert set(d2l.BERT_CONFIGS) == {'bert.mini', 'bert.small', 'bert.base'}


def test_bundled_checkpoint_matches_its_sha1_and_loads(tmp_path, monkeypatch):
    sha1 = d2l.DATA_HUB['bert.mini'][1]
    path = os.path.join(os.path.dirname(d2l.__file__), 'data', 'bert.mini.torch.zip')
    with open(path, 'rb') as f:
        assert hashlib.sha1(f.read()).hexdigest() == sha1
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    bert, vocab = d2l.load_pretrained_model('bert.mini', **d2l.BERT_CONFIGS['bert.mini'],
                                            devices=CPU)
    assert not bert.training
    assert vocab.idx_to_token[:5] == ['<unk>'] + RESERVED
    # Fine-tuning must meet no unknown word: a rebuilt snli-mini needs a rebuilt checkpoint
    premises, hypotheses, _ = d2l.read_snli(d2l.download_extract('snli-mini'), is_train=True)
    words = {w for s in premises + hypotheses for w in s.lower().split()}
    assert words <= set(vocab.idx_to_token)


def test_devices_fall_back_to_cpu():
    if torch.cuda.is_available():
        pytest.skip('a GPU is present')
    assert d2l.try_gpu() == torch.device('cpu')
    assert d2l.try_all_gpus() == [torch.device('cpu')]
    assert d2l.get_dataloader_workers() == 0


# --- model -----------------------------------------------------------------------------------

@pytest.mark.parametrize('num_blks, count', [(2, 45), (12, 205)])
def test_state_dict_keys_and_shapes_match_the_book(num_blks, count):
    net = d2l.BERTModel(50, 16, 24, 2, num_blks, 0.1, max_len=40)
    got = [(k, tuple(v.shape)) for k, v in net.state_dict().items()]
    assert got == expected_keys(num_blks, 50, 16, 24, 40)
    assert len(got) == count


def test_attention_equals_the_books_masked_softmax():
    torch.manual_seed(0)
    att = d2l.MultiHeadAttention(16, 4, 0.5).eval()
    X = torch.randn(3, 7, 16)
    valid_lens = torch.tensor([7, 4, 1])

    def book(X):  # per head: softmax(QK^T / sqrt(d)) with masked keys set to -1e6
        def heads(Y):
            return Y.reshape(3, 7, 4, 4).permute(0, 2, 1, 3)
        q, k, v = heads(att.W_q(X)), heads(att.W_k(X)), heads(att.W_v(X))
        scores = q @ k.transpose(-1, -2) / 2
        masked = torch.arange(7)[None, None, None, :] >= valid_lens[:, None, None, None]
        weights = torch.softmax(scores.masked_fill(masked, -1e6), dim=-1)
        return att.W_o((weights @ v).permute(0, 2, 1, 3).reshape(3, 7, 16))

    with torch.no_grad():
        torch.testing.assert_close(att(X, X, X, valid_lens), book(X), atol=1e-6, rtol=1e-5)
        # No valid_lens: every key counts
        torch.testing.assert_close(att(X, X, X), att(X, X, X, torch.tensor([7, 7, 7])))


def direct_weights(att, queries, keys, valid_lens):
    """softmax(q k^T / sqrt(d)) per head in plain numpy, with the keys past valid_len left out."""
    def heads(Y, W):
        Y = Y.numpy() @ W.weight.detach().numpy().T + W.bias.detach().numpy()
        return Y.reshape(Y.shape[0], Y.shape[1], att.num_heads, -1).transpose(0, 2, 1, 3)

    q, k = heads(queries, att.W_q), heads(keys, att.W_k)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    valid = np.arange(k.shape[2]) < valid_lens.numpy()[:, None, None, None]
    e = np.where(valid, np.exp(scores - scores.max(-1, keepdims=True)), 0)
    return e / e.sum(-1, keepdims=True)


def test_attention_weights_equal_a_direct_computation():
    torch.manual_seed(0)
    att = d2l.MultiHeadAttention(16, 4, 0.5).train()  # weights never get dropout
    queries, keys = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    valid_lens = torch.tensor([7, 4, 1])
    with torch.no_grad():
        weights = att.weights(queries, keys, valid_lens)
    assert weights.shape == (3, 4, 5, 7)
    np.testing.assert_allclose(weights.numpy(), direct_weights(att, queries, keys, valid_lens),
                               atol=1e-6)
    for b, n in enumerate(valid_lens.tolist()):
        assert (weights[b, :, :, n:] == 0).all()  # masked keys: no weight at all
        torch.testing.assert_close(weights[b, :, :, :n].sum(-1), torch.ones(4, 5))
    torch.testing.assert_close(att.weights(queries, keys), att.weights(
        queries, keys, torch.tensor([7, 7, 7])))


def test_attention_weights_are_the_ones_forward_uses():
    torch.manual_seed(1)
    att = d2l.MultiHeadAttention(16, 4, 0.1).eval()
    X, valid_lens = torch.randn(2, 6, 16), torch.tensor([6, 3])
    with torch.no_grad():
        v = att.W_v(X).reshape(2, 6, 4, 4).transpose(1, 2)
        mixed = (att.weights(X, X, valid_lens) @ v).transpose(1, 2).reshape(2, 6, 16)
        torch.testing.assert_close(att.W_o(mixed), att(X, X, X, valid_lens), atol=1e-6,
                                   rtol=1e-5)


def test_encoder_attention_weights_come_from_each_blocks_own_input():
    vocab = small_vocab()
    bert = tiny_bert(len(vocab), num_blks=3).eval()
    tokens, segments, valid_lens = (torch.from_numpy(a) for a in d2l.pack_pairs(
        ['a man sits on the grass .', 'a dog'], ['the man sits', 'a dog runs .'], vocab, 12))
    tokens, segments = tokens.long(), segments.long()
    inputs = []
    hooks = [blk.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
             for blk in bert.encoder.blks]
    with torch.no_grad():
        weights = bert.encoder.attention_weights(tokens, segments, valid_lens)
        encoded = bert.encoder(tokens, segments, valid_lens)
    for hook in hooks:
        hook.remove()
    assert len(weights) == 3 and len(inputs) == 6  # attention_weights, then forward
    for i, blk in enumerate(bert.encoder.blks):
        torch.testing.assert_close(inputs[i], inputs[3 + i])  # the very pass of forward
        torch.testing.assert_close(weights[i], blk.attention.weights(
            inputs[i], inputs[i], valid_lens))
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
    assert isinstance(weights, np.ndarray) and weights.shape == (2, 2, 14, 14)
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)
    assert not net.training


def test_predict_probs_gives_every_example_in_order():
    net, _, test_iter, _ = toy_setup(8, batch_size=8)
    probs, labels = d2l.predict_probs(net, test_iter)
    assert probs.shape == (64, 3) and labels.shape == (64,)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert labels.tolist() == test_iter.dataset.labels.tolist()
    assert (probs.argmax(1) == labels).mean() == d2l.evaluate_accuracy_gpu(net, test_iter)
    X, _ = test_iter.dataset[[5]]
    with torch.no_grad():
        np.testing.assert_allclose(torch.softmax(net(d2l.trim_batch((X, None))[0]), 1)[0],
                                   probs[5], atol=1e-6)
    with pytest.raises(ValueError, match='no examples'):
        d2l.predict_probs(net, [])


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match='num_heads=3'):
        d2l.MultiHeadAttention(16, 3, 0.1)


def test_bert_forward_shapes_and_position_table_limit():
    net = tiny_bert(20, max_len=10).eval()
    tokens = torch.randint(0, 20, (2, 6))
    segments = torch.zeros(2, 6, dtype=torch.long)
    enc, mlm, nsp = net(tokens, segments, torch.tensor([6, 3]), torch.tensor([[1, 2, 3], [0, 1, 2]]))
    assert enc.shape == (2, 6, 16) and mlm.shape == (2, 3, 20) and nsp.shape == (2, 2)
    assert net(tokens, segments)[1] is None
    with pytest.raises(ValueError, match='position table has 10 rows'):
        net(torch.zeros(1, 11, dtype=torch.long), torch.zeros(1, 11, dtype=torch.long))


def test_dropout_only_in_training():
    net = tiny_bert(20)
    tokens, segments = torch.randint(0, 20, (2, 6)), torch.zeros(2, 6, dtype=torch.long)
    net.eval()
    assert torch.equal(net(tokens, segments)[0], net(tokens, segments)[0])
    net.train()
    assert not torch.equal(net(tokens, segments)[0], net(tokens, segments)[0])


# --- checkpoints -----------------------------------------------------------------------------

def write_checkpoint(tmp_path, monkeypatch, name, tokens, params=None, raw=None):
    """A book-layout zip <name>.torch/{vocab.json, pretrained.params} registered in DATA_HUB."""
    if raw is None:
        buf = io.BytesIO()
        torch.save(params, buf)
        raw = buf.getvalue()
    path = tmp_path / f'{name}.torch.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr(f'{name}.torch/vocab.json', json.dumps(tokens))
        zf.writestr(f'{name}.torch/pretrained.params', raw)
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    monkeypatch.setitem(d2l.DATA_HUB, name, (path.as_uri(), sha1))
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))


def config(num_blks=2):
    return {'num_hiddens': 16, 'ffn_num_hiddens': 32, 'num_heads': 2, 'num_blks': num_blks,
            'dropout': 0.1, 'max_len': 32}


@pytest.mark.parametrize('num_blks', [2, 12])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, monkeypatch, num_blks):
    vocab = small_vocab()
    bert = tiny_bert(len(vocab), num_blks).eval()
    write_checkpoint(tmp_path, monkeypatch, 'bert.test', vocab.idx_to_token, bert.state_dict())
    torch.manual_seed(1)  # a different initialization, so equal outputs prove the load
    loaded, loaded_vocab = d2l.load_pretrained_model('bert.test', **config(num_blks),
                                                     devices=CPU)
    assert loaded_vocab.idx_to_token == vocab.idx_to_token
    assert not loaded.training
    tokens, segments = torch.randint(0, len(vocab), (3, 9)), torch.randint(0, 2, (3, 9))
    valid_lens, positions = torch.tensor([9, 5, 3]), torch.tensor([[1, 2], [3, 1], [1, 1]])
    with torch.no_grad():
        for a, b in zip(bert(tokens, segments, valid_lens, positions),
                        loaded(tokens, segments, valid_lens, positions)):
            assert torch.equal(a, b)


def bad_load(tmp_path, monkeypatch, tokens=None, params=None, raw=None, **overrides):
    vocab = small_vocab()
    if params is None and raw is None:
        params = tiny_bert(len(vocab)).state_dict()
    write_checkpoint(tmp_path, monkeypatch, 'bert.bad', tokens or vocab.idx_to_token,
                     params, raw)
    with pytest.raises(ValueError) as err:
        d2l.load_pretrained_model('bert.bad', **{**config(), **overrides}, devices=CPU)
    return str(err.value)


def test_truncated_params_file(tmp_path, monkeypatch):
    buf = io.BytesIO()
    torch.save(tiny_bert(len(small_vocab())).state_dict(), buf)
    msg = bad_load(tmp_path, monkeypatch, raw=buf.getvalue()[:5000])
    assert 'truncated' in msg and 'download' in msg


def test_not_a_torch_file(tmp_path, monkeypatch):
    msg = bad_load(tmp_path, monkeypatch, raw=b'<html>not found</html>')
    assert 'cannot be read' in msg


def test_not_a_state_dict(tmp_path, monkeypatch):
    msg = bad_load(tmp_path, monkeypatch, params=[torch.zeros(2)])
    assert 'holds a list' in msg


class _Payload:
    """Pickles as a call to os.system: loading it without weights_only would run a command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_pickle_with_code_is_refused_and_not_run(tmp_path, monkeypatch):
    marker = tmp_path / 'code-was-run'
    params = dict(tiny_bert(len(small_vocab())).state_dict(), payload=_Payload(marker))
    msg = bad_load(tmp_path, monkeypatch, params=params)
    assert re.search(r'not a plain file of tensors: it refers to \w+\.system', msg)
    assert not marker.exists()


def test_wrong_shape_missing_and_unexpected_are_all_named(tmp_path, monkeypatch):
    params = tiny_bert(len(small_vocab())).state_dict()
    params['encoder.blks.0.ffn.dense1.weight'] = torch.zeros(7, 16)
    del params['nsp.output.bias']
    params['encoder.blks.0.attention.extra'] = torch.zeros(3)
    msg = bad_load(tmp_path, monkeypatch, params=params)
    assert 'encoder.blks.0.ffn.dense1.weight (7, 16) -> (32, 16)' in msg
    assert re.search(r'missing.*\n\s+nsp\.output\.bias \(2,\)', msg)
    assert re.search(r'not in the model.*\n\s+encoder\.blks\.0\.attention\.extra \(3,\)', msg)
    assert 'BERT_CONFIGS' in msg


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
    truncated = 0
    for i, (p, h, label) in enumerate(zip(*data)):
        (tokens, segments, valid_len), y = dataset[i]
        want_tokens, want_segments, want_len = book_packing(p, h, vocab, max_len)
        assert tokens.tolist() == want_tokens and segments.tolist() == want_segments
        assert int(valid_len) == want_len and int(y) == label
        truncated += len(p.split()) + len(h.split()) > max_len - 3
    assert truncated > 20  # the check covered truncated pairs


def test_dataset_without_vocab_builds_one():
    dataset = d2l.SNLIBERTDataset(random_pairs(100, seed=2), 16)
    assert dataset.vocab.idx_to_token[:5] == ['<unk>'] + RESERVED
    assert 'dog' in dataset.vocab.token_to_idx and 'Dog' not in dataset.vocab.token_to_idx


def test_trim_batch_accepts_batches_and_lists_of_examples():
    dataset = d2l.SNLIBERTDataset(random_pairs(10, seed=3, max_words=3), 32, small_vocab())
    (tokens, segments, valid_lens), labels = d2l.trim_batch(dataset[[0, 1, 2]])
    assert tokens.dtype == segments.dtype == torch.int64
    assert tokens.shape == segments.shape == (3, int(valid_lens.max()))
    stacked = d2l.trim_batch([dataset[0], dataset[1], dataset[2]])
    for a, b in zip(stacked[0], (tokens, segments, valid_lens)):
        assert torch.equal(a, b)
    assert torch.equal(stacked[1], labels)


def test_trimmed_batches_give_the_same_logits_as_full_padding():
    vocab, max_len = small_vocab(), 32
    dataset = d2l.SNLIBERTDataset(random_pairs(50, seed=4), max_len, vocab)
    net = d2l.BERTClassifier(tiny_bert(len(vocab), max_len=max_len)).eval()
    with torch.no_grad():
        (tokens, segments, valid_lens), _ = dataset[list(range(50))]
        full = net((tokens.long(), segments.long(), valid_lens))
        batches = list(d2l.load_snli_batches(dataset, 8, shuffle=False))
        trimmed = torch.cat([net(X) for X, _ in batches])
    assert max(X[0].shape[1] for X, _ in batches) < max_len  # the batches were trimmed
    torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=0)


def test_shuffled_batches_cover_the_data_and_follow_the_torch_seed():
    pairs = random_pairs(40, seed=5)
    dataset = d2l.SNLIBERTDataset((pairs[0], pairs[1], list(range(40))), 32, small_vocab())

    def epochs(seed):
        torch.manual_seed(seed)
        loader = d2l.load_snli_batches(dataset, 8, shuffle=True)
        return [[y.tolist() for _, y in loader] for _ in range(2)]

    first, second = epochs(0)
    for epoch in (first, second):
        assert sorted(itertools.chain(*epoch)) == list(range(40))
    assert first != second  # new batches every epoch
    assert epochs(0) == [first, second] and epochs(1) != [first, second]


def test_dataloader_with_spawned_worker():
    dataset = d2l.SNLIBERTDataset(random_pairs(20, seed=6), 32, small_vocab())
    loader = torch.utils.data.DataLoader(
        dataset, sampler=d2l.BucketBatchSampler(dataset.valid_lens, 8, shuffle=False),
        batch_size=None, collate_fn=d2l.trim_batch, num_workers=1,
        multiprocessing_context='spawn')
    labels = torch.cat([y for _, y in loader])
    assert torch.equal(labels, dataset.labels)


# --- training ----------------------------------------------------------------------------------

def test_accuracy_is_a_rate():
    y_hat = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    y = torch.tensor([1, 0, 0, 0])
    assert d2l.num_correct(y_hat, y) == 3
    assert d2l.accuracy(y_hat, y) == 0.75


def toy_task(n, seed):
    """The label is the premise's first word (man / dog / park): easy to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    key = np.array(['man', 'dog', 'park'])[labels]
    premises = [f'{k} ' + ' '.join(rng.choice(WORDS[:5], size=rng.integers(1, 6))) for k in key]
    hypotheses = [' '.join(rng.choice(WORDS[5:], size=rng.integers(1, 6))) for _ in range(n)]
    return premises, hypotheses, labels.tolist()


def toy_setup(n, batch_size, lr=1e-2, seed=0):
    vocab = small_vocab()
    train = d2l.SNLIBERTDataset(toy_task(n, seed), 32, vocab)
    test = d2l.SNLIBERTDataset(toy_task(64, seed + 100), 32, vocab)
    net = d2l.BERTClassifier(tiny_bert(len(vocab), seed=seed))
    trainer = torch.optim.Adam(net.parameters(), lr=lr)
    return (net, d2l.load_snli_batches(train, batch_size, shuffle=True),
            d2l.load_snli_batches(test, 32, shuffle=False), trainer)


@pytest.mark.parametrize('n, num_batches', [(5, 1), (9, 2), (20, 3), (25, 4)])
def test_train_ch13_with_few_batches(n, num_batches, capsys):
    net, train_iter, test_iter, trainer = toy_setup(n, batch_size=8)
    assert len(train_iter) == num_batches
    loss = nn.CrossEntropyLoss(reduction='none')
    results = d2l.train_ch13(net, train_iter, test_iter, loss, trainer, 2, CPU)
    assert set(results) == {'loss', 'train_acc', 'test_acc', 'examples_per_sec'}
    assert results['loss'] > 0 and results['examples_per_sec'] > 0
    assert 0 <= results['train_acc'] <= 1 and 0 <= results['test_acc'] <= 1
    out = capsys.readouterr().out
    assert re.search(r'loss \d+\.\d{3}, train acc [01]\.\d{3}, test acc [01]\.\d{3}\n', out)
    assert re.search(r"\d+\.\d examples/sec on \['cpu'\]", out)


def test_train_ch13_learns_a_toy_task(capsys):
    net, train_iter, test_iter, trainer = toy_setup(96, batch_size=16)
    loss = nn.CrossEntropyLoss(reduction='none')
    first = d2l.train_ch13(net, train_iter, test_iter, loss, trainer, 1, CPU)
    later = d2l.train_ch13(net, train_iter, test_iter, loss, trainer, 6, CPU)
    assert later['loss'] < 0.5 * first['loss']
    assert later['test_acc'] > 0.9


def test_mean_and_per_example_losses_train_alike():
    results = []
    for reduction in ('none', 'mean'):
        net, train_iter, test_iter, trainer = toy_setup(24, batch_size=8)
        torch.manual_seed(3)
        results.append(d2l.train_ch13(net, train_iter, test_iter,
                                      nn.CrossEntropyLoss(reduction=reduction), trainer, 1, CPU))
    assert results[0]['loss'] == pytest.approx(results[1]['loss'], rel=1e-5)


def test_every_encoder_parameter_gets_a_gradient():
    net, train_iter, _, _ = toy_setup(16, batch_size=16)
    trainer = torch.optim.SGD(net.parameters(), lr=0.0)
    X, y = next(iter(train_iter))
    d2l.train_batch_ch13(net, X, y, nn.CrossEntropyLoss(reduction='none'), trainer, CPU)
    for name, p in list(net.encoder.named_parameters()) + list(net.hidden.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_evaluate_accuracy_gpu_uses_eval_mode():
    net, _, test_iter, _ = toy_setup(8, batch_size=8)
    X, _ = next(iter(test_iter))
    net.train()  # where dropout applies: two passes differ
    assert not torch.equal(net(X), net(X))
    first = d2l.evaluate_accuracy_gpu(net, test_iter)
    assert not net.training and 0 <= first <= 1
    assert d2l.evaluate_accuracy_gpu(net, test_iter) == first  # no dropout noise
    net.train()
    probs, labels = d2l.predict_probs(net, test_iter)
    assert not net.training and first == (probs.argmax(1) == labels).mean()
    net.train()
    assert (d2l.predict_probs(net, test_iter)[0] == probs).all()
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
# Pretraining BERT

WIKI = ['the dog runs on the grass .', 'a man sits in the park .', 'the man is on the grass .',
        'a dog sits .', 'the park is green .']
TINY_BERT = {'num_hiddens': 16, 'ffn_num_hiddens': 32, 'num_heads': 2, 'num_blks': 2,
             'dropout': 0.0, 'max_len': 64}


def wiki_folder(tmp_path, lines=400):
    rng = np.random.default_rng(0)
    text_lines = [' ' + ' '.join(rng.choice(WIKI, rng.integers(2, 5))) + ' \n'
                  for _ in range(lines)]
    (tmp_path / 'wiki.train.tokens').write_text(' = Title = \n' + ''.join(text_lines))
    return tmp_path


def test_pretraining_batches_and_the_loss_ignore_padded_predictions(tmp_path):
    paragraphs, foils = d2l._read_wiki(wiki_folder(tmp_path))
    dataset = d2l._WikiTextDataset(paragraphs, 64, foils, rng=0)
    assert dataset.vocab.idx_to_token[:5] == ['<unk>', *RESERVED]
    batch = d2l._trim_bert_batch(dataset[list(range(32))])
    tokens, _, valid_lens, positions, weights, labels, nsp = batch
    assert tokens.shape[1] == int(valid_lens.max()) and tokens.dtype == torch.int64
    assert positions.shape == weights.shape == labels.shape
    torch.manual_seed(0)
    net = d2l.BERTModel(len(dataset.vocab), **TINY_BERT)
    loss = nn.CrossEntropyLoss(reduction='none')
    mlm_l, nsp_l, l = d2l._get_batch_loss_bert(net, loss, len(dataset.vocab), *batch)
    _, mlm_Y_hat, nsp_Y_hat = net(*batch[:4])
    real = weights > 0
    assert torch.isclose(mlm_l, loss(mlm_Y_hat[real], labels[real]).mean())
    assert torch.isclose(nsp_l, loss(nsp_Y_hat, nsp).mean()) and torch.isclose(l, mlm_l + nsp_l)
    # Padded predictions (weight 0) may predict anything: the loss does not change
    changed = labels.clone()
    changed[~real] = 7
    assert torch.isclose(d2l._get_batch_loss_bert(
        net, loss, len(dataset.vocab), *batch[:5], changed, nsp)[0], mlm_l)


def test_train_bert_lowers_both_losses_and_needs_steps(tmp_path):
    paragraphs, foils = d2l._read_wiki(wiki_folder(tmp_path))
    dataset = d2l._WikiTextDataset(paragraphs, 64, foils, rng=0)
    sampler = d2l.BucketBatchSampler(dataset.valid_lens.numpy(), 64, True, 0)
    train_iter = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None,
                                             collate_fn=d2l._trim_bert_batch)
    torch.manual_seed(0)
    net = d2l.BERTModel(len(dataset.vocab), **TINY_BERT)
    loss = nn.CrossEntropyLoss(reduction='none')
    with pytest.raises(ValueError, match='at least one step'):
        d2l.train_bert(train_iter, net, loss, len(dataset.vocab), CPU, 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only costs here
    try:
        losses = d2l.train_bert(train_iter, net, loss, len(dataset.vocab), CPU, 30, lr=1e-2,
                                warmup_steps=3)
    finally:
        torch.set_num_threads(threads)
    assert len(losses['mlm']) == len(losses['nsp']) == 30
    assert np.mean(losses['mlm'][-5:]) < np.mean(losses['mlm'][:5]) - 0.5
    with pytest.raises(ValueError, match='no batches'):
        d2l.train_bert([], net, loss, len(dataset.vocab), CPU, 1)


class EchoBERT(nn.Module):
    """Predicts at each picked position the token that is there, and "is next" for a pair of
    even valid length: a model whose every prediction a test can work out by hand."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size, self.unused = vocab_size, nn.Parameter(torch.zeros(1))

    def forward(self, tokens, segments, valid_lens, pred_positions):
        rows = torch.arange(len(tokens))[:, None]
        mlm_Y_hat = nn.functional.one_hot(tokens[rows, pred_positions], self.vocab_size)
        return None, mlm_Y_hat.float(), nn.functional.one_hot((valid_lens % 2 == 0).long(), 2)


def test_evaluate_pretraining_counts_real_predictions_over_all_batches():
    tokens = torch.tensor([[3, 5, 6, 4, 0], [3, 7, 8, 4, 0]])
    # Row 0: two real predictions, 5 right and 6 wrong; row 1: 7 wrong, then a padded
    # prediction at position 0 whose label happens to be right (it must not count)
    first = (tokens, torch.zeros_like(tokens), torch.tensor([4, 4]), torch.tensor([[1, 2], [1, 0]]),
             torch.tensor([[1., 1.], [1., 0.]]), torch.tensor([[5, 9], [9, 3]]),
             torch.tensor([1, 0]))
    second = (torch.tensor([[3, 5, 4]]), torch.zeros(1, 3, dtype=torch.long), torch.tensor([3]),
              torch.tensor([[1]]), torch.tensor([[1.]]), torch.tensor([[5]]), torch.tensor([0]))
    net = EchoBERT(10).train()
    mlm_acc, nsp_acc = d2l.evaluate_pretraining(net, [first, second])
    # 2 of 4 real predictions (counting padding: 3 of 5; a mean of batch means: 2/3)
    assert mlm_acc == 0.5 and nsp_acc == 2 / 3
    assert not net.training  # evaluation mode: no dropout
    with pytest.raises(ValueError, match='no examples'):
        d2l.evaluate_pretraining(net, [])


def test_load_wiki_batches_serves_a_dataset_of_ones_own(tmp_path):
    paragraphs, foils = d2l._read_wiki(wiki_folder(tmp_path))
    dataset = d2l._WikiTextDataset(paragraphs, 64, foils, rng=0)
    dataset.nsp_labels = torch.ones_like(dataset.nsp_labels)  # an edit the batches must show
    batches = list(d2l.load_wiki_batches(dataset, 32, shuffle=False))
    assert sum(len(b[0]) for b in batches) == len(dataset)
    assert all(b[0].shape[1] == int(b[2].max()) and (b[6] == 1).all() for b in batches)
    torch.manual_seed(0)
    a = [b[2].tolist() for b in d2l.load_wiki_batches(dataset, 32, shuffle=True)]
    torch.manual_seed(0)
    assert a == [b[2].tolist() for b in d2l.load_wiki_batches(dataset, 32, shuffle=True)]


def test_device_of_and_to_device():
    net = d2l.BERTModel(len(small_vocab()), **TINY_BERT)
    assert d2l.device_of(net) == CPU[0]
    batch = d2l.to_device([torch.zeros(2), torch.ones(3)], d2l.device_of(net))
    assert isinstance(batch, list) and all(x.device == CPU[0] for x in batch)
    assert d2l.to_device(torch.zeros(2), CPU[0]).device == CPU[0]


def test_bert_encoding_depends_on_the_sentence():
    vocab = small_vocab()
    torch.manual_seed(0)
    net = d2l.BERTModel(len(vocab), **TINY_BERT)
    alone = d2l.get_bert_encoding(net, vocab, ['a', 'dog', 'runs'])
    pair = d2l.get_bert_encoding(net, vocab, ['a', 'dog', 'sits'], ['the', 'man'])
    assert alone.shape == (1, 5, 16) and pair.shape == (1, 8, 16)
    assert not torch.allclose(alone[0, 2], pair[0, 2])  # 'dog' in two contexts


def test_a_saved_model_loads_back_here_and_in_another_session(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    monkeypatch.setattr(d2l, 'DATA_HUB', dict(d2l.DATA_HUB))
    monkeypatch.setattr(d2l.checkpoints, 'BERT_CONFIGS', dict(d2l.BERT_CONFIGS))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))  # the learner's own folder
    vocab = small_vocab()
    torch.manual_seed(0)
    net = d2l.BERTModel(len(vocab), **TINY_BERT)
    path = d2l.save_pretrained_model(net, vocab, 'bert.test', TINY_BERT)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ['bert.test.torch/vocab.json', 'bert.test.torch/pretrained.params']
    assert d2l.DATA_HUB['bert.test'][1] == d2l.hub.sha1_of(path)
    bert, vocab2 = d2l.load_pretrained_model('bert.test', **TINY_BERT, devices=CPU)
    assert vocab2.idx_to_token == vocab.idx_to_token
    assert all(torch.equal(a, b) for a, b in zip(bert.state_dict().values(),
                                                 net.state_dict().values()))
    del d2l.DATA_HUB['bert.test'], d2l.checkpoints.BERT_CONFIGS['bert.test']
    # in the learner's own folder, with its unpacked copy: nothing in the data folder
    assert str(path).startswith(str(tmp_path / 'cache')) and not list(tmp_path.glob('bert.test*'))
    d2l.register_saved_model('bert.test')  # as the NLI notebook does in a new session
    assert d2l.checkpoints.BERT_CONFIGS['bert.test'] == TINY_BERT
    assert d2l.DATA_HUB['bert.test'][1] == d2l.hub.sha1_of(path)
    again, vocab3 = d2l.load_pretrained_model('bert.test', **TINY_BERT, devices=CPU)
    assert vocab3.idx_to_token == vocab.idx_to_token
    assert list(again.state_dict()) == list(net.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                 net.state_dict().values()))
    with pytest.raises(KeyError, match='save one with save_pretrained_model'):
        d2l.register_saved_model('bert.other')


def test_full_mode_reads_wikitext_2_as_the_book_publishes_it(tmp_path, monkeypatch):
    # WikiText-2's zip (wikitext-2-v1.zip, unpacking to wikitext-2/) from a local server standing
    # in for the mirror; its text has headings and no foils, as the real one
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    served = tmp_path / 'served'
    served.mkdir()
    body = ' \n = Valkyria Chronicles = \n \n' + ''.join(
        f' {WIKI[i % 5]} {WIKI[(i + 1) % 5]} {WIKI[(i + 3) % 5]} \n' for i in range(60))
    with zipfile.ZipFile(served / 'wikitext-2-v1.zip', 'w') as zf:
        for split in ('train', 'valid', 'test'):
            zf.writestr(f'wikitext-2/wiki.{split}.tokens', body)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv('D2LMINI_MIRROR', f'http://127.0.0.1:{server.server_address[1]}')
        monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))
        url, sha1 = d2l.DATA_HUB['wikitext-2']
        assert url.endswith('/wikitext-2-v1.zip')
        assert sha1 == '3c914d17d80b1459be871a5039ac23e752a53cbe'  # the book's
        sha1 = hashlib.sha1((served / 'wikitext-2-v1.zip').read_bytes()).hexdigest()
        monkeypatch.setitem(d2l.DATA_HUB, 'wikitext-2', (url, sha1))
        torch.manual_seed(0)
        data_iter, vocab = d2l.load_data_wiki(16, 64)
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / 'data' / 'wikitext-2' / 'wiki.train.tokens').exists()
    assert len(data_iter.dataset) == 60 * 2 and len(vocab) == 5 + len(
        {w for s in WIKI for w in s.split()})
    # no foils: a false next sentence is one of the corpus's sentences
    assert 0.3 < data_iter.dataset.nsp_labels.float().mean() < 0.7
