import hashlib
import pathlib
import re
import zipfile

import numpy as np
import pytest
import torch

from d2lmini import torch as d2l
from tools import pretrain, snli_scenes, snligen

TINY = {'num_hiddens': 16, 'ffn_num_hiddens': 32, 'num_heads': 2, 'num_blks': 2,
        'dropout': 0.1, 'max_len': 64}


@pytest.fixture(scope='module')
def snli_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp('snli')
    snligen.write_snli_zip(out)
    return out / 'snli-mini.zip'


@pytest.fixture(scope='module')
def corpus():
    corpus = snli_scenes.pretraining_corpus(0, 200)
    return corpus, pretrain.build_vocab(corpus, [])


def test_vocab_has_reserved_tokens_first_and_every_snli_word(snli_zip, corpus):
    sentences = pretrain.snli_sentences(snli_zip)
    assert len(sentences) > 1000
    vocab = pretrain.build_vocab(corpus[0], sentences)
    assert vocab.idx_to_token[:5] == ['<unk>', '<pad>', '<mask>', '<cls>', '<sep>']
    words = {w for s in sentences for w in s.lower().split()}
    assert all(w in vocab.token_to_idx for w in words)


def test_batches_are_those_that_built_the_bundled_checkpoint():
    # The numbers every random draw of pair making, masking and batching gave in the code that
    # built the bundled bert.mini (recorded from it): a change of the draws would change what a
    # rebuild writes. With the same draws, a 300-paragraph build of 40 steps gave the same
    # checkpoint bytes before and after pretraining moved into d2lmini (sha1 907171f9...).
    corpus = snli_scenes.pretraining_corpus(0, 300)
    vocab = pretrain.build_vocab(corpus, [])
    digest, rng = hashlib.sha1(), np.random.default_rng(0)
    for _ in range(3):
        for batch in pretrain.make_batches(corpus, vocab, 64, 128, rng):
            for t in batch:
                a = t.numpy()
                digest.update(a.astype(np.float32 if a.dtype == np.float32 else np.int64))
    assert digest.hexdigest() == 'd58319b05aa046c05db93ba1643ea06090d20f60'


def test_pretraining_lowers_the_loss(corpus):
    (paragraphs, foils), vocab = corpus
    batches = list(pretrain.make_batches((paragraphs[:50], foils[:50]), vocab, 64, 64,
                                         np.random.default_rng(5)))
    loss = torch.nn.CrossEntropyLoss(reduction='none')
    torch.manual_seed(0)
    net = d2l.BERTModel(len(vocab), **TINY)

    def held_loss():
        net.eval()
        with torch.no_grad():
            return np.mean([float(d2l._get_batch_loss_bert(net, loss, len(vocab), *b)[2])
                            for b in batches])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only costs here
    try:
        before = held_loss()
        pretrain.pretrain(net, corpus[0], vocab, num_steps=30, batch_size=32, lr=1e-2,
                          rng=np.random.default_rng(0))
        after = held_loss()
    finally:
        torch.set_num_threads(threads)
    assert after < before - 0.8  # nats per prediction


def build(out_dir, snli_zip):
    lines = []
    path = pretrain.build_torch_checkpoint(out_dir, snli_zip, config=TINY, num_paragraphs=30,
                                           num_steps=3, eval_paragraphs=10, log=lines.append)
    return path, lines


def test_tiny_build_is_reproducible_and_loads(tmp_path, monkeypatch, snli_zip):
    # The real build takes minutes; a tiny config checks the same code for determinism.
    threads = torch.get_num_threads()
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    path_a, lines = build(tmp_path / 'a', snli_zip)
    path_b, _ = build(tmp_path / 'b', snli_zip)
    assert torch.get_num_threads() == threads
    data = pathlib.Path(path_a).read_bytes()
    assert data == pathlib.Path(path_b).read_bytes()
    assert re.fullmatch(
        r'held-out masked-token accuracy: pretrained 0\.\d{3}, untrained 0\.\d{3}', lines[1])
    with zipfile.ZipFile(path_a) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ['bert.mini.torch/vocab.json',
                                           'bert.mini.torch/pretrained.params']
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    url = pathlib.Path(path_a).resolve().as_uri()
    monkeypatch.setitem(d2l.DATA_HUB, 'bert.tiny', (url, hashlib.sha1(data).hexdigest()))
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))
    bert, vocab = d2l.load_pretrained_model('bert.tiny', **TINY, devices=[torch.device('cpu')])
    assert all(w in vocab.token_to_idx for w in pretrain.snli_sentences(snli_zip)[0].lower().split())
    assert len(vocab) == bert.encoder.token_embedding.num_embeddings


def test_main_needs_an_output_folder():
    with pytest.raises(SystemExit, match='usage'):
        pretrain.main([])
