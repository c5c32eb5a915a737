"""Where a classifier goes wrong: the confusion matrix, recall and precision per label, and its
most confident mistakes. Plain numpy, shared by both frameworks."""
import numpy as np


def confusion_matrix(labels, preds, num_labels):
    """Counts of (true label, predicted label): row i, column j counts the examples of label i
    that were predicted as j. The diagonal holds the right answers; all counts sum to the number
    of examples."""
    labels, preds = np.asarray(labels).ravel(), np.asarray(preds).ravel()
    if len(labels) != len(preds):
        raise ValueError(f'{len(labels)} labels but {len(preds)} predictions')
    for name, ids in (('label', labels), ('prediction', preds)):
        bad = ids[(ids < 0) | (ids >= num_labels)]
        if len(bad):
            raise ValueError(f'a {name} of {bad[0]} is not one of the {num_labels} label ids '
                             f'0 to {num_labels - 1}')
    # Each (true, predicted) pair gets one cell of the flattened matrix
    counts = np.bincount(labels * num_labels + preds, minlength=num_labels * num_labels)
    return counts.reshape(num_labels, num_labels)


def recall_precision(matrix):
    """Recall and precision of each label from a confusion matrix (rows: true labels).

    Recall: of the examples of a label, the share predicted as that label (the diagonal over
    the row sums). Precision: of the examples predicted as a label, the share that have it (the
    diagonal over the column sums). A label no example has, or that is never predicted, gets
    nan where the share is of nothing."""
    matrix = np.asarray(matrix, dtype=float)
    right = np.diag(matrix)
    with np.errstate(invalid='ignore', divide='ignore'):
        return right / matrix.sum(axis=1), right / matrix.sum(axis=0)


def confident_mistakes(probs, labels, k):
    """The indices of at most `k` wrongly classified examples, those whose wrong label got the
    highest probability first (ties: the earlier example first, so the choice is repeatable).

    `probs` holds one row of label probabilities per example, `labels` the true label ids."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    preds = probs.argmax(axis=1)
    wrong = np.flatnonzero(preds != labels)
    order = np.argsort(-probs[wrong, preds[wrong]], kind='stable')
    return wrong[order[:k]].tolist()
