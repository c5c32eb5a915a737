"""The Chinese and French editions (notebooks/zh/, notebooks/fr/) are complete and current.

tools/i18n.py writes each one from the English notebook and its catalogue (i18n/<lang>/<framework>/
<topic>.po): these tests fail when an English markdown or code cell changed without `make editions`
and the translation that goes with it, and say which entries and how to update them. nbval does not
run the editions (pyproject.toml): their code is the English code, which it runs.
"""
import json

import pytest
from test_notebooks import FRAMEWORK_WORDS, assert_twins

from tools import i18n

EDITIONS = i18n.every_edition()
IDS = ['/'.join(e) for e in EDITIONS]


def test_every_english_notebook_has_its_editions_and_no_more():
    assert EDITIONS, 'no English notebooks found'
    wanted = {i18n.edition_path(*e) for e in EDITIONS}
    found = {p for lang in i18n.LANGUAGES for p in (i18n.NOTEBOOKS / lang).glob('*/*.ipynb')}
    assert found == wanted, ('editions without an English notebook, or missing: run '
                             '`make editions` and delete the editions of removed notebooks')


@pytest.mark.parametrize('lang, fw, topic', EDITIONS, ids=IDS)
def test_the_catalogue_translates_todays_english(lang, fw, topic):
    problems = i18n.check_catalogue(lang, fw, topic)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('lang, fw, topic', EDITIONS, ids=IDS)
def test_the_edition_is_what_the_tool_writes_with_the_english_code_and_outputs(lang, fw, topic):
    problems = i18n.check_edition(lang, fw, topic)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('lang, fw, topic', EDITIONS, ids=IDS)
def test_translations_keep_markup_glossary_and_typography(lang, fw, topic):
    problems = i18n.entry_problems(lang, fw, topic)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('lang', i18n.LANGUAGES)
@pytest.mark.parametrize('topic', i18n.topics())
def test_edition_twins_have_the_same_cells_and_markdown(lang, topic):
    # The twin rule of tests/test_notebooks.py, for the translations: the PyTorch and MXNet
    # editions differ in framework words and framework notes only.
    a, b = (json.loads(i18n.edition_path(lang, fw, topic).read_text())['cells']
            for fw in i18n.TRACKS)
    assert_twins(a, b, f'in {lang} beyond framework words between the twins: make their '
                       'catalogues agree')


def test_framework_words_are_the_twin_tests():
    assert i18n.FRAMEWORK_WORDS.pattern == FRAMEWORK_WORDS.pattern
