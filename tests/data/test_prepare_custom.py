"""Tests of `deform3d prepare custom`: a user's class folders or video lists prepared into a tree the custom dataset
reads with the same samples, labels and split; damaged inputs listed, reruns, an interrupted run, `--check`."""
import pickle, subprocess
from pathlib import Path

import numpy as np
import pytest

from deform3d.data.custom import CustomDataset, hash_split
from deform3d.data.datasets import kinect_pose
from deform3d.data.encode import prepared_size, verify_video
from deform3d.data.readers import write_pyskl_pickle
from deform3d.data.video import video_info, write_video
from penn_frames import paint
from test_prepare import (REAL, REAL_NTU, NTU_NAME, hidden_files, interrupted_then_resumed, run_cli, same_annotations,
                          same_place, values_under)

H, W, T = 288, 384, 10                                 # prepared: 256 x 342 (short side 256)
VIDEOS = ['clap/clap0.avi', 'clap/clap1.mp4', 'clap/more/clap2.avi', 'clap/clap3.avi',
          'wave/wave0.avi', 'wave/wave1.avi', 'wave/wave2.avi', 'wave/wave3.avi', 'wave/wave4.avi']


def write_clip(root, rel, seed, T=T, size=(H, W)):
    "A clip with a dot under each of 17 joints; its PYSKL annotation (COCO-17, pixels of the clip)."
    g = np.random.default_rng(seed)
    kp = np.stack([g.uniform(10, size[1] - 10, (1, T, 17)), g.uniform(10, size[0] - 10, (1, T, 17))], -1).round()
    frames = np.zeros((T, *size, 3), np.uint8)
    for t in range(T):
        for x, y in kp[0, t].astype(int): paint(frames[t], x, y, 5)
    p = Path(root) / rel
    write_video(p, frames, codec='mpeg4' if p.suffix == '.avi' else 'libx264')
    return dict(frame_dir=p.stem, label=-1, img_shape=size, original_shape=size, total_frames=T,
                keypoint=kp.astype(np.float32), keypoint_score=np.ones((1, T, 17), np.float32))


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    "Two class folders (one video a folder deeper), a damaged video, a video without a skeleton; root/poses.pkl."
    root = tmp_path_factory.mktemp('custom_raw') / 'mine'
    anns = [write_clip(root, rel, i) for i, rel in enumerate(VIDEOS)]
    held = hash_split([Path(v).stem for v in VIDEOS if v.startswith('wave')])
    bad = root / 'wave' / f'{sorted(held)[0]}.avi'           # damage the clip the hash split holds out
    bad.write_bytes(bad.read_bytes()[:2000])
    write_clip(root, 'clap/no_pose.avi', 99)                 # a video whose skeleton is not in the pickle
    write_pyskl_pickle(root / 'poses.pkl', {}, anns)
    return root, bad


