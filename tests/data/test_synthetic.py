"""Tests of deform3d.data.synthetic and deform3d.data.render: determinism, on-disk formats, and the properties its
classes are designed to have."""
import hashlib, json
from pathlib import Path
import numpy as np
import pytest
from scipy.stats import ks_2samp

from deform3d.data.readers import load_pyskl_pickle, read_penn_label
from deform3d.data.video import read_clip, video_info
from deform3d.data.render import CLASSES, WRISTS, class_table, make_clip, motion_statistics
from deform3d.data.synthetic import write_synthetic

PENN = Path(__file__).resolve().parents[2] / '..' / 'shared' / 'realdata' / 'pennaction' / 'labels'
T, N = 16, 200                     # frames per clip; clips in the main data set (20 per class)


@pytest.fixture(scope='module')
def ds(tmp_path_factory):
    "The same seed written twice (one and two worker processes) and a different seed."
    root = tmp_path_factory.mktemp('syn')
    a = write_synthetic(root / 'a', num_clips=N, seed=0, num_frames=T, workers=1)
    b = write_synthetic(root / 'b', num_clips=N, seed=0, num_frames=T, workers=2)
    c = write_synthetic(root / 'c', num_clips=20, seed=1, num_frames=T, workers=1)
    return {k: (Path(s['out_dir']), s) for k, s in zip('abc', (a, b, c))}


def _frames(root: Path, name: str) -> np.ndarray:
    return read_clip(root / 'videos' / f'{name}.mp4', list(range(T)))


def _anns(root: Path) -> list[dict]:
    return load_pyskl_pickle(root / 'annotations.pkl')['annotations']


def test_determinism(ds):
    (a, _), (b, _), (c, _) = ds['a'], ds['b'], ds['c']
    pa, pb, pc = ((r / 'annotations.pkl').read_bytes() for r in (a, b, c))
    # same seed: same pickle bytes, whatever the workers
    assert hashlib.sha256(pa).digest() == hashlib.sha256(pb).digest()
    assert pa != pc
    names = [x['frame_dir'] for x in _anns(a)]
    for n in names[::7]:
        np.testing.assert_array_equal(_frames(a, n), _frames(b, n))      # same decoded frames
    for n in names[:5]:
        assert (_frames(a, n) != _frames(c, n)).any()                    # another seed renders other clips
    ka, kc = _anns(a)[0]['keypoint'], _anns(c)[0]['keypoint']
    assert not np.allclose(ka, kc)


def test_files_and_frame_counts(ds):
    root, summary = ds['a']
    anns = _anns(root)
    assert len(anns) == N == summary['num_clips']
    meta = json.loads((root / 'meta.json').read_text())
    assert meta['layout'] == 'penn13' and meta['classes'] == [c[0] for c in CLASSES] and meta['seed'] == 0
    assert meta['num_clips'] == N and meta['pose_source'] == 'procedural' and 'version' in meta
    for x in anns[::5]:
        n, h, w, _ = video_info(root / 'videos' / f"{x['frame_dir']}.mp4")      # decord
        assert (n, h, w) == (x['total_frames'], *x['img_shape']) == (T, 64, 64)
        assert x['keypoint'].dtype == np.float32 and x['keypoint'].shape == (1, T, 13, 2)
        assert x['keypoint_score'].dtype == np.float32 and x['keypoint_score'].shape == (1, T, 13)
        assert x['original_shape'] == x['img_shape']
    sc = np.stack([x['keypoint_score'] for x in anns])
    assert 0.02 < (sc == 0).mean() < 0.1 and sc.max() <= 1          # some dropped joints (score 0), the rest confident


def test_class_balance_and_split(ds):
    root, summary = ds['a']
    data = load_pyskl_pickle(root / 'annotations.pkl')
    labels = {x['frame_dir']: x['label'] for x in data['annotations']}
    tr = np.bincount([labels[n] for n in data['split']['train']], minlength=10)
    te = np.bincount([labels[n] for n in data['split']['test']], minlength=10)
    assert (tr == 15).all() and (te == 5).all()                      # 75/25 in every class
    assert not set(data['split']['train']) & set(data['split']['test'])
    assert summary['counts'] == {'train': tr.tolist(), 'test': te.tolist()}


