"""tools.site pairs the twins' cells into MyST (no Sphinx, no browser: tests/test_site.py has those)."""
import base64
import json

import pytest

from tools import site

PNG = base64.b64encode(bytes.fromhex('89504e470d0a1a0a')).decode()  # a PNG's signature is enough


def md(text):
    return {'cell_type': 'markdown', 'metadata': {}, 'source': text}


def code(text, *outputs):
    return {'cell_type': 'code', 'metadata': {}, 'source': text, 'outputs': list(outputs),
            'execution_count': 1}


def write_twins(folder, topic, torch_cells, mxnet_cells):
    for fw, cells in [('pytorch', torch_cells), ('mxnet', mxnet_cells)]:
        (folder / fw).mkdir(parents=True, exist_ok=True)
        (folder / fw / f'{topic}.ipynb').write_text(json.dumps({'cells': cells, 'metadata': {},
                                                                'nbformat': 4,
                                                                'nbformat_minor': 5}))


def test_shared_prose_once_framework_notes_and_code_as_tabs(tmp_path):
    stream = {'output_type': 'stream', 'name': 'stdout', 'text': 'loss 0.30\n'}
    figure = {'output_type': 'display_data', 'metadata': {},
              'data': {'image/png': PNG, 'text/plain': '<Figure>'}}
    write_twins(tmp_path, 't', [md('# Title\n\nIntro.'), md('Shared words.'), md('In PyTorch.'),
                                code('import torch', stream, figure)],
                [md('# Title\n\nIntro.'), md('Shared words.'), md('In Gluon.'),
                 code('from mxnet import np', stream)])
    images = tmp_path / 'figures'
    images.mkdir()
    page = site.page_md('t', site.read_twins(tmp_path, 't'), images, 'LINKS\n')
    assert page.startswith('# Title\n\nLINKS\n')
    assert page.count('Shared words.') == 1 and page.count('Intro.') == 1
    assert page.count('{tab-set}') == 2 and page.count(':sync-group: framework') == 2
    note, cell = page.split('{tab-set}')[1:]
    assert note.index(':sync: pytorch') < note.index('In PyTorch.') < note.index(':sync: mxnet')
    assert note.index(':sync: mxnet') < note.index('In Gluon.')
    torch_tab, mxnet_tab = cell.split(':sync: mxnet')
    assert 'import torch' in torch_tab and 'loss 0.30' in torch_tab
    assert '![figure](figures/t-pytorch-3-1.png)' in torch_tab
    assert 'from mxnet import np' in mxnet_tab and 'loss 0.30' in mxnet_tab
    assert 'figure' not in mxnet_tab
    assert (images / 't-pytorch-3-1.png').read_bytes() == base64.b64decode(PNG)
    assert 'In [' not in page


def test_fences_outgrow_what_they_hold():
    text = 'a\n````\nb'
    assert site.fence(text) == '`````'
    nested = site.tab_set([('pytorch', ':::{note}\nx\n:::'), ('mxnet', 'y')])
    assert nested.startswith(':::::{tab-set}') and '::::{tab-item} PyTorch' in nested


def test_twins_that_differ_in_cells_are_refused(tmp_path):
    write_twins(tmp_path, 't', [md('# T'), code('x = 1')], [md('# T'), md('x = 1')])
    with pytest.raises(site.TwinError, match='same cells in the same order.*test_notebooks'):
        site.read_twins(tmp_path, 't')


def test_an_edition_with_a_missing_notebook_is_refused(tmp_path):
    for topic in site.TOPICS:
        write_twins(tmp_path, topic, [md('# T')], [md('# T')])
        write_twins(tmp_path / 'zh', topic, [md('# T')], [md('# T')])
    assert list(site.editions(tmp_path)) == ['en', 'zh']
    (tmp_path / 'zh' / 'mxnet' / 'bert-pretraining.ipynb').unlink()
    with pytest.raises(site.TwinError, match='edition zh .* lacks mxnet/bert-pretraining.ipynb'):
        site.editions(tmp_path)


def test_an_editions_note_on_its_files_is_left_out(tmp_path):
    note = {**md('> Written by make editions: edit the catalogue.'), 'metadata': {'tags': ['edition-note']}}
    write_twins(tmp_path, 't', [note, md('# Titre'), code('x = 1')],
                [note, md('# Titre'), code('x = 1')])
    pairs = site.read_twins(tmp_path, 't')
    assert [p[0]['cell_type'] for p in pairs] == ['markdown', 'code']
    assert site.title_and_intro(pairs)[0] == 'Titre'


def test_a_folder_that_holds_something_else_is_not_replaced(tmp_path):
    (tmp_path / 'mine.txt').write_text('keep me')
    with pytest.raises(site.TwinError, match='holds no earlier build'):
        site.build(tmp_path, notebooks=site.REPO / 'notebooks', work=tmp_path / 'src')
    assert (tmp_path / 'mine.txt').read_text() == 'keep me'
