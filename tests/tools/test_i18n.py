"""tools/i18n.py: the drift guard fails on changed English with a message that says what to do,
and each check of a translation (markup, glossary, typography) can fail."""
import copy
import json
import shutil

import polib
import pytest

from tools import i18n

TOPIC = 'natural-language-inference-bert'


def english():
    return i18n.read_notebook(i18n.english_path('pytorch', TOPIC))


def cell(nb, cell_id):
    return next(c for c in nb['cells'] if c.get('id') == cell_id)


def test_a_changed_markdown_cell_names_the_entry_and_how_to_update_it():
    nb = english()
    cell(nb, 'cell-0')['source'].append(' One more sentence.')
    problems = i18n.check_catalogue('zh', 'pytorch', TOPIC, english=nb)
    assert problems[0] == ('i18n/zh/pytorch/natural-language-inference-bert.po: cell-0: the '
                           'English changed since it was translated')
    assert len(problems) == 2 and 'run `make editions`' in problems[-1]
    assert '#, fuzzy' in problems[-1]
    # Until it is translated again, the edition shows the new English, not a stale translation.
    written = i18n.edition('zh', 'pytorch', TOPIC, english=nb)
    assert ''.join(cell(written, 'cell-0')['source']).endswith('One more sentence.')
    assert ''.join(cell(written, 'cell-2')['source']).startswith('## 自然语言推断与SNLI')


def test_a_new_markdown_cell_is_reported_as_new():
    nb = english()
    nb['cells'].insert(3, {'cell_type': 'markdown', 'id': 'new-1', 'metadata': {},
                           'source': ['A new cell.']})
    problems = i18n.check_catalogue('fr', 'pytorch', TOPIC, english=nb)
    assert problems[0].endswith('new-1: not in the catalogue (new English text)')


def test_a_changed_code_cell_makes_the_edition_stale():
    nb = english()
    text = i18n.edition_path('fr', 'pytorch', TOPIC).read_text(encoding='utf-8')
    assert i18n.check_edition('fr', 'pytorch', TOPIC, english=nb, text=text) == []
    code = next(c for c in nb['cells'] if c['cell_type'] == 'code')
    code['source'].append('\nprint(1)')
    problems = i18n.check_edition('fr', 'pytorch', TOPIC, english=nb, text=text)
    assert f'code cell {code["id"]} (its source, outputs or metadata) differs' in problems[0]
    assert 'run `make editions`' in problems[-1]


def test_an_edition_edited_by_hand_is_caught():
    text = i18n.edition_path('zh', 'mxnet', TOPIC).read_text(encoding='utf-8')
    nb = json.loads(text)
    cell(nb, 'cell-0')['source'][0] = '# 改过的标题\n'
    problems = i18n.check_edition('zh', 'mxnet', TOPIC, text=i18n.dump_notebook(nb))
    assert problems and 'never edit an edition by hand' in problems[-1]
    out = copy.deepcopy(nb)
    next(c for c in out['cells'] if c.get('outputs'))['outputs'] = []
    problems = i18n.check_edition('zh', 'mxnet', TOPIC, text=i18n.dump_notebook(out))
    assert any('differs from the English one' in p for p in problems)


def test_the_edition_starts_with_its_note_and_keeps_code_blocks_in_markdown():
    nb = i18n.read_notebook(i18n.edition_path('fr', 'pytorch', 'bert-pretraining'))
    assert nb['cells'][0]['id'] == i18n.NOTE_ID
    assert 'restent en anglais' in ''.join(nb['cells'][0]['source'])
    shown = ''.join(cell(nb, 'cell-10')['source'])
    assert shown == ''.join(cell(i18n.read_notebook(
        i18n.english_path('pytorch', 'bert-pretraining')), 'cell-10')['source'])


def test_markup_check():
    assert i18n.check_markup('Use `x` and **y**.', 'Utilisez `x` et **y**.') == []
    assert i18n.check_markup('Use `x` and **y**.', 'Utilisez x et **y**.')
    assert i18n.check_markup('See [it](a.md) and $x^2$.', 'Voir [ça](b.md) et $x^2$.')
    # Next to Chinese punctuation ** no longer closes: CommonMark (mistune) shows it.
    assert i18n.check_markup('a **premise** (p)', '一个**前提（premise）**的')
    assert i18n.check_markup('a **premise** (p)', '一个**前提**（premise）的') == []
    # A gloss, the English term in italics in parentheses, may be added; other emphasis not.
    assert i18n.check_markup('**fine-tuning** it', '**affinage** (*fine-tuning*)') == []
    assert i18n.check_markup('**fine-tuning** it', '**affinage** *vraiment*')
    assert i18n.check_markup('*man* (m)', '(*man*) (*woman*)')