@pytest.fixture(scope='module')
def prepared(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp('custom_prep') / 'prepared'
    rc, stdout, _ = run_cli('prepare', 'custom', '--src', raw[0], '--out', out, '--workers', 2)
    return out, rc, stdout


def records(ds):
    return [(r['name'], r['label']) for r in ds.records]


def test_failures_are_listed(raw, prepared):
    (root, bad), (out, rc, stdout) = raw, prepared
    assert rc == 1 and '8 prepared, 0 already done (skipped), 2 failed' in stdout
    failed = dict(l.split('\t') for l in (out / 'failed.txt').read_text().splitlines())
    assert sorted(failed) == sorted([bad.stem, 'no_pose'])
    assert failed[bad.stem].startswith(f'{bad}: ') and 'no skeleton in' in failed['no_pose']
    assert not hidden_files(out) and not (out / 'wave' / f'{bad.stem}.mp4').exists()


def test_same_samples_labels_and_split(raw, prepared):
    (root, bad), out = raw, prepared[0]
    kw = dict(clip_len=4, img_size=64, train=False)
    for split in ('train', 'test'):
        a, b = CustomDataset(root, split, on_error='skip', **kw), CustomDataset(out, split, **kw)   # b: no problem
        assert b.classes == a.classes == ['clap', 'wave']
        assert records(b) == records(a) and len(b) and bad.stem not in {r['name'] for r in a.records}
        assert all(Path(r['video']).suffix == '.mp4' and Path(r['video']).is_relative_to(out) for r in b.records)
        for i in range(len(b)):
            sa, sb = a[i], b[i]
            # joints at the same place of the crop: the decoded frames are 73 x 97 (raw) and 73 x 98 (prepared,
            # 342 not 341.3 wide), so their centre crops start half a pixel apart
            same_place(sa, sb, 64, 1.0)
            assert (values_under(sb) > 100).all()             # and over the dots painted under them
    # the damaged clip was the one wave clip held out: without the prepared list files the hash split of the
    # remaining four would hold another one out, so the lists are what keeps the split
    assert not [r for r in CustomDataset(out, 'test', **kw).records if r['label'] == 1]
    assert hash_split([Path(v).stem for v in VIDEOS if v.startswith('wave') and Path(v).stem != bad.stem])
    assert (out / 'clap' / 'more' / 'clap2.mp4').is_file()   # the raw tree's folders are mirrored


def test_keypoints_follow_the_resize(raw, prepared):
    root, out = raw[0], prepared[0]
    src = {a['frame_dir']: a for a in pickle.loads((root / 'poses.pkl').read_bytes())['annotations']}
    ann = pickle.loads((out / 'poses.pkl').read_bytes())['annotations']
    assert len(ann) == 8 and prepared_size(H, W, 256) == (256, 342)
    for a in ann:
        assert a['img_shape'] == (256, 342) and a['original_shape'] == (H, W) and a['video_frames'] == T
        rel = a['keypoint'] / [342, 256] - src[a['frame_dir']]['keypoint'] / [W, H]
        assert np.abs(rel).max() < 1e-6                       # the same relative place
        np.testing.assert_array_equal(a['keypoint_score'], src[a['frame_dir']]['keypoint_score'])


def test_rerun_skips_and_check(raw, prepared, tmp_path):
    root, out = raw[0], prepared[0]
    before = {p: p.read_bytes() for p in sorted(out.rglob('*.mp4'))}
    (tmp_path / 'before.pkl').write_bytes((out / 'poses.pkl').read_bytes())
    rc, stdout, _ = run_cli('prepare', 'custom', '--src', root, '--out', out)
    assert rc == 1 and '0 prepared, 8 already done (skipped), 2 failed' in stdout
    assert {p: p.read_bytes() for p in sorted(out.rglob('*.mp4'))} == before
    same_annotations(out / 'poses.pkl', tmp_path / 'before.pkl')
    rc, stdout, _ = run_cli('prepare', '--check', out)
    assert rc == 0 and stdout.strip().splitlines() == [f'deform3d prepare --check: {out}: custom, 8 videos, 0 '
                                                       'problem(s): every video decodes with its frame count and size']
    copy = tmp_path / 'copy'
    subprocess.run(['cp', '-r', str(out), str(copy)], check=True)
    victim = copy / 'wave' / 'wave1.mp4'
    victim.write_bytes(victim.read_bytes()[:600])            # a damaged prepared video
    rc, stdout, _ = run_cli('prepare', '--check', copy)
    lines = stdout.strip().splitlines()
    assert rc == 1 and len(lines) == 2 and lines[0].startswith(f'{victim}: ') and '1 problem(s)' in lines[1]
    rc, stdout, _ = run_cli('prepare', 'custom', '--src', root, '--out', copy)   # the next run redoes it
    assert '1 prepared, 7 already done' in stdout and victim.read_bytes() == (out / 'wave' / 'wave1.mp4').read_bytes()
    assert run_cli('prepare', '--check', copy)[0] == 0
    (copy / 'train.txt').write_text(''.join((copy / 'train.txt').read_text().splitlines(True)[1:]))
    rc, stdout, _ = run_cli('prepare', '--check', copy)       # a prepared video the lists no longer name
    lines = stdout.strip().splitlines()
    assert rc == 1 and len(lines) == 2 and lines[0].startswith(f'{copy}/') and 'not in the list files' in lines[0]


def test_list_files_and_dry_run(raw, tmp_path):
    "Given lists (numbers of a label map in another order), outside the raw folder; a dry run writes nothing."
    root, bad = raw
    lists = tmp_path / 'lists'
    lists.mkdir()
    (lists / 'labels.txt').write_text('wave\nclap\n')
    (lists / 'tr.txt').write_text('clap/clap0.avi 1\nclap/more/clap2.avi 1\nwave/wave0.avi 0\nwave/wave2.avi 0\n'
                                  f'wave/{bad.name} 0\nclap/clap1.mp4 7\n')
    (lists / 'te.txt').write_text('# held out\nclap/clap3.avi 1\nwave/wave3.avi 0\n')
    opts = ['--train-list', lists / 'tr.txt', '--test-list', lists / 'te.txt', '--label-map', lists / 'labels.txt']
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'custom', '--src', root, '--out', out, '--dry-run', *opts)
    assert rc == 0 and not out.exists() and '7 source videos; 0 already prepared, 7 to do' in stdout
    assert "label '7'" in stdout                               # found while planning, named before any work
    rc, stdout, _ = run_cli('prepare', 'custom', '--src', root, '--out', out, *opts)
    assert rc == 1 and '6 prepared' in stdout and '2 failed' in stdout
    kw = dict(train_list=lists / 'tr.txt', test_list=lists / 'te.txt', label_map=lists / 'labels.txt')
    for split in ('train', 'test'):
        a, b = CustomDataset(root, split, on_error='skip', **kw), CustomDataset(out, split)
        assert b.classes == a.classes == ['wave', 'clap'] and records(b) == records(a) and len(b)
    assert (out / 'test.txt').read_text() == 'clap/clap3.mp4 1\nwave/wave3.mp4 0\n'
    assert run_cli('prepare', '--check', out)[0] == 0


