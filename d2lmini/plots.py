"""Static pictures for the notebooks: heatmaps (attention weights, say), a confusion matrix and
the pretraining curve.
Framework-free: both twins re-export them.

Each helper draws one finished figure. In Jupyter it is shown once, as one image, also when a
notebook runs headlessly (nbval, nbconvert); elsewhere it stays open for `plt.show()`.
matplotlib is imported inside the helpers, as it is slow to import.
"""
import numpy as np

from .utils import _in_notebook


def _numpy(array):
    return array.asnumpy() if hasattr(array, 'asnumpy') else np.asarray(array)  # MXNet or other


def _show(fig):
    if _in_notebook():
        import matplotlib.pyplot as plt
        from IPython.display import display

        plt.close(fig)  # else Jupyter's inline backend shows it a second time after the cell
        display(fig)


def _panel_title(titles, i, j):
    if not titles:
        return None
    row = titles[i] if isinstance(titles[0], (list, tuple)) else titles
    return row[j]


def show_heatmaps(matrices, xlabel, ylabel, titles=None, figsize=(2.5, 2.5), cmap='Reds',
                  xticklabels=None, yticklabels=None):
    """Draw a grid of heatmaps, all on one colour scale, as one figure.

    `matrices` has shape (rows of panels, columns of panels, height, width), as for the book's
    d2l.show_heatmaps. `titles` gives one title per column of panels (as in the book), or one
    list per row of panels with a title for each panel. `xticklabels` and `yticklabels` name
    the columns and the rows of every matrix, for example the tokens of a sentence.
    """
    import matplotlib.pyplot as plt

    matrices = _numpy(matrices)
    if matrices.ndim != 4:
        raise ValueError(f'matrices of shape {matrices.shape}: expected 4 axes, (rows of panels, '
                         f'columns of panels, height, width); add axes with m[None, None]')
    num_rows, num_cols, height, width = matrices.shape
    for name, labels, size in (('xticklabels', xticklabels, width),
                               ('yticklabels', yticklabels, height)):
        if labels is not None and len(labels) != size:
            raise ValueError(f'{len(labels)} {name} for matrices with {size} '
                             f'{"columns" if name[0] == "x" else "rows"}')
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, sharex=True, sharey=True,
                             squeeze=False, layout='constrained')
    # One scale for every panel, so that the same colour means the same value everywhere
    vmin, vmax = min(0.0, float(matrices.min())), float(matrices.max())
    for i, j in np.ndindex(num_rows, num_cols):
        ax = axes[i, j]
        image = ax.imshow(matrices[i, j], cmap=cmap, vmin=vmin, vmax=vmax)
        if i == num_rows - 1:
            ax.set_xlabel(xlabel)
        if j == 0:
            ax.set_ylabel(ylabel)
        title = _panel_title(titles, i, j)
        if title:
            ax.set_title(title)
    # The panels share their axes, so setting the ticks once sets them for all
    if xticklabels is not None:
        axes[0, 0].set_xticks(range(width), xticklabels)
        for ax in axes[-1]:
            ax.tick_params(axis='x', labelrotation=90)
    if yticklabels is not None:
        axes[0, 0].set_yticks(range(height), yticklabels)
    fig.colorbar(image, ax=axes, shrink=0.6)
    _show(fig)


def show_confusion_matrix(matrix, labels, figsize=(3.5, 3), cmap='Blues'):
    """Draw a confusion matrix (rows: true labels, columns: predicted labels) with its count
    written in every cell."""
    import matplotlib.pyplot as plt

    matrix = _numpy(matrix)
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(f'a confusion matrix of shape {matrix.shape} for {len(labels)} labels')
    fig, ax = plt.subplots(figsize=figsize, layout='constrained')
    ax.imshow(matrix, cmap=cmap, vmin=0)
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel='predicted label', ylabel='true label')
    for i, j in np.ndindex(matrix.shape):  # dark cells get white text
        ax.text(j, i, f'{matrix[i, j]:g}', ha='center', va='center',
                color='white' if matrix[i, j] > matrix.max() / 2 else 'black')
    _show(fig)


# The curve's accuracies, in the order drawn, and how the legend names them
CURVE_LINES = {'nli_test_accuracy': 'NLI test, fine-tuned',
               'nsp_accuracy': 'next sentence (foils), held out',
               'mlm_accuracy': 'masked word, held out'}


def show_pretraining_curve(curve, run=None, figsize=(5.5, 3.2)):
    """Draw accuracy against the sentence pairs seen in pretraining, one line per column of
    `curve` (d2lmini.pretraining.pretraining_curve()), and mark `run`, a dict of
    `sentence_pairs` and any of the same accuracies (a learner's own run), with stars."""
    import matplotlib.pyplot as plt

    pairs = np.asarray(curve['sentence_pairs']) / 1e6
    fig, ax = plt.subplots(figsize=figsize, layout='constrained')
    for name, label in CURVE_LINES.items():
        line, = ax.plot(pairs, curve[name], marker='o', markersize=3, label=label)
        if run is not None and run.get(name) is not None:
            ax.plot(run['sentence_pairs'] / 1e6, run[name], marker='*', markersize=12,
                    linestyle='none', color=line.get_color())
    if run is not None:  # one legend entry for all the stars
        ax.plot([], [], marker='*', markersize=12, linestyle='none', color='gray',
                label='your run')
    ax.set(xlabel='sentence pairs seen in pretraining (millions)', ylabel='accuracy',
           ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small', loc='lower right')
    _show(fig)
