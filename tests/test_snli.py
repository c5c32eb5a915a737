import zipfile
from pathlib import Path

import pytest

from d2lmini import snli

HEADER = ('gold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t'
          'sentence2_parse\tsentence1\tsentence2\tcaptionID\tpairID\t'
          'label1\tlabel2\tlabel3\tlabel4\tlabel5')
BUNDLED = Path(snli.__file__).parent / 'data' / 'snli-mini.zip'


def row(gold, premise, hypothesis, labels=None):
    labels = labels or [gold, '', '', '', '']
    return '\t'.join([gold, premise, hypothesis, '(ROOT (S))', '(ROOT (S))', 'P.', 'H.',
                      '1.jpg#0', '1.jpg#0r1n'] + labels)


def write(path, rows, header=HEADER, newline='\n'):
    path.write_text(newline.join([header] + rows) + newline, encoding='utf-8')
    return path


GOOD = [
    row('neutral', '( ( A person ) ( ( is ( on ( a horse ) ) ) . ) )',
        '( ( A person ) ( ( is ( ( training ( his horse ) ) ( for ( a competition ) ) ) ) . ) )'),
    row('-', '( ( Two dogs ) ( ( are running ) . ) )', '( ( Dogs ) ( ( are ( asleep ) ) . ) )',
        ['neutral', 'entailment', 'contradiction', 'neutral', 'contradiction']),
    row('contradiction', '( ( A   man ) ( ( is sleeping ) . ) ) ', '( Nobody ( is ( awake . ) ) )'),
    row('entailment', '( ( Two women ) ( ( are ( embracing ) ) . ) )', '( ( Two people ) ( hug . ) )'),
]


def test_header_constant_is_snli_layout():
    assert snli.HEADER == HEADER and len(snli.COLUMNS) == 14
    assert snli.LABELS == ['entailment', 'contradiction', 'neutral']


def test_read_small_file(tmp_path):
    write(tmp_path / 'snli_1.0_train.txt', GOOD)
    premises, hypotheses, labels = snli.read_snli(tmp_path, is_train=True)
    assert premises == ['A person is on a horse .', 'A man is sleeping .', 'Two women are embracing .']
    assert hypotheses == ['A person is training his horse for a competition .',
                          'Nobody is awake .', 'Two people hug .']
    assert labels == [2, 1, 0]  # the "-" row is skipped


def test_is_train_picks_the_file(tmp_path):
    write(tmp_path / 'snli_1.0_train.txt', GOOD[:1])
    write(tmp_path / 'snli_1.0_test.txt', GOOD[3:])
    assert snli.read_snli(tmp_path, False)[2] == [0]
    assert snli.read_snli(str(tmp_path), True)[2] == [2]


def test_rows_that_share_a_premise_share_one_string(tmp_path):
    # SNLI writes each caption's hypotheses in consecutive rows; the premise is cleaned once
    # and its string shared, which saves time and memory on the 550k-row train file.
    dogs, cat = '( ( Two dogs ) ( run . ) )', '( ( A cat ) ( sleeps . ) )'
    rows = [row('entailment', dogs, '( Dogs ( run . ) )'),
            row('neutral', dogs, '( Dogs ( race . ) )'),
            row('contradiction', cat, '( Dogs ( sleep . ) )'),
            row('neutral', dogs, '( Dogs ( play . ) )')]
    write(tmp_path / 'snli_1.0_train.txt', rows)
    premises, hypotheses, _ = snli.read_snli(tmp_path, True)
    assert premises == ['Two dogs run .', 'Two dogs run .', 'A cat sleeps .', 'Two dogs run .']
    assert premises[0] is premises[1]
    assert hypotheses == ['Dogs run .', 'Dogs race .', 'Dogs sleep .', 'Dogs play .']


def test_windows_line_endings(tmp_path):
    write(tmp_path / 'snli_1.0_test.txt', GOOD, newline='\r\n')
    _, hypotheses, labels = snli.read_snli(tmp_path, False)
    assert labels == [2, 1, 0] and hypotheses[-1] == 'Two people hug .'


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        snli.read_snli(tmp_path, is_train=False)
    msg = str(err.value)
    assert 'snli_1.0_test.txt' in msg and str(tmp_path) in msg
    assert "download_extract(\"SNLI\")" in msg and 'snli-mini' in msg


@pytest.mark.parametrize('header', ['', 'gold_label\tsentence1\tsentence2',
                                    HEADER.replace('captionID', 'caption_id')])
def test_wrong_header(tmp_path, header):
    path = write(tmp_path / 'snli_1.0_train.txt', GOOD, header=header)
    with pytest.raises(ValueError, match='header') as err:
        snli.read_snli(tmp_path, True)
    assert str(path) in str(err.value) and 'captionID' in str(err.value)


def test_wrong_number_of_columns(tmp_path):
    path = write(tmp_path / 'snli_1.0_train.txt', GOOD[:2] + [GOOD[2].rsplit('\t', 2)[0]])
    with pytest.raises(ValueError) as err:
        snli.read_snli(tmp_path, True)
    msg = str(err.value)
    assert f'{path}, line 4' in msg and '12 tab-separated columns' in msg and 'expected 14' in msg


def test_unknown_gold_label(tmp_path):
    path = write(tmp_path / 'snli_1.0_train.txt', GOOD[:1] + [GOOD[1].replace('-', 'maybe', 1)])
    with pytest.raises(ValueError) as err:
        snli.read_snli(tmp_path, True)
    msg = str(err.value)
    assert f'{path}, line 3' in msg and "'maybe'" in msg
    assert all(label in msg for label in ('entailment', 'contradiction', 'neutral', '"-"'))


@pytest.mark.parametrize('which, premise, hypothesis', [
    ('premise', '( ) ', '( A ( dog . ) )'), ('hypothesis', '( A ( dog . ) )', '')])
def test_empty_sentence(tmp_path, which, premise, hypothesis):
    path = write(tmp_path / 'snli_1.0_test.txt', GOOD + [row('neutral', premise, hypothesis)])
    with pytest.raises(ValueError) as err:
        snli.read_snli(tmp_path, False)
    assert f'{path}, line 6: empty {which}' in str(err.value)


def test_bundled_zip_reads(tmp_path):
    with zipfile.ZipFile(BUNDLED) as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / 'snli-mini'
    for is_train, low, high in ((True, 5800, 6000), (False, 480, 501)):
        premises, hypotheses, labels = snli.read_snli(folder, is_train)
        assert low <= len(premises) == len(hypotheses) == len(labels) <= high
        assert set(labels) == {0, 1, 2}
        assert not any('(' in s or ')' in s or '  ' in s for s in premises + hypotheses)
        assert all(s.endswith(' .') for s in premises + hypotheses)
    assert len(snli.read_snli_file(folder / 'snli_1.0_dev.txt')[0]) > 480
