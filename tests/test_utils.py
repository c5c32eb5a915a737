"""Timer, Accumulator and Animator, outside and inside a Jupyter kernel; gc_paused."""
import gc
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from d2lmini.utils import Accumulator, Animator, Timer, gc_paused
from tools.runbook import CurrentEnvKernel


def test_timer_records_each_run():
    timer = Timer()
    time.sleep(0.01)
    first = timer.stop()
    timer.start()
    second = timer.stop()
    assert first >= 0.01 > second >= 0
    assert timer.times == [first, second]
    assert timer.sum() == pytest.approx(first + second)
    assert timer.avg() == pytest.approx((first + second) / 2)
    assert timer.cumsum() == pytest.approx([first, first + second])


def test_accumulator_sums_and_resets():
    acc = Accumulator(3)
    acc.add(1, 2, 3)
    acc.add(0.5, 0, 1)
    assert acc.data == [1.5, 2.0, 4.0]
    assert acc[1] == 2.0
    acc.reset()
    assert acc.data == [0.0, 0.0, 0.0]


def test_accumulator_refuses_a_wrong_number_of_values():
    acc = Accumulator(2)
    with pytest.raises(ValueError, match='expected 2 values, got 3'):
        acc.add(1, 2, 3)
    assert acc.data == [0.0, 0.0]


def test_animator_outside_jupyter_collects_points_silently(capsys):
    anim = Animator(xlabel='epoch', legend=['train loss', 'test acc'], xlim=[1, 3])
    anim.add(1, (0.9, None))  # a None skips that curve, as for test acc between epochs
    anim.add(2, (0.7, 0.6))
    assert anim.X == [[1, 2], [2]]
    assert anim.Y == [[0.9, 0.7], [0.6]]
    assert anim.handle is None
    assert capsys.readouterr() == ('', '')
    assert [len(line.get_xdata()) for line in anim.ax.get_lines()] == [2, 1]
    assert anim.ax.get_xlabel() == 'epoch'


def test_animator_in_a_kernel_shows_one_figure(tmp_path):
    nb = new_notebook(cells=[new_code_cell(
        'from d2lmini.utils import Animator\n'
        "anim = Animator(legend=['loss'])\n"
        'for epoch in range(5):\n'
        '    anim.add(epoch, 1 / (epoch + 1))')])
    NotebookClient(nb, timeout=60, kernel_name='python3', kernel_manager_class=CurrentEnvKernel,
                   resources={'metadata': {'path': str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [out.output_type for out in outputs] == ['display_data']
    assert 'image/png' in outputs[0].data
    nbformat.validate(nb)


def test_gc_paused_pauses_the_collector_and_restores_what_it_found():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block leaves it paused for the outer one
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), gc_paused():
        raise KeyError('an error inside the block')
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the caller had paused it: it stays paused
    finally:
        gc.enable()
