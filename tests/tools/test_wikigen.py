import zipfile

import pytest

from d2lmini import hub, pretraining
from tools import snli_scenes, wikigen


def test_rebuild_gives_the_bundled_zip_and_it_holds_bert_minis_paragraphs(tmp_path):
    path = wikigen.write_wikitext_zip(tmp_path)
    assert hub.sha1_of(path) == hub.DATA_HUB['wikitext-2-mini'][1]
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / 'wikitext-2-mini'
    # The very paragraphs and foils that tools.pretrain gives bert.mini, and its held-out ones
    assert pretraining._read_wiki(folder) == snli_scenes.pretraining_corpus(
        0, wikigen.NUM_PARAGRAPHS)
    assert pretraining._read_wiki(folder, 'valid') == snli_scenes.pretraining_corpus(
        1, wikigen.EVAL_PARAGRAPHS)


def test_main_needs_an_output_folder():
    with pytest.raises(SystemExit, match='usage'):
        wikigen.main([])