def test_glossary_check():
    zh, fr = i18n.load_glossary('zh'), i18n.load_glossary('fr')
    assert i18n.check_glossary('Each token.', '每个词元。', zh) == []
    problems = i18n.check_glossary('Each token.', '每个标记。', zh)
    assert len(problems) == 2  # 词元 missing, 标记 avoided
    assert i18n.check_glossary('the `tokens` list', '这个列表', zh) == []  # code is not prose
    assert i18n.check_glossary('We fine-tune it.', 'Nous le réglons finement.', fr)
    assert i18n.check_glossary('We fine-tune it.', "Nous l'affinons.", fr) == []


def test_typography_check():
    nb, thin = '\u00a0', '\u202f'
    assert i18n.check_typography('fr', f'Voici{nb}: un{thin}; deux{thin}? «{thin}trois{thin}»') == []
    assert len(i18n.check_typography('fr', 'Voici : un; deux ? « trois »')) == 5
    assert i18n.check_typography('fr', 'Le "mot"')
    assert i18n.check_typography('fr', f'`a: b` et [x](http://y){nb}:') == []
    assert i18n.check_typography('zh', 'BERT模型的`x`，好（很好）。') == []
    for bad in ['BERT 模型', '模型,好', '模型.', '模型(好)', '好 `x`', '“好” ，', '"好"']:
        assert i18n.check_typography('zh', bad), bad
    assert i18n.check_typography('zh', '* 列表项\n> 引用\n| 表 | 格 |') == []


def test_twin_fill_maps_framework_words():
    po, twin = polib.POFile(), polib.POFile()
    twin.append(polib.POEntry(msgctxt='a', msgid='In PyTorch, use torch.', msgstr='PyTorch中用torch。'))
    po.append(polib.POEntry(msgctxt='b', msgid='In MXNet, use mxnet.', msgstr=''))
    po.append(polib.POEntry(msgctxt='c', msgid='Something else.', msgstr=''))
    assert i18n.fill_from_twin(po, twin) == ['b']
    assert po[0].msgstr == 'MXNet中用mxnet。' and po[1].msgstr == ''


@pytest.mark.skipif(shutil.which('msgmerge') is None,
                    reason='msgmerge (GNU gettext) is not installed: apt-get install gettext')
def test_merge_marks_a_changed_entry_fuzzy_and_keeps_the_old_english(tmp_path):
    po_file = tmp_path / 'zh.po'
    shutil.copy(i18n.po_path('zh', 'pytorch', TOPIC), po_file)
    nb = english()
    old = ''.join(cell(nb, 'cell-8')['source'])
    cell(nb, 'cell-8')['source'] = [old.replace('its sha1', 'its sha1 and its size')]
    moved = cell(nb, 'cell-29')
    moved['id'] = 'renamed-29'  # only the id changed: the translation stays good
    merged = i18n.merge(i18n.template('zh', 'pytorch', TOPIC, nb), po_file)
    by = {e.msgctxt: e for e in merged}
    assert by['cell-8'].fuzzy and by['cell-8'].previous_msgid == old
    assert by['cell-8'].msgstr.startswith('`load_pretrained_model`')
    assert not by['renamed-29'].fuzzy and by['renamed-29'].msgstr
    assert [e.msgctxt for e in merged if e.fuzzy] == ['cell-8']


def test_html_renders_the_editions_with_the_fresh_outputs(tmp_path):
    pytest.importorskip('nbconvert')
    executed = english()
    code = next(c for c in executed['cells'] if c['cell_type'] == 'code')
    code['outputs'] = [{'output_type': 'stream', 'name': 'stdout', 'text': ['fresh output\n']}]
    (tmp_path / 'pytorch').mkdir()
    (tmp_path / 'pytorch' / f'{TOPIC}.ipynb').write_text(json.dumps(executed))
    written = i18n.html(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        f'fr/pytorch/{TOPIC}.ipynb', f'zh/pytorch/{TOPIC}.ipynb']
    page = (tmp_path / 'zh' / 'pytorch' / f'{TOPIC}.html').read_text(encoding='utf-8')
    assert '<html lang="zh-Hans">' in page and 'Noto Sans CJK SC' in page
    assert 'fresh output' in page and '自然语言推断' in page
