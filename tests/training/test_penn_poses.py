"""The project's one honest accuracy test: pose-only deform3d learns Penn Action's real human motion.

Penn Action's 2326 label files (13 joints per frame from real videos, 15 actions, the official split) live in
../shared/realdata; a user's clone has no such folder and the test skips with the reason. The shipped `penn_poses_cpu`
config is trained at a reduced budget (EPOCHS epochs of FRAMES-frame clips instead of 20 of 24) with the project's own
dataset, transforms, recipe and model, and must beat FLOOR top-1 on the 1068 test clips (chance: 6.7 %); its training
loss must leave chance level (0.9 ln 15) within the warm-up epoch, which in the shipped 20-epoch config is the first
5 % of the steps (the per-step log, log_steps.csv).
"""
import csv, math
from pathlib import Path

import pytest

from deform3d.training.config import load_config
from deform3d.training.train import train

LABELS = Path(__file__).resolve().parents[2].parent / 'shared' / 'realdata' / 'pennaction' / 'labels'
EPOCHS = 3
FRAMES = 16
FLOOR = 0.85        # measured: 88.9 % top-1 (seed 0), 509 s on 2 cores shared with two other trainings


@pytest.mark.skipif(not LABELS.is_dir(),
                    reason=f"Penn Action's real label files {LABELS} are absent (only in the project's workspace)")
def test_pose_only_learns_real_penn_poses(tmp_path):
    # one test view: the floor's
    cfg = load_config('penn_poses_cpu', [f'data.root={LABELS}', f'train.epochs={EPOCHS}', f'model.num_frames={FRAMES}',
                                         'train.log_every=1', 'data.test_clips=1', 'data.test_flip=false'])
    metrics = train(cfg, tmp_path / 'run', progress=False)
    assert metrics['top1'] >= FLOOR, \
        f"pose-only top-1 {metrics['top1']:.4f} on the real Penn poses is below the floor {FLOOR}"
    with open(tmp_path / 'run' / 'log_steps.csv') as f: steps = list(csv.DictReader(f))
    early = [float(r['loss']) for r in steps if int(r['epoch']) == 1]
    assert min(early) < 0.9 * math.log(15), f"the loss stayed at chance level through the warm-up epoch: {early}"
