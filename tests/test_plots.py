"""The plot helpers draw what they are given, on one colour scale, with the tokens on the axes;
in Jupyter each shows one static figure, also when a notebook runs headlessly."""
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from d2lmini.plots import CURVE_LINES, show_confusion_matrix, show_heatmaps, show_pretraining_curve
from tools.runbook import CurrentEnvKernel


@pytest.fixture
def drawn():
    """The figure a helper leaves open outside Jupyter (for plt.show())."""
    def figure():
        fig = plt.gcf()
        fig.canvas.draw()  # tick labels get their text when drawn
        return fig

    plt.close('all')
    yield figure
    plt.close('all')


def test_heatmaps_draw_every_matrix_on_one_scale(drawn):
    rng = np.random.default_rng(0)
    matrices = rng.random((2, 3, 4, 5))
    show_heatmaps(matrices, xlabel='keys', ylabel='queries', titles=['a', 'b', 'c'],
                  xticklabels=list('vwxyz'), yticklabels=list('abcd'))
    fig = drawn()
    panels, colorbar = fig.axes[:6], fig.axes[6:]
    assert len(colorbar) == 1
    for n, ax in enumerate(panels):
        i, j = divmod(n, 3)
        [image] = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), matrices[i, j])
        assert image.get_clim() == (0.0, matrices.max())
        assert ax.get_title() == 'abc'[j]
        assert ax.get_xlabel() == ('keys' if i == 1 else '')
        assert ax.get_ylabel() == ('queries' if j == 0 else '')
        # The panels share their axes: the tokens are written on the outer ones only
        assert [t.get_text() for t in ax.get_xticklabels()] == (list('vwxyz') if i == 1 else [])
        assert [t.get_text() for t in ax.get_yticklabels()] == (list('abcd') if j == 0 else [])


def test_heatmaps_take_a_title_per_panel_and_any_array(drawn):
    class Array:  # as an MXNet array: converted with asnumpy()
        def asnumpy(self):
            return np.eye(3)[None, None].repeat(2, axis=1)

    show_heatmaps(Array(), 'x', 'y', titles=[['first', 'second']])
    assert [ax.get_title() for ax in drawn().axes[:2]] == ['first', 'second']


@pytest.mark.parametrize('kwargs, message', [
    ({'matrices': np.zeros((3, 3))}, r'matrices of shape \(3, 3\): expected 4 axes'),
    ({'matrices': np.zeros((1, 1, 2, 3)), 'xticklabels': ['a', 'b']},
     '2 xticklabels for matrices with 3 columns'),
    ({'matrices': np.zeros((1, 1, 2, 3)), 'yticklabels': ['a']},
     '1 yticklabels for matrices with 2 rows'),
])
def test_heatmaps_refuse_shapes_that_do_not_fit(kwargs, message):
    with pytest.raises(ValueError, match=message):
        show_heatmaps(xlabel='x', ylabel='y', **kwargs)


def test_confusion_matrix_writes_the_counts_in_the_cells(drawn):
    matrix = np.array([[146, 0, 18], [1, 161, 2], [23, 0, 143]])
    labels = ['entailment', 'contradiction', 'neutral']
    show_confusion_matrix(matrix, labels)
    [ax] = drawn().axes
    assert [t.get_text() for t in ax.texts] == [str(n) for n in matrix.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert (ax.get_xlabel(), ax.get_ylabel()) == ('predicted label', 'true label')
    with pytest.raises(ValueError, match=r'shape \(3, 3\) for 2 labels'):
        show_confusion_matrix(matrix, labels[:2])


def test_pretraining_curve_draws_each_accuracy_and_marks_the_run(drawn):
    curve = {'steps': np.array([0, 10, 20]), 'sentence_pairs': np.array([0, 1e6, 2e6]),
             'mlm_accuracy': np.array([0.0, 0.7, 0.8]), 'nsp_accuracy': np.array([0.5, 0.6, 0.9]),
             'nli_test_accuracy': np.array([0.5, 0.55, 0.85])}
    # A run without foils has no next-sentence accuracy comparable with the curve's
    show_pretraining_curve(curve, run={'sentence_pairs': 5e5, 'mlm_accuracy': 0.6,
                                       'nsp_accuracy': None})
    [ax] = drawn().axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    for name, label in CURVE_LINES.items():
        np.testing.assert_array_equal(lines[label].get_xdata(), [0, 1, 2])  # millions
        np.testing.assert_array_equal(lines[label].get_ydata(), curve[name])
    stars = [line for line in ax.get_lines() if line.get_marker() == '*' and len(line.get_xdata())]
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in stars] == [(0.5, 0.6)]
    assert stars[0].get_color() == lines[CURVE_LINES['mlm_accuracy']].get_color()
    assert 'your run' in [t.get_text() for t in ax.get_legend().get_texts()]


def test_in_a_kernel_each_helper_shows_one_static_figure(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell('import numpy as np\nfrom d2lmini.plots import show_heatmaps\n'
                      "show_heatmaps(np.ones((1, 2, 3, 3)), 'keys', 'queries')"),
        new_code_cell('from d2lmini.plots import show_confusion_matrix\n'
                      "show_confusion_matrix(np.eye(2), ['yes', 'no'])"),
        new_code_cell('from d2lmini.plots import show_pretraining_curve\n'
                      'from d2lmini.pretraining import pretraining_curve\n'
                      "show_pretraining_curve(pretraining_curve(), {'sentence_pairs': 32000})")])
    NotebookClient(nb, timeout=60, kernel_name='python3', kernel_manager_class=CurrentEnvKernel,
                   resources={'metadata': {'path': str(tmp_path)}}).execute()
    for cell in nb.cells:
        assert [out.output_type for out in cell.outputs] == ['display_data']
        assert 'image/png' in cell.outputs[0].data
    nbformat.validate(nb)
