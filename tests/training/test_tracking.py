"""train.logger=tensorboard: a training run writes TensorBoard event files that hold, read back with TensorBoard's own
reader, the values of its log.csv per epoch, the loss and learning rate of every step, the confusion matrix at every
evaluation and the config; a resumed run continues the step axis without repeating a step."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip('tensorboard', reason="tensorboard is an optional dependency (pip install 'deform3d[tracking]')")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from deform3d.training.config import ConfigError, load_config, validate
from deform3d.data.synthetic import write_synthetic
from deform3d.training.train import train

TINY = ['model.num_frames=4', 'model.img_size=32', 'model.width=4', 'model.depth=1', 'model.num_heads=2',
        'model.mlp_ratio=1.0', 'train.batch_size=8', 'train.warmup_epochs=0.5', 'train.threads=1', 'train.eval_every=1',
        'train.logger=tensorboard']


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp('tb') / 'syn'
    write_synthetic(root, num_clips=40, seed=5, num_frames=8, size=(32, 32), workers=1)
    return root


def events(out: Path) -> EventAccumulator:
    files = list((out / 'tensorboard').glob('events.out.tfevents.*'))
    assert files, f'no event files in {out / "tensorboard"}'
    return EventAccumulator(str(out / 'tensorboard'), size_guidance={'scalars': 0, 'images': 0, 'tensors': 0}).Reload()


def test_event_files_hold_the_logged_scalars(synth, tmp_path):
    out = tmp_path / 'run'
    train(load_config('demo', [f'data.root={synth}', *TINY, 'train.epochs=2']), out, progress=False)
    log, ea = pd.read_csv(out / 'log.csv'), events(out)
    steps = 30 // 8                                                    # 30 training clips, global batch 8, tail dropped
    for col in ('train_loss', 'train_acc', 'lr', 'test_loss', 'test_top1', 'test_mean_class_accuracy'):
        got = ea.Scalars(f'epoch/{col}')
        assert [e.step for e in got] == [steps - 1, 2 * steps - 1], col
        np.testing.assert_allclose([e.value for e in got], log[col], rtol=1e-6, err_msg=col)   # float32 in the events
    loss = ea.Scalars('step/train_loss')
    assert [e.step for e in loss] == list(range(2 * steps))
    # the epoch's training loss is the mean of its steps' losses (every step has the same batch size)
    np.testing.assert_allclose(np.mean([e.value for e in loss[:steps]]), log['train_loss'][0], rtol=1e-5)
    lr = [e.value for e in ea.Scalars('step/lr')]
    assert lr[0] < lr[1] and lr[-1] < max(lr)                           # warm-up, then cosine decay
    assert [e.step for e in ea.Images('confusion')] == [steps - 1, 2 * steps - 1]
    assert ea.Images('confusion')[0].width > 100
    text = ea.Tensors('config/text_summary')[0].tensor_proto.string_val[0].decode()
    assert 'logger: tensorboard' in text and f'root: {synth}' in text

    # resumed with one more epoch: the new steps follow the old ones, none repeated
    train(load_config('demo', [f'data.root={synth}', *TINY, 'train.epochs=3']), out, resume=True, progress=False)
    ea = events(out)
    assert [e.step for e in ea.Scalars('step/train_loss')] == list(range(3 * steps))
    assert [e.step for e in ea.Scalars('epoch/train_loss')] == [steps - 1, 2 * steps - 1, 3 * steps - 1]
    np.testing.assert_allclose([e.value for e in ea.Scalars('epoch/train_loss')],
                               pd.read_csv(out / 'log.csv')['train_loss'], rtol=1e-6)


def test_csv_logger_writes_no_events_and_unknown_loggers_are_refused(synth, tmp_path):
    cfg = load_config('demo', [f'data.root={synth}', *TINY[:-1], 'train.epochs=1'])
    train(cfg, tmp_path / 'csv', progress=False)
    assert (tmp_path / 'csv' / 'log.csv').is_file() and not (tmp_path / 'csv' / 'tensorboard').exists()
    with pytest.raises(ConfigError, match="train.logger 'wandb' is not one of csv, tensorboard"):
        validate(load_config('demo', [f'data.root={synth}', 'train.logger=wandb']))
