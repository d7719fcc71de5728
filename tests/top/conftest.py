"""Fixtures shared by the top floor's tests: a tiny checkpoint trained once per session on a small synthetic set."""
import pytest

from deform3d.training.config import load_config
from deform3d.data.synthetic import write_synthetic
from deform3d.training.train import train

# the tiny model (seconds on a CPU) on 40 clips of 8 frames of 32x32: its accuracy does not matter, only that it runs
TINY = ['model.num_frames=4', 'model.img_size=32', 'model.width=4', 'model.depth=1', 'model.num_heads=2',
        'model.mlp_ratio=1.0', 'train.batch_size=4', 'train.epochs=1', 'train.warmup_epochs=0.5', 'train.threads=1']


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
    "(synthetic set folder, run folder, checkpoint) of the tiny model trained on the synthetic set (Penn-13 layout)."
    tmp = tmp_path_factory.mktemp('tiny')
    syn = tmp / 'syn'
    write_synthetic(syn, num_clips=40, seed=5, num_frames=8, size=(32, 32), workers=1)
    out = tmp / 'run'
    train(load_config('demo', [f'data.root={syn}', *TINY]), out, progress=False)
    return syn, out, out / 'checkpoints' / 'last.pt'
