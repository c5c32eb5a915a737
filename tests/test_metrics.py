"""The confusion matrix, recall and precision, and the most confident mistakes (numpy only)."""
import numpy as np
import pytest

from d2lmini.metrics import confident_mistakes, confusion_matrix, recall_precision


def test_confusion_matrix_counts_each_pair_of_true_and_predicted_label():
    labels = [0, 0, 1, 2, 2, 2, 1]
    preds = [0, 2, 1, 2, 0, 2, 1]
    matrix = confusion_matrix(labels, preds, 3)
    assert matrix.tolist() == [[1, 0, 1], [0, 2, 0], [1, 0, 2]]
    assert matrix.sum() == len(labels)
    assert np.trace(matrix) == sum(a == b for a, b in zip(labels, preds))


def test_confusion_matrix_sums_to_the_number_of_examples():
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, 3, 494), rng.integers(0, 3, 494)
    matrix = confusion_matrix(labels, preds, 3)
    assert matrix.shape == (3, 3) and matrix.sum() == 494
    assert matrix.sum(axis=1).tolist() == np.bincount(labels, minlength=3).tolist()
    assert matrix.sum(axis=0).tolist() == np.bincount(preds, minlength=3).tolist()


@pytest.mark.parametrize('labels, preds, message', [
    ([0, 1], [0], '2 labels but 1 predictions'),
    ([0, 3], [0, 1], 'a label of 3 is not one of the 3 label ids 0 to 2'),
    ([0, 1], [-1, 1], 'a prediction of -1 is not one'),
])
def test_confusion_matrix_refuses_bad_input(labels, preds, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(labels, preds, 3)


def test_recall_and_precision():
    matrix = [[8, 2, 0], [1, 9, 0], [4, 0, 6]]
    recall, precision = recall_precision(matrix)
    np.testing.assert_allclose(recall, [0.8, 0.9, 0.6])
    np.testing.assert_allclose(precision, [8 / 13, 9 / 11, 1.0])


def test_recall_and_precision_of_nothing_are_nan():
    recall, precision = recall_precision([[3, 0], [1, 0]])  # label 1: never predicted
    assert recall.tolist() == [1.0, 0.0]
    assert precision[0] == 0.75 and np.isnan(precision[1])


def test_confident_mistakes_are_wrong_and_surest_first():
    probs = np.array([[0.9, 0.05, 0.05],   # right
                      [0.2, 0.7, 0.1],     # wrong, 0.7
                      [0.1, 0.1, 0.8],     # wrong, 0.8
                      [0.6, 0.3, 0.1],     # wrong, 0.6
                      [0.1, 0.7, 0.2]])    # wrong, 0.7: after example 1, which comes first
    labels = np.array([0, 0, 1, 2, 2])
    assert confident_mistakes(probs, labels, 10) == [2, 1, 4, 3]
    assert confident_mistakes(probs, labels, 2) == [2, 1]
    assert confident_mistakes(probs[:1], labels[:1], 5) == []