def test_bad_command_lines(raw, tmp_path):
    rc, _, err = run_cli('prepare', 'custom', '--src', raw[0], '--out', raw[0] / 'prepared')
    assert rc == 1 and err.count('\n') == 1 and 'inside' in err and not (raw[0] / 'prepared').exists()
    (tmp_path / 'empty').mkdir()
    rc, _, err = run_cli('prepare', 'custom', '--src', tmp_path / 'empty', '--out', tmp_path / 'o')
    assert rc == 1 and err.count('\n') == 1 and 'no class folders with videos' in err


# ---------------------------------------------------------------- an interrupted run
def test_interrupted_run_resumes(tmp_path):
    src = tmp_path / 'raw'
    anns = [write_clip(src, f"{'ab'[i % 2]}/v{i}.avi", i, T=40, size=(270, 480)) for i in range(5)]
    write_pyskl_pickle(src / 'poses.pkl', {}, anns)
    out, ref = interrupted_then_resumed('custom', src, tmp_path, 'poses.pkl')
    for name in ('train.txt', 'test.txt', 'label_map.txt'): assert (out / name).read_text() == (ref / name).read_text()


# ---------------------------------------------------------------- real clips as a custom set
@pytest.mark.skipif(not (REAL_NTU / f'{NTU_NAME}_rgb.avi').exists() or not (REAL / 'videos' / 'test.avi').exists(),
                    reason='real clips are absent (../shared/realdata)')
def test_real_clips_as_a_custom_set(tmp_path):
    "The real 1080p NTU clip with its real Kinect joints and a real 320x240 clip, as two classes."
    src = tmp_path / 'raw'
    clips = {'drink/drink.avi': REAL_NTU / f'{NTU_NAME}_rgb.avi', 'other/other.avi': REAL / 'videos' / 'test.avi'}
    for rel, video in clips.items():
        (src / rel).parent.mkdir(parents=True)
        (src / rel).symlink_to(video)
    kp, sc, shape = kinect_pose(REAL_NTU / f'{NTU_NAME}.skeleton')
    n, h, w, _ = video_info(src / 'other' / 'other.avi')
    anns = [dict(frame_dir='drink', label=-1, img_shape=shape, total_frames=kp.shape[1], keypoint=kp,
                 keypoint_score=sc),
            dict(frame_dir='other', label=-1, img_shape=(h, w), total_frames=n,
                 keypoint=np.full((1, n, 25, 2), [w / 2, h / 2], np.float32),
                 keypoint_score=np.ones((1, n, 25), np.float32))]
    write_pyskl_pickle(src / 'poses.pkl', {}, anns)
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'custom', '--src', src, '--out', out, '--workers', 2)
    assert rc == 0 and '2 prepared' in stdout
    got = {a['frame_dir']: a for a in pickle.loads((out / 'poses.pkl').read_bytes())['annotations']}
    assert got['drink']['img_shape'] == (256, 456) and got['drink']['video_frames'] == 103
    assert got['other']['img_shape'] == (240, 320) and got['other']['video_frames'] == n == 164   # never enlarged
    assert run_cli('prepare', '--check', out)[0] == 0
    kw = dict(clip_len=8, img_size=128, train=False)
    a, b = CustomDataset(src, 'train', **kw), CustomDataset(out, 'train', **kw)
    assert records(a) == records(b) == [('drink', 0), ('other', 1)]
    same_place(a[0], b[0], 128, 0.5)
