import hashlib
import itertools
import pathlib
import re
import zipfile

import numpy as np
import pytest
import torch

from d2lmini import torch as d2l
from d2lmini.text import pack_pairs
from tools import pretrain, snligen

TINY = {'num_hiddens': 16, 'ffn_num_hiddens': 32, 'num_heads': 2, 'num_blks': 2,
        'dropout': 0.1, 'max_len': 64}


@pytest.fixture(scope='module')
def snli_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp('snli')
    snligen.write_snli_zip(out)
    return out / 'snli-mini.zip'


@pytest.fixture(scope='module')
def corpus():
    corpus = snligen.pretraining_corpus(0, 200)
    return corpus, pretrain.build_vocab(corpus, [])


def test_vocab_has_reserved_tokens_first_and_every_snli_word(snli_zip, corpus):
    sentences = pretrain.snli_sentences(snli_zip)
    assert len(sentences) > 1000
    vocab = pretrain.build_vocab(corpus[0], sentences)
    assert vocab.idx_to_token[:5] == ['<unk>', '<pad>', '<mask>', '<cls>', '<sep>']
    words = {w for s in sentences for w in s.lower().split()}
    assert all(w in vocab.token_to_idx for w in words)


def test_nsp_pairs_are_half_true_next_sentences_half_foils(corpus):
    paragraphs, foils = corpus[0]
    firsts, seconds, is_next = pretrain.nsp_pairs(corpus[0], np.random.default_rng(0))
    assert len(firsts) == sum(len(p) - 1 for p in paragraphs) == len(is_next)
    assert 0.4 < is_next.mean() < 0.6
    follows = {(a, b) for p in paragraphs for a, b in itertools.pairwise(p)}
    foiled = {(a, f) for p, fs in zip(paragraphs, foils)
              for (a, _), f in zip(itertools.pairwise(p), fs) if f}
    negatives = [(a, b) for a, b, label in zip(firsts, seconds, is_next) if not label]
    assert all((a, b) in follows for a, b, label in zip(firsts, seconds, is_next) if label)
    assert not any(pair in follows for pair in negatives)
    # A foil wherever the pair has one; a random sentence (the book's rule) only where not
    assert sum(pair in foiled for pair in negatives) / len(negatives) > 0.8


def test_mask_tokens_follows_bert(corpus):
    firsts, seconds, _ = pretrain.nsp_pairs(corpus[0], np.random.default_rng(1))
    vocab = corpus[1]
    token_ids, _, valid_lens = pack_pairs(firsts, seconds, vocab, 64)
    masked, positions, weights, labels = pretrain.mask_tokens(
        token_ids, valid_lens, vocab, np.random.default_rng(2))
    picked = weights.astype(bool)
    rows = np.arange(len(token_ids))[:, None]
    assert (picked.sum(1) == np.maximum(1, np.round(valid_lens * 0.15))).all()
    assert (labels == token_ids[rows, positions]).all()
    assert (token_ids[rows, positions][picked] >= 5).all()  # words only: no <cls>/<sep>/<pad>
    assert (positions[~picked] == 0).all()
    assert all(len(set(p[w])) == w.sum() for p, w in zip(positions, picked))  # no repeats
    unpicked = np.ones_like(token_ids, dtype=bool)
    unpicked[rows, positions] = ~picked
    assert (masked[unpicked] == token_ids[unpicked]).all()
    new, old = masked[rows, positions][picked], labels[picked]
    share_mask = (new == vocab['<mask>']).mean()
    share_kept = (new == old).mean()
    assert 0.77 < share_mask < 0.83 and 0.08 < share_kept < 0.13  # a few random words match
    assert (new[(new != old) & (new != vocab['<mask>'])] >= 5).all()


def test_pretraining_lowers_the_loss(corpus):
    (paragraphs, foils), vocab = corpus
    batches = list(pretrain.make_batches((paragraphs[:50], foils[:50]), vocab, 64, 64,
                                         np.random.default_rng(5)))
    torch.manual_seed(0)
    net = d2l.BERTModel(len(vocab), **TINY)

    def held_loss():
        net.eval()
        with torch.no_grad():
            return np.mean([float(pretrain.batch_loss(net, b)) for b in batches])

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
