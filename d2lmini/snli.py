"""Read the Stanford Natural Language Inference corpus (SNLI 1.0 text files).

The files are tab-separated with one header line. Like the book, the text comes
from the two binary-parse columns with the parentheses dropped, so tokens are
already split ("A man is playing a guitar ."). Rows whose gold label is `-`
(the annotators found no majority) are skipped.
"""
import csv
import os

LABELS = ['entailment', 'contradiction', 'neutral']
COLUMNS = ('gold_label', 'sentence1_binary_parse', 'sentence2_binary_parse',
           'sentence1_parse', 'sentence2_parse', 'sentence1', 'sentence2',
           'captionID', 'pairID', 'label1', 'label2', 'label3', 'label4', 'label5')
HEADER = '\t'.join(COLUMNS)
# SNLI-style pairs written by hand in the words of the reduced corpus (none of its sentences):
# columns label, phenomenon, premise, hypothesis.
HANDWRITTEN = os.path.join(os.path.dirname(__file__), 'data', 'handwritten_pairs.tsv')

_LABEL_IDS = {label: i for i, label in enumerate(LABELS)}


def read_snli(data_dir, is_train):
    """Return `(premises, hypotheses, labels)` of the train or the test split in `data_dir`.

    `data_dir` is the folder that `download_extract('SNLI')` (full) or
    `download_extract('snli-mini')` (bundled) returns.
    """
    name = 'snli_1.0_train.txt' if is_train else 'snli_1.0_test.txt'
    return read_snli_file(os.path.join(data_dir, name))


def read_snli_file(path):
    """Read one SNLI 1.0 text file (any split) as `(premises, hypotheses, labels)`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: download_extract("SNLI") gives the folder of the full SNLI '
            f'files and download_extract("snli-mini") the bundled reduced one')
    premises, hypotheses, labels = [], [], []
    parse, premise = None, None
    # Streamed line by line (no readlines, no regex): the train file has 550k rows.
    with open(path, encoding='utf-8') as f:
        header = f.readline().rstrip('\n')
        if header != HEADER:
            raise ValueError(
                f'{path} does not start with the SNLI 1.0 header: expected the 14 tab-separated '
                f'columns {", ".join(COLUMNS)}; found {header[:200]!r}')
        for line_no, line in enumerate(f, start=2):
            # Split off only the three columns we use; counting the other tabs is cheaper
            # than making strings of the parse columns that nobody reads.
            row = line.split('\t', 3)
            if len(row) < 4 or row[3].count('\t') != len(COLUMNS) - 4:
                found = line.count('\t') + 1
                raise ValueError(
                    f'{path}, line {line_no}: {found} tab-separated columns, expected '
                    f'{len(COLUMNS)} as in the header; the file may be damaged or not SNLI 1.0')
            gold = row[0]
            if gold == '-':
                continue
            label = _LABEL_IDS.get(gold)
            if label is None:
                raise ValueError(
                    f'{path}, line {line_no}: unknown gold label {gold!r}; allowed are '
                    f'{", ".join(LABELS)} and "-" (no majority, skipped)')
            if row[1] != parse:  # SNLI's rows come in runs that share one premise (caption)
                parse, premise = row[1], _text(row[1])
            hypothesis = _text(row[2])
            if not premise or not hypothesis:
                which = 'premise' if not premise else 'hypothesis'
                raise ValueError(f'{path}, line {line_no}: empty {which} (binary-parse column)')
            premises.append(premise)
            hypotheses.append(hypothesis)
            labels.append(label)
    return premises, hypotheses, labels


def read_handwritten_pairs(path=HANDWRITTEN):
    """Return `(premises, hypotheses, labels)` of the pairs written by hand that come with
    d2lmini, as read_snli gives a split: a test of whether a model fine-tuned on the reduced
    corpus generalises beyond the sentences of its generator."""
    rows = read_handwritten_rows(path)
    return ([r['premise'] for r in rows], [r['hypothesis'] for r in rows],
            [_LABEL_IDS[r['label']] for r in rows])


def read_handwritten_rows(path=HANDWRITTEN):
    """The hand-written pairs as dicts with label, phenomenon, premise and hypothesis."""
    with open(path, encoding='utf-8', newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    for line_no, r in enumerate(rows, start=2):
        if r.get('label') not in _LABEL_IDS or not r.get('premise') or not r.get('hypothesis'):
            raise ValueError(f'{path}, line {line_no}: expected the columns label (one of '
                             f'{", ".join(LABELS)}), phenomenon, premise and hypothesis')
    return rows


def _text(binary_parse):
    """The words of a binary-parse column: parentheses dropped, whitespace runs collapsed."""
    # Two str.replace calls run about twice as fast as str.translate or a regex here.
    return ' '.join(binary_parse.replace('(', '').replace(')', '').split())
