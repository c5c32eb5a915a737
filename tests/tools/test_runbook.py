"""The runbook that executes the notebooks (make run, make notebooks)."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import runbook


def notebook(*sources, outputs=()):
    nb = new_notebook(metadata={'kernelspec': {'name': 'python3', 'language': 'python',
                                               'display_name': 'Python 3'}})
    nb.cells = [new_markdown_cell('# A test notebook')]
    nb.cells += [new_code_cell(s) for s in sources]
    nb.cells[-1].outputs = list(outputs)
    return nb


def stream(text):
    return new_output('stream', name='stdout', text=text)


def test_final_test_acc_is_the_first_training_runs_not_the_control_runs():
    nb = notebook('train()', outputs=[
        stream('loss 0.521, train acc 0.790, test acc 0.779\n3691.2 examples/sec on [cpu]\n'),
        stream('loss 0.900, train acc 0.400, test acc 0.350\n')])
    assert runbook.final_test_acc(nb) == 0.779


def test_final_test_acc_absent():
    assert runbook.final_test_acc(notebook('1', outputs=[stream('test acc 0.9\n')])) is None


def test_machine_paths_finds_the_home_dir_in_text_outputs_only():
    home = Path.home()
    png = new_output('display_data', data={'image/png': f'iVBOR{home}AAAA', 'text/plain': 'fig'})
    assert runbook.machine_paths(notebook('1', outputs=[png]), [home]) == []
    leak = new_output('execute_result', data={'text/plain': f"'{home}/data/snli'"},
                      execution_count=1)
    assert runbook.machine_paths(notebook('1', outputs=[leak]), [home, '/nowhere']) == [str(home)]


def test_kernel_is_this_python_even_if_another_python3_spec_comes_first(tmp_path, monkeypatch):
    spec = tmp_path / 'kernels' / 'python3'
    spec.mkdir(parents=True)
    (spec / 'kernel.json').write_text(json.dumps(
        {'argv': ['/elsewhere/python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
         'display_name': 'Python 3', 'language': 'python'}))
    monkeypatch.setenv('JUPYTER_PATH', str(tmp_path))
    assert KernelSpecManager().get_kernel_spec('python3').argv[0] == '/elsewhere/python'
    assert runbook.CurrentEnvKernel(kernel_name='python3').kernel_spec.argv[0] == sys.executable


def write_tree(root, **notebooks):
    for name, nb in notebooks.items():
        (root / 'notebooks' / 'x').mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, root / 'notebooks' / 'x' / f'{name}.ipynb')


def run(root, *args):
    return runbook.main([str(root / 'notebooks'), str(root / 'build'), *args])


def test_runbook_executes_and_summarises(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv('D2LMINI_MODE', raising=False)
    check = ('import os, sys\n'
             f'assert sys.executable == {sys.executable!r}, sys.executable\n'
             f'assert os.getcwd() == {str(tmp_path / "notebooks" / "x")!r}, os.getcwd()\n'
             "assert os.environ['D2LMINI_MODE'] == 'reduced'")
    write_tree(tmp_path, tiny=notebook(check, "print('loss 0.5, train acc 0.8, test acc 0.75')"))
    assert run(tmp_path, '--in-place') == 0
    executed = nbformat.read(tmp_path / 'build' / 'x' / 'tiny.ipynb', as_version=4)
    assert executed.cells[-1].outputs[0].text.startswith('loss 0.5')
    assert 'test acc 0.75' in (tmp_path / 'build' / 'x' / 'tiny.html').read_text()
    stored = nbformat.read(tmp_path / 'notebooks' / 'x' / 'tiny.ipynb', as_version=4)
    assert stored.cells[-1].outputs == executed.cells[-1].outputs
    assert 'widgets' not in stored.metadata
    assert re.search(r'^tiny +x +\d+\.\d +0\.750$', capsys.readouterr().out, re.MULTILINE)


def test_runbook_reports_a_failing_notebook_and_runs_the_rest(tmp_path, capsys):
    write_tree(tmp_path, bad=notebook('x = 1', 'raise ValueError("no data")'),
               good=notebook('print(1)'))
    assert run(tmp_path) == 1
    out = capsys.readouterr().out
    assert "x/bad.ipynb failed in cell 3 ('raise ValueError" in out
    assert 'ValueError: no data' in out
    assert re.search(r'^good +x +\d+\.\d +-$', out, re.MULTILINE)
    assert (tmp_path / 'build' / 'x' / 'good.html').exists()


def test_runbook_per_cell_timeout(tmp_path, capsys):
    write_tree(tmp_path, slow=notebook('import time\ntime.sleep(60)'))
    assert run(tmp_path, '--timeout', '1') == 1
    assert "x/slow.ipynb failed in cell 2 ('import time'): CellTimeoutError" in capsys.readouterr().out


def test_runbook_refuses_to_store_machine_paths(tmp_path, capsys):
    source = notebook('import os\nprint(os.getcwd())')
    write_tree(tmp_path, leaky=source)
    assert run(tmp_path, '--in-place') == 1
    assert f'its outputs mention {tmp_path}' in capsys.readouterr().out
    stored = nbformat.read(tmp_path / 'notebooks' / 'x' / 'leaky.ipynb', as_version=4)
    assert stored.cells[-1].outputs == []


def test_runbook_without_notebooks(tmp_path, capsys):
    (tmp_path / 'notebooks' / 'pytorch').mkdir(parents=True)
    assert run(tmp_path) == 0
    assert 'no notebooks yet' in capsys.readouterr().out
    assert not (tmp_path / 'build').exists()


def test_runbook_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(tmp_path)
    assert exc.value.code == 2
    assert 'no folder' in capsys.readouterr().err
