"""Bad input as a user meets it, through the `deform3d` command in a subprocess: one line on stderr naming the file and
what is wrong, a non-zero exit status, no traceback and no decoder chatter; `--help` answers without importing torch."""
import os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch

REAL = Path(__file__).resolve().parents[2] / '..' / 'shared' / 'realdata'
NTU_AVI = REAL / 'ntu' / 'S001C001P001R001A001_rgb.avi'
NTU_SKEL = REAL / 'ntu' / 'S001C001P001R001A001.skeleton'


def run(*args):
    return subprocess.run([sys.executable, '-m', 'deform3d.cli', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})


def one_line_error(r, *needles):
    "The command failed with exactly one line on stderr, `deform3d: error: ...`, containing every needle; no traceback."
    assert r.returncode != 0, r
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f'expected one line on stderr, got:\n{r.stderr}'
    assert lines[0].startswith('deform3d: error: ') and 'Traceback' not in r.stderr, r.stderr
    for n in needles: assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    "A real deform3d checkpoint of a tiny model (13 joints, the Penn Action layout)."
    from deform3d.training.config import load_config
    from deform3d.training.builders import build_model
    from deform3d.training.checkpoint import atomic_save
    cfg = load_config({'model': {'preset': 'tiny', 'num_classes': 3, 'num_joints': 13, 'depth': 1, 'num_frames': 4,
                                 'img_size': 32}})
    p = tmp_path_factory.mktemp('ck') / 'last.pt'
    from deform3d.training.config import to_dict
    atomic_save({'model': build_model(cfg).state_dict(), 'config': to_dict(cfg), 'classes': ['a', 'b', 'c']}, p)
    return p


@pytest.mark.parametrize('kind', ['random', 'empty', 'truncated'])
def test_bad_checkpoint(kind, checkpoint, tmp_path):
    bad = tmp_path / f'{kind}.pt'
    bad.write_bytes({'random': np.random.default_rng(0).bytes(5000), 'empty': b'',
                     'truncated': checkpoint.read_bytes()[:checkpoint.stat().st_size // 2]}[kind])
    video = tmp_path / 'v.mp4'
    video.write_bytes(b'x')
    r = run('predict', bad, video, '--skeleton', tmp_path / 's.mat')
    line = one_line_error(r, str(bad), 'not a deform3d checkpoint')
    assert 'weights_only' not in r.stderr                   # never the advice to load a corrupt file unsafely


@pytest.mark.parametrize('kind', ['empty', 'text'])
def test_bad_video(kind, checkpoint, tmp_path):
    video = tmp_path / f'{kind}.mp4'
    video.write_bytes(b'' if kind == 'empty' else b'this is not a video\n' * 10)
    skel = NTU_SKEL if NTU_SKEL.exists() else None
    if skel is None: pytest.skip('../shared/realdata absent: no real skeleton file')
    mat = next((REAL / 'pennaction' / 'labels').glob('*.mat'))
    r = run('predict', checkpoint, video, '--skeleton', mat)
    one_line_error(r, str(video), 'empty file' if kind == 'empty' else 'cannot open as a video')
    assert 'ERROR opening' not in r.stderr


def test_truncated_video_refused(tmp_path):
    if not NTU_AVI.exists(): pytest.skip('../shared/realdata absent: no real NTU video')
    from deform3d.data.datasets import load_sample
    cut = tmp_path / 'S001C001P001R001A001_rgb.avi'
    cut.write_bytes(NTU_AVI.read_bytes()[:20_000])
    code = (f"from deform3d.data.datasets import load_sample\n"
            f"load_sample({str(cut)!r}, {str(NTU_SKEL)!r}, clip_len=8, img_size=32)")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode != 0 and 'the container declares 103 frames but only 1 can be decoded' in r.stderr
    assert 'error while decoding MB' not in r.stderr        # decoder chatter does not reach the user
    # the whole file is still accepted (the tolerance does not refuse good data)
    assert load_sample(NTU_AVI, NTU_SKEL, clip_len=4, img_size=32)['video'].shape == (3, 4, 32, 32)


def test_other_joint_layout(checkpoint):
    """An NTU (25-joint) skeleton on a 13-joint checkpoint is converted to the checkpoint's layout
    (deform3d.data.skeletons); a joint count of no known layout is one clear error."""
    if not NTU_AVI.exists(): pytest.skip('../shared/realdata absent: no real NTU files')
    r = run('predict', checkpoint, NTU_AVI, '--skeleton', NTU_SKEL, '--topk', '2')
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 2 and 'Traceback' not in r.stderr, r
    from deform3d.api import init_recognizer, inference_recognizer
    rec = init_recognizer(checkpoint)
    twenty = r"the checkpoint expects 13 joints \(its layout 'penn13'\), the skeleton has 20"
    with pytest.raises(ValueError, match=twenty) as e:
        inference_recognizer(rec, NTU_AVI, np.zeros((1, 103, 20, 2), np.float32))
    assert '\n' not in str(e.value)
    ntu = np.zeros((1, 103, 25, 2), np.float32)
    hint = r"\(the 'ntu25' or 'openpose25' layout: pass layout= to convert it\)"
    with pytest.raises(ValueError, match=r"expects 13 joints .* has 25 " + hint):
        inference_recognizer(rec, NTU_AVI, ntu)
    assert inference_recognizer(rec, NTU_AVI, ntu, layout='ntu25').labels     # converted when named


def test_empty_split(tmp_path):
    from deform3d.data.synthetic import write_synthetic
    root = tmp_path / 'syn'
    write_synthetic(root, num_clips=4, seed=0, num_frames=4, size=(32, 32), workers=1)
    import pickle
    ann = pickle.loads((root / 'annotations.pkl').read_bytes())
    ann['split']['test'] = []
    (root / 'annotations.pkl').write_bytes(pickle.dumps(ann))
    r = run('train', 'demo', '--set', f'data.root={root}', '--set', 'train.epochs=1', '--out', tmp_path / 'run',
            '--quiet')
    one_line_error(r, str(root), "'test' split of synthetic has no clips", 'found 0 samples',
                   'expected annotations.pkl')


def test_debug_shows_traceback(tmp_path):
    bad = tmp_path / 'x.pt'
    bad.write_bytes(b'')
    r = run('--debug', 'predict', bad, tmp_path / 'v.mp4', '--skeleton', tmp_path / 's.mat')
    assert r.returncode == 1 and 'Traceback' in r.stderr and 'deform3d: error:' in r.stderr


COMMANDS = ('synth', 'train', 'eval', 'predict', 'report', 'config', 'reproduce')


@pytest.mark.parametrize('argv', [['--help'], *[[c, '--help'] for c in COMMANDS]])
def test_help_without_torch(argv):
    code = ("import sys; from deform3d.cli import main\n"
            "try: main(sys.argv[1:])\nexcept SystemExit as e: assert e.code == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    r = subprocess.run([sys.executable, '-c', code, *argv], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'usage: deform3d' in r.stdout


def test_every_option_has_help():
    import argparse
    from deform3d.cli import _parser
    p = _parser()
    subs = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [(name, a.dest) for name, sp in [('', p), *subs.items()] for a in sp._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert not missing, f'options without help text: {missing}'