def test_keypoints_on_figure(ds):
    "Decoded pixels at the joints differ from the background rendered without the figure; far from it they do not."
    root, _ = ds['a']
    at_joint, far = [], []
    for i in range(0, 40, 3):
        kp = make_clip(i, seed=0, num_frames=T)['keypoint']
        bg = make_clip(i, seed=0, num_frames=T, figure=False)['frames'].astype(int)
        fr = _frames(root, f'syn{i:05d}').astype(int)
        diff = np.abs(fr - bg).sum(-1)                                   # (T, H, W)
        ij = np.round(kp).astype(int)
        ok = (ij >= 0).all(-1) & (ij[..., 0] < 64) & (ij[..., 1] < 64)
        t = np.broadcast_to(np.arange(T)[:, None], ok.shape)
        at_joint.append(diff[t[ok], ij[ok][:, 1], ij[ok][:, 0]])
        ys, xs = np.mgrid[0:64, 0:64]
        dx, dy = xs[None, None] - kp[..., 0, None, None], ys[None, None] - kp[..., 1, None, None]
        dist = np.sqrt(dx ** 2 + dy ** 2).min(1)
        far.append(diff[dist > 12])
    at_joint, far = np.concatenate(at_joint), np.concatenate(far)
    assert np.median(at_joint) > 4 * np.median(far) + 20, (np.median(at_joint), np.median(far))
    assert (at_joint > 30).mean() > 0.7


def _motion_stats(kp: np.ndarray) -> np.ndarray:
    "Per clip, scale-free: speed of the faster wrist, vertical range of the hips, higher wrist's height above the head."
    kp = kp[0]
    hb = np.ptp(kp[..., 1], axis=1).mean()
    wrist_speed = max(np.linalg.norm(np.diff(kp[:, w], axis=0), axis=-1).mean() for w in WRISTS.values()) / hb
    hips = np.ptp(kp[:, 7:9, 1].mean(1)) / hb
    raise_ = max((kp[:, 0, 1] - kp[:, w, 1]).mean() for w in WRISTS.values()) / hb
    return np.array([wrist_speed, hips, raise_])


def test_appearance_twins_same_motion_other_object(ds):
    root, _ = ds['a']
    anns = _anns(root)
    stats = {k: np.stack([_motion_stats(x['keypoint']) for x in anns if x['label'] == k]) for k in range(10)}
    for row in class_table():
        k, j = row['label'], row['appearance_twin']
        if k > j: continue
        # exactly: the same clip streams rendered as either twin give the same pose and scores, whatever the object
        for i in (k, k + 10):
            ck, cj = make_clip(i, seed=0, num_frames=T, label=k), make_clip(i, seed=0, num_frames=T, label=j)
            np.testing.assert_array_equal(ck['keypoint'], cj['keypoint'])
            np.testing.assert_array_equal(ck['score'], cj['score'])
            assert (ck['frames'] != cj['frames']).any()
        # in the written data: every motion statistic has the same distribution in both twins (20 clips each)
        for s in range(3):
            assert ks_2samp(stats[k][:, s], stats[j][:, s]).pvalue > 1e-3, (row, s)
        # the colour at the holding wrist: red for the ball, blue for the cube
        for label, sign in ((k, 1), (j, -1)):
            red_minus_blue = []
            for x in [x for x in anns if x['label'] == label][:6]:
                fr = _frames(root, x['frame_dir']).astype(float)
                per_wrist = []
                for w in WRISTS.values():
                    ij = np.clip(np.round(x['keypoint'][0, :, w]).astype(int), 0, 63)
                    px = fr[np.arange(T), ij[:, 1], ij[:, 0]]             # (T, 3)
                    per_wrist.append(np.median(px[:, 0] - px[:, 2]))
                red_minus_blue.append(max(per_wrist, key=abs))
            assert np.mean(np.sign(red_minus_blue) == sign) >= 5 / 6, (CLASSES[label][0], red_minus_blue)


