"""The learner's own checkpoints (d2lmini.checkpoints), without a framework."""
import json
from pathlib import Path

import pytest

from d2lmini import checkpoints, hub

CONFIG = checkpoints.BERT_CONFIGS['bert.mini']


@pytest.fixture
def learner(tmp_path, monkeypatch):
    """A learner whose data folder is shared and whose checkpoint folder is their own."""
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'shared'))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    monkeypatch.setattr(checkpoints, 'BERT_CONFIGS', dict(checkpoints.BERT_CONFIGS))
    return tmp_path


def save(params, data_hub):
    return checkpoints.save_checkpoint('bert.mine', 'bert.mine.torch.zip', b'["<unk>"]', params,
                                       CONFIG, data_hub)


def test_a_checkpoint_is_saved_in_the_learners_folder_and_read_in_place(learner):
    h = {}
    path = save(b'weights', h)
    assert path == checkpoints.checkpoint_dir() / 'bert.mine.torch.zip'
    assert str(path).startswith(str(learner / 'cache'))
    record = json.loads(Path(f'{path}.json').read_text())
    assert record == {'name': 'bert.mine', 'sha1': hub.sha1_of(path), 'config': CONFIG}
    folder = Path(hub.download_extract('bert.mine', hub=h))
    assert folder == path.parent / 'bert.mine.torch'  # unpacked beside it, not copied
    assert (folder / 'pretrained.params').read_bytes() == b'weights'
    assert not (learner / 'shared').exists() or not list((learner / 'shared').iterdir())
    assert sorted(p.name for p in path.parent.iterdir()) == [
        'bert.mine.torch', 'bert.mine.torch.zip', 'bert.mine.torch.zip.extracted',
        'bert.mine.torch.zip.json']


def test_saved_again_a_checkpoint_is_never_deleted_for_an_old_entry(learner):
    old = {}
    save(b'first', old)
    new = {}
    path = save(b'second', new)
    # A session that registered the first save finds the file changed: it says so, and
    # deletes nothing (the book's download would delete it and fetch again)
    with pytest.raises(hub.DownloadError, match='saved again'):
        hub.download_extract('bert.mine', hub=old)
    assert path.is_file()
    folder = Path(hub.download_extract('bert.mine', hub=new))
    assert (folder / 'pretrained.params').read_bytes() == b'second'
    # A record that does not match its zip (a save stopped between the two) is reported
    Path(f'{path}.json').write_text(json.dumps({'name': 'bert.mine', 'sha1': '0' * 40,
                                                'config': CONFIG}))
    with pytest.raises(ValueError, match='does not match its record .* save it again'):
        checkpoints.register_saved_checkpoint('bert.mine', 'bert.mine.torch.zip', {})


def test_unknown_and_unusable_names(learner):
    with pytest.raises(KeyError, match='copy its two files'):
        checkpoints.register_saved_checkpoint('bert.other', 'bert.other.torch.zip', {})
    with pytest.raises(ValueError, match='cannot name a checkpoint file'):
        checkpoints.save_checkpoint('../bert', 'x.zip', b'[]', b'', CONFIG, {})