def test_motions_separable_in_pose(ds):
    "The five motions are told apart by the keypoints alone: leave-one-out nearest centroid, five statistics, >= 95 %."
    root, _ = ds['a']
    anns = _anns(root)
    X = np.stack([motion_statistics(x['keypoint'][0]) for x in anns])
    y = np.array([CLASSES[x['label']][1] for x in anns])
    X = (X - X.mean(0)) / X.std(0)
    motions = sorted(set(y))
    assert len(motions) == 5
    right = 0
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        centroids = np.stack([X[keep & (y == m)].mean(0) for m in motions])
        right += motions[int(np.argmin(((centroids - X[i]) ** 2).sum(1)))] == y[i]
    assert right / len(X) >= 0.95, right / len(X)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='even'): write_synthetic(tmp_path / 'x', size=(63, 64))
    with pytest.raises(ValueError, match='num_clips'): write_synthetic(tmp_path / 'x', num_clips=0)
    with pytest.raises(FileNotFoundError, match='no Penn Action label files'):
        write_synthetic(tmp_path / 'x', pose_source=tmp_path)


@pytest.mark.skipif(not PENN.exists(),
                    reason='../shared/realdata/pennaction/labels not found (real data is not part of the repository)')
def test_penn_pose_source(tmp_path):
    s = write_synthetic(tmp_path / 'penn', pose_source=PENN, classes=['squat', 'jump_rope'], limit=4, num_frames=T,
                        workers=1)
    assert s['classes'] == ['jump_rope', 'squat'] and s['num_clips'] == 8
    data = load_pyskl_pickle(tmp_path / 'penn' / 'annotations.pkl')
    meta = json.loads((tmp_path / 'penn' / 'meta.json').read_text())
    assert meta['pose_source'] == str(PENN) and meta['classes'] == s['classes']
    for x in data['annotations']:
        real = read_penn_label(PENN / f"{x['frame_dir'][4:]}.mat")
        assert x['label'] == s['classes'].index(real['action'])
        assert (x['frame_dir'] in data['split']['train']) == real['train']            # the official split
        kp = x['keypoint'][0]
        idx = np.round(np.linspace(0, real['nframes'] - 1, T)).astype(int)
        v = kp[real['visibility'][idx]]                                              # visible joints lie in the frame
        assert (v >= -0.5).all() and (v <= 63.5).all()
        assert (x['keypoint_score'][0][~real['visibility'][idx]] == 0).all()          # invisible joints score 0
        # the same motion: the real sequence up to one scale and offset
        ref = real['keypoint'][idx]
        scale = np.ptp(kp[..., 1]) / np.ptp(ref[..., 1])
        np.testing.assert_allclose(kp - kp.mean((0, 1)), (ref - ref.mean((0, 1))) * scale, atol=1e-2)
        assert video_info(tmp_path / 'penn' / 'videos' / f"{x['frame_dir']}.mp4")[0] == T
    with pytest.raises(ValueError, match='not found'):
        write_synthetic(tmp_path / 'y', pose_source=PENN, classes=['juggling'])


def test_round_trip_through_dataset(ds):
    "SyntheticDataset + collate read the written files back: labels, scores and keypoints of the sampled frames."
    from deform3d.data.base import collate
    from deform3d.data.datasets import SyntheticDataset
    root, _ = ds['a']
    by_name = {x['frame_dir']: x for x in _anns(root)}
    test = SyntheticDataset(root, 'test', clip_len=8, img_size=64, train=False)
    assert len(test) == 50 and test.classes == [c[0] for c in CLASSES]
    samples = [test[i] for i in range(4)]
    batch = collate(samples, num_persons=1)
    assert batch['video'].shape == (4, 3, 8, 64, 64) and batch['keypoints'].shape == (4, 1, 8, 13, 2)
    assert batch['scores'].shape == (4, 1, 8, 13)
    for s, label in zip(samples, batch['label'].tolist()):
        ann = by_name[s['name']]
        assert label == ann['label']
        rows = ann['keypoint_score'][0]                                  # (T, 13): every sampled frame is one of them
        for r in s['scores'][0].numpy():                                 # (joints cropped out of the view score 0)
            kept = r > 0
            assert kept.sum() >= 8 and np.abs(rows[:, kept] - r[kept]).max(1).min() < 1e-6
        absent = s['scores'][0] == 0
        assert (s['keypoints'][0][absent] == 0).all()                    # absent joints: zero coordinates
        assert s['video'].std() > 0.1
    train = SyntheticDataset(root, 'train', clip_len=8, img_size=64, train=True, seed=0)
    assert len(train) == 150 and train[0]['video'].shape == (3, 8, 64, 64)
