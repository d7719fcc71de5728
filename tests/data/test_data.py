"""Tests of deform3d.data.transforms, deform3d.data.base and deform3d.data.datasets on fixtures written by code, and on
the real NTU sample when present."""
import json, pickle, shutil, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deform3d.data.base import SampleError, collate, fit_persons
from deform3d.data.datasets import (NTU, PENN_ACTION_CLASSES, FineGYM, PennAction, SyntheticDataset, gym_clip_key,
                                    load_sample)
from deform3d.data.readers import write_ntu_skeleton, write_penn_label, write_pyskl_pickle
from deform3d.data.video import read_clip, write_video
from penn_frames import paint, write_penn
from deform3d.data.transforms import ClipTransform, denormalize, get_layout, sample_indices

REAL = Path(__file__).resolve().parents[2] / '..' / 'shared' / 'realdata'
REAL_NTU, REAL_PENN = REAL / 'ntu', REAL / 'pennaction'
NTU_NAME = 'S001C001P001R001A001'


# ---------------------------------------------------------------- fixtures written by code
@pytest.fixture(scope='module')
def counter_root(tmp_path_factory):
    "PYSKL pickle + mp4s: frame t has grey level 20 + 5t; the pose encodes t as a ratio of joint y offsets."
    root = tmp_path_factory.mktemp('counter')
    T, S = 40, 96
    t = np.arange(T)
    anns = []
    for i, name in enumerate(['c0', 'c1', 'c2', 'c3']):
        grey = (20 + 5 * t).astype(np.uint8)[:, None, None, None]
        write_video(root / 'videos' / f'{name}.mp4', np.ascontiguousarray(np.broadcast_to(grey, (T, S, S, 3))))
        kp = np.zeros((2, T, 13, 2), np.float32)
        kp[..., 0], kp[..., 1] = S / 2, 45
        kp[:, :, 0, 1], kp[:, :, 3:5, 1] = 40, 50
        kp[:, :, 1:3, 1] = 40 + t[None, :, None] / 4
        score = np.ones((2, T, 13), np.float32)
        score[1] *= 0.1 * (i + 1)                    # a second, less confident person
        anns.append(dict(frame_dir=name, label=i % 3, img_shape=(S, S), total_frames=T, keypoint=kp,
                         keypoint_score=score))
    write_pyskl_pickle(root / 'annotations.pkl', {'train': ['c0', 'c1', 'c2'], 'test': ['c3']}, anns)
    (root / 'meta.json').write_text(json.dumps({'layout': 'penn13', 'classes': ['p', 'q', 'r']}))
    return root


def frame_numbers(video, keypoints):
    "(from pixels, from pose) frame numbers of one clip: video (3,T,H,W), keypoints (M,T,V,2)."
    px = ((denormalize(video).mean((0, 2, 3)) - 20) / 5).round()
    y = keypoints[0, :, :, 1]
    pose = ((y[:, 1] - y[:, 0]) / (y[:, 3] - y[:, 0]) * 40).round()
    return px, pose


@pytest.fixture(scope='module')
def penn_root(tmp_path_factory):
    return write_penn(tmp_path_factory.mktemp('penn'), [('0001', 'bowl', True), ('0002', 'squat', True),
                                                         ('0003', 'pushup', False), ('0004', 'tennis_serve', True)])


def write_ntu(root, name, T_skel=12, T_video=12, persons=1, layout='official', seed=0):
    "An NTU sample: 1920x1080 skeleton coordinates over a 480x270 video with a bright dot under each joint."
    sk_dir, rgb_dir = (root / 'nturgb+d_skeletons', root / 'nturgb+d_rgb') if layout == 'official' else (root, root)
    sk_dir.mkdir(parents=True, exist_ok=True)
    rgb_dir.mkdir(parents=True, exist_ok=True)
    g = np.random.default_rng(seed)
    xy = np.stack([g.uniform(700, 1220, (persons, T_skel, 25)), g.uniform(250, 850, (persons, T_skel, 25))], -1)
    frames = np.zeros((T_video, 270, 480, 3), np.uint8)
    for t in range(min(T_skel, T_video)):
        for x, y in (xy[:, t].reshape(-1, 2) / 4).astype(int): paint(frames[t], x, y, 6)
    write_video(rgb_dir / f'{name}_rgb.avi', frames, codec='mpeg4')
    rows = np.zeros((persons, T_skel, 25, 12))
    rows[..., 5:7], rows[..., 11] = xy, 2
    bodies = [[(1000 + m, rows[m, t]) for m in range(persons)] for t in range(T_skel)]
    write_ntu_skeleton(sk_dir / f'{name}.skeleton', bodies)


def values_under(sample, clip=None):
    "Brightness of the output frames under every present keypoint of every person."
    video, kp, sc = sample['video'], sample['keypoints'], sample['scores']
    if clip is not None: video, kp, sc = video[clip], kp[clip], sc[clip]
    img = denormalize(video).mean(0)                                     # (T, H, W)
    ix = kp.round().long()
    t = torch.arange(img.shape[0]).view(1, -1, 1).expand_as(sc)
    present = sc > 0
    return img[t, ix[..., 1], ix[..., 0]][present], present


# ---------------------------------------------------------------- transforms
def test_layouts_flip_pairs_are_involutions():
    for name, V in (('penn13', 13), ('ntu25', 25), ('coco17', 17)):
        lay = get_layout(name)
        assert lay.num_joints == V
        p = lay.flip_index
        assert [p[q] for q in p] == list(range(V)) and p != list(range(V))
        for a, b in lay.flip_pairs:
            assert lay.joints[a].startswith('left') and lay.joints[b] == 'right' + lay.joints[a][4:]


@pytest.mark.parametrize('n', [1, 5, 11, 12, 13, 30, 97, 500])
def test_sampling_properties(n):
    T = 12
    for train in (True, False):
        ix = sample_indices(n, T, num_clips=4, train=train, rng=np.random.default_rng(n))
        assert ix.shape == (4, T) and ix.min() >= 0 and ix.max() < n
        assert (np.diff(ix, axis=1) >= 0).all()
        if n >= T: assert (np.diff(ix, axis=1) > 0).all()
    a = sample_indices(n, T, rng=np.random.default_rng(7))
    assert (a == sample_indices(n, T, rng=np.random.default_rng(7))).all()
    assert (sample_indices(n, T, train=False) == sample_indices(n, T, train=False)).all()
    if n >= 4 * T:
        test = sample_indices(n, T, num_clips=4, train=False)
        assert len({tuple(c) for c in test.tolist()}) == 4
    if n > 2 * T:
        draws = {tuple(sample_indices(n, T, rng=np.random.default_rng(s))[0]) for s in range(20)}
        assert len(draws) > 1


def test_painted_dots_follow_every_transform():
    g = np.random.default_rng(0)
    T, H, W = 4, 90, 140
    kp = np.stack([g.integers(3, W - 3, (2, T, 17)), g.integers(3, H - 3, (2, T, 17))], -1).astype(np.float32)
    frames = np.zeros((T, H, W, 3), np.uint8)
    for t in range(T):
        for x, y in kp[:, t].reshape(-1, 2).astype(int): paint(frames[t], x, y, 2)
    scores = np.ones(kp.shape[:-1], np.float32)
    kp[1, 0, 0] = np.nan                                     # a NaN joint becomes absent
    for size in (48, 112):
        for train in (True, False):
            tf = ClipTransform(img_size=size, train=train, layout='coco17')
            flips = 0
            for seed in range(30):
                out = tf(frames, kp, scores, rng=np.random.default_rng(seed))
                vals, present = values_under(out)
                assert (vals > 150).all(), (size, train, seed)
                assert out['scores'][1, 0, 0] == 0                 # the NaN joint (the nose: no flip partner) is absent
                assert (out['keypoints'][~present] == 0).all() and (out['scores'][~present] == 0).all()
                flips += tf.params(H, W, np.random.default_rng(seed))[1]
            assert (4 < flips < 26) if train else flips == 0


def test_flip_swaps_left_and_right():
    class AlwaysFlip(ClipTransform):
        def params(self, height, width, rng=None): return (0, 0, width, height), True
    lay = get_layout('coco17')
    kp = torch.zeros(1, 1, 17, 2)
    kp[..., 0], kp[..., 1] = torch.arange(17.) * 3 + 5, 20
    sc = torch.linspace(0.1, 1, 17).view(1, 1, 17)
    out = AlwaysFlip(img_size=64, layout='coco17')(np.zeros((1, 64, 64, 3), np.uint8), kp, sc)
    for a, b in lay.flip_pairs:
        assert out['keypoints'][0, 0, a, 0] == pytest.approx(63 - kp[0, 0, b, 0].item())
        assert out['scores'][0, 0, a] == sc[0, 0, b] and out['scores'][0, 0, b] == sc[0, 0, a]
    assert out['keypoints'][0, 0, 0, 0] == pytest.approx(63 - 5)                 # the nose stays the nose


# ---------------------------------------------------------------- the shared pipeline
def test_rgb_and_pose_use_the_same_frames(counter_root):
    ds = SyntheticDataset(counter_root, 'train', clip_len=8, img_size=48, seed=0)
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            s = ds[i]
            px, pose = frame_numbers(s['video'], s['keypoints'])
            assert torch.equal(px, pose) and (px.diff() > 0).all() and px.max() < 40
    dt = SyntheticDataset(counter_root, 'test', clip_len=8, img_size=48, num_clips=3)
    s = dt[0]
    seen = set()
    for k in range(3):
        px, pose = frame_numbers(s['video'][k], s['keypoints'][k])
        assert torch.equal(px, pose)
        seen.add(tuple(px.tolist()))
    assert len(seen) == 3


def test_contract_shapes_and_dtypes(counter_root):
    ds = SyntheticDataset(counter_root, 'train', clip_len=6, img_size=32, num_persons=3)
    s = ds[1]
    assert s['video'].shape == (3, 6, 32, 32)
    assert s['keypoints'].shape == (3, 6, 13, 2) and s['scores'].shape == (3, 6, 13)
    assert all(s[k].dtype == torch.float32 for k in ('video', 'keypoints', 'scores'))
    assert isinstance(s['label'], int) and s['label'] == 1 and s['index'] == 1 and s['name'] == 'c1'
    assert s['scores'][2].sum() == 0                                   # padded person
    b = collate([ds[0], ds[1], ds[2]], num_persons=1)
    assert b['video'].shape == (3, 3, 6, 32, 32) and b['keypoints'].shape == (3, 1, 6, 13, 2)
    assert b['label'].dtype == torch.long and b['label'].tolist() == [0, 1, 2] and b['name'] == ['c0', 'c1', 'c2']
    assert (b['scores'][:, 0] > 0.5).any()                              # the confident person was kept
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate)
    assert next(iter(loader))['video'].shape == (2, 3, 6, 32, 32)
    k = SyntheticDataset(counter_root, 'test', clip_len=6, img_size=32, num_clips=2, num_persons=2)[0]
    assert k['video'].shape == (2, 3, 6, 32, 32)
    assert k['keypoints'].shape == (2, 2, 6, 13, 2) and k['scores'].shape == (2, 2, 6, 13)
    assert collate([k, k])['video'].shape == (2, 2, 3, 6, 32, 32)


def test_load_sample_from_a_pickle(counter_root):
    s = load_sample(counter_root / 'videos' / 'c1.mp4', counter_root / 'annotations.pkl', clip_len=8, img_size=48,
                    num_clips=2)
    assert s['keypoints'].shape == (2, 2, 8, 13, 2) and s['video'].shape == (2, 3, 8, 48, 48)
    for k in range(2):
        px, pose = frame_numbers(s['video'][k], s['keypoints'][k])
        assert torch.equal(px, pose)
    with pytest.raises(ValueError, match="annotations.pkl: no annotation with frame_dir 'zz'"):
        load_sample(counter_root / 'videos' / 'c1.mp4', counter_root / 'annotations.pkl', frame_dir='zz')
    assert len(SyntheticDataset(counter_root, 'val')) == 1            # 'val' falls back to the pickle's 'test' split


def test_fit_persons_truncates_by_total_score():
    kp = torch.randn(4, 3, 5, 2)
    sc = torch.tensor([0.3, 0.9, 0.1, 0.9]).view(4, 1, 1).expand(4, 3, 5).clone()
    k, s = fit_persons(kp, sc, 2)
    assert torch.equal(k, kp[[1, 3]]) and torch.equal(s, sc[[1, 3]])
    k, s = fit_persons(kp, sc, 6)
    assert torch.equal(k[:4], kp[[1, 3, 0, 2]]) and s[4:].sum() == 0 and k[4:].abs().sum() == 0


# ---------------------------------------------------------------- Penn Action
def test_penn_action(penn_root):
    ds = PennAction(penn_root, 'train', clip_len=5, img_size=64, seed=3)
    assert [r['name'] for r in ds.records] == ['0001', '0002', '0004']
    assert [r['label'] for r in ds.records] == [PENN_ACTION_CLASSES.index(a) for a in ('bowl', 'squat', 'tennis_serve')]
    assert list(PENN_ACTION_CLASSES) == sorted(PENN_ACTION_CLASSES) and len(PENN_ACTION_CLASSES) == 15
    for epoch in range(6):
        ds.set_epoch(epoch)
        vals, present = values_under(ds[epoch % 3])
        assert present.sum() > 10 and (vals > 150).all()
    test = PennAction(penn_root, 'test', clip_len=5, img_size=64, num_clips=2)
    assert len(test) == 1 and test[0]['video'].shape == (2, 3, 5, 64, 64)
    vals, _ = values_under(test[0], clip=1)
    assert (vals > 150).all()


def test_penn_bad_inputs(tmp_path):
    root = write_penn(tmp_path, [('0001', 'bowl', True), ('0002', 'moonwalk', True), ('0003', 'squat', True)], T=3)
    (root / 'labels' / '0004.mat').write_bytes(b'MATLAB 5.0 MAT-file, truncated')
    shutil.rmtree(root / 'frames' / '0003')
    with pytest.raises(Exception, match='0002.mat'):           # unknown label (files are read in order; 0002 first bad)
        PennAction(root, 'train')
    ds = PennAction(root, 'train', on_error='skip', clip_len=3, img_size=32)
    assert len(ds) == 1
    assert ds.summary()['skipped'] == {'unknown label': 1, 'missing frames': 1, 'unreadable annotation': 1}
    assert {n for n, _, _ in ds.skipped} == {'0002', '0003', '0004'}
    assert any('0004.mat' in msg for _, _, msg in ds.skipped)


@pytest.mark.skipif(not (REAL_PENN / 'labels').is_dir(),
                    reason='real Penn Action labels (../shared/realdata/pennaction) are absent')
def test_real_penn_labels_official_split():
    "All 2326 real label files parse, every action is a known class, and the split is the official 1258 / 1068."
    for split, n in (('train', 1258), ('test', 1068)):
        ds = PennAction(REAL_PENN, split, on_error='skip')      # the real folder has no frames: every sample is skipped
        assert len(ds) == 0 and ds.summary()['skipped'] == {'missing frames': n}


# ---------------------------------------------------------------- NTU
def test_ntu_kinect_layouts_and_dots(tmp_path):
    write_ntu(tmp_path / 'a', 'S001C002P001R001A010', persons=2)                       # official archive layout
    write_ntu(tmp_path / 'b', 'S002C001P003R002A005', layout='flat', seed=1)         # flat layout
    for root, label, split in ((tmp_path / 'a', 9, 'train'), (tmp_path / 'b', 4, 'val')):
        ds = NTU(root, 60, 'xview', split, clip_len=4, img_size=64, train=True, seed=0, num_persons=2)
        assert len(ds) == 1 and ds[0]['label'] == label
        for e in range(4):
            ds.set_epoch(e)
            s = ds[0]
            assert s['keypoints'].shape == (2, 4, 25, 2)
            vals, present = values_under(s)
            assert present.sum() > 20 and (vals > 100).all()
    val = NTU(tmp_path / 'b', 60, 'xview', 'val', train=False, num_persons=2, clip_len=4, img_size=64)
    assert val[0]['scores'][1].sum() == 0


def test_ntu_missing_video_and_frame_mismatch(tmp_path):
    write_ntu(tmp_path, 'S001C001P001R001A001', T_skel=12, T_video=9)
    write_ntu(tmp_path, 'S001C001P002R001A002')
    (tmp_path / 'nturgb+d_rgb' / 'S001C001P002R001A002_rgb.avi').unlink()
    with pytest.raises(FileNotFoundError, match='S001C001P002R001A002.skeleton'):
        NTU(tmp_path, 60, 'xsub', 'train')
    ds = NTU(tmp_path, 60, 'xsub', 'train', on_error='skip', clip_len=12, img_size=32)
    assert len(ds) == 1 and ds.summary()['skipped'] == {'missing video': 1}
    with pytest.warns(UserWarning, match='video has 9 frames, pose 12'):
        s = ds[0]
    assert ds.summary()['frame_mismatch'] == 1
    # frames 9..11 of the skeleton were never sampled: frames repeat instead (12 indices from 9 frames)
    assert s['video'].shape[1] == 12


def test_ntu_hrnet_pickle(tmp_path):
    names = ['S001C001P001R001A003', 'S001C001P003R001A004']
    anns = []
    for i, n in enumerate(names):
        write_video(tmp_path / 'nturgbd_videos' / f'{n}.mp4', np.full((8, 54, 96, 3), 60, np.uint8))
        anns.append(dict(frame_dir=n, label=i + 2, img_shape=(1080, 1920), total_frames=8,
                         keypoint=np.tile(np.float32([960, 540]), (1, 8, 17, 1)),
                         keypoint_score=np.ones((1, 8, 17), np.float32)))
    write_pyskl_pickle(tmp_path / 'ntu60_hrnet.pkl', {'xsub_train': [names[0]], 'xsub_val': [names[1]]}, anns)
    ds = NTU(tmp_path, 60, 'xsub', 'val', skeleton='hrnet', clip_len=4, img_size=32)
    s = ds[0]
    assert len(ds) == 1 and s['name'] == names[1] and s['label'] == 3 and s['keypoints'].shape == (2, 4, 17, 2)
    # the centre of the 1080x1920 frame (its keypoints' frame, not the 54x96 video) -> the centre of the 32x32 crop
    assert torch.allclose(s['keypoints'][0], torch.tensor([15.5, 15.5]).expand(4, 17, 2), atol=0.6)


@pytest.mark.skipif(not (REAL_NTU / f'{NTU_NAME}.skeleton').exists(),
                    reason='real NTU sample (../shared/realdata/ntu) is absent')
def test_real_ntu_keypoints_land_on_the_person():
    for train, seed in ((False, None), (True, 0), (True, 1)):
        ds = NTU(REAL_NTU, 60, 'xsub', 'train', clip_len=8, img_size=224, train=train, seed=seed,
                 classes=REAL_NTU / 'label_map_ntu60.txt')
        assert [r['name'] for r in ds.records] == [NTU_NAME] and ds.classes[0] == 'drink water'
        s = ds[0]
        assert s['label'] == 0 and s['video'].shape == (3, 8, 224, 224) and s['keypoints'].shape == (2, 8, 25, 2)
        kp, sc = s['keypoints'][0], s['scores'][0]
        assert sc.mean() > 0.9 and s['scores'][1].sum() == 0
        lo, hi = kp[sc > 0].min(0).values, kp[sc > 0].max(0).values
        assert (lo >= 0).all() and (hi < 224).all() and hi[0] - lo[0] > 8 and hi[1] - lo[1] > 50   # a standing person
        # the actor moves (drinks), the room does not: the deviation from the temporal median is concentrated in
        # the joints' box
        img = denormalize(s['video']).mean(0)
        dev = (img - img.median(0).values).abs().mean(0)
        box = torch.zeros(224, 224, dtype=torch.bool)
        box[int(lo[1]):int(hi[1]) + 1, int(lo[0]):int(hi[0]) + 1] = True
        assert dev[box].mean() > 5 * dev[~box].mean()
    one = load_sample(REAL_NTU / f'{NTU_NAME}_rgb.avi', REAL_NTU / f'{NTU_NAME}.skeleton', clip_len=8, img_size=224)
    test = NTU(REAL_NTU, 60, 'xsub', 'train', clip_len=8, img_size=224, train=False)[0]
    assert one['keypoints'].shape == (1, 8, 25, 2)
    assert torch.equal(one['video'], test['video']) and torch.equal(one['keypoints'][0], test['keypoints'][0])


# ---------------------------------------------------------------- FineGYM
def test_finegym_name_forms_and_list(tmp_path):
    clips = ['A0xAXXysHUo_E_002184_002237_A_0035_0036', 'AZ4wWG6Rcak_E_003643_003675_A_0024_0026']
    assert gym_clip_key(clips[0]) == gym_clip_key('A0xAXXysHUo_002184_002237_0035_0036')
    anns = []
    for i, c in enumerate(clips):
        write_video(tmp_path / 'subactions' / f'{c}.mp4', np.full((6, 32, 64, 3), 70, np.uint8))
        fd = c if i == 0 else c.replace('_E_', '_').replace('_A_', '_')       # both forms in one pickle
        anns.append(dict(frame_dir=fd, label=10 + i, img_shape=(32, 64), total_frames=6,
                         keypoint=np.full((1, 6, 17, 2), 20, np.float32),
                         keypoint_score=np.ones((1, 6, 17), np.float32)))
    write_pyskl_pickle(tmp_path / 'gym_hrnet.pkl', {'train': [a['frame_dir'] for a in anns], 'val': []}, anns)
    ds = FineGYM(tmp_path, 'train', clip_len=4, img_size=32)
    assert len(ds) == 2 and [ds[i]['label'] for i in range(2)] == [10, 11]
    listed = f'{clips[1]} 93\r\n{clips[0]} 5\r\nzzzzzzzzzzz_E_000001_000002_A_0001_0002 1'
    (tmp_path / 'list.txt').write_bytes(listed.encode())
    with pytest.raises(ValueError, match='zzzzzzzzzzz'):
        FineGYM(tmp_path, 'val', list_file=tmp_path / 'list.txt')
    ds = FineGYM(tmp_path, 'val', list_file=tmp_path / 'list.txt', on_error='skip', clip_len=4, img_size=32)
    assert [(r['label']) for r in ds.records] == [93, 5] and ds.summary()['skipped'] == {'missing pose': 1}
    with pytest.raises(ValueError, match='label 120'):
        (tmp_path / 'big.txt').write_text(f'{clips[0]} 120\n')
        FineGYM(tmp_path, 'val', list_file=tmp_path / 'big.txt')


# ---------------------------------------------------------------- bad input at load time / corrupt files
def test_bad_video_and_corrupt_pickle(counter_root, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(counter_root, root)
    (root / 'videos' / 'c1.mp4').write_bytes(b'\x00' * 100)
    ds = SyntheticDataset(root, 'train', clip_len=4, img_size=32)
    with pytest.raises(SampleError, match='c1.mp4'):
        ds[1]
    ds = SyntheticDataset(root, 'train', clip_len=4, img_size=32, on_error='skip')
    assert ds[1]['name'] == 'c2' and ds.summary()['failed'] == 1 and ds.failed[0][0] == 'c1'
    (root / 'videos' / 'c2.mp4').unlink()
    with pytest.raises(FileNotFoundError, match="'c2'"):
        SyntheticDataset(root, 'train')
    assert SyntheticDataset(root, 'train', on_error='skip').summary()['skipped'] == {'missing video': 1}
    (root / 'annotations.pkl').write_bytes((counter_root / 'annotations.pkl').read_bytes()[:200])
    with pytest.raises(pickle.UnpicklingError, match='annotations.pkl'):
        SyntheticDataset(root, 'train', on_error='skip')
    with pytest.raises(ValueError, match="on_error"):
        SyntheticDataset(counter_root, 'train', on_error='ignore')


def test_unknown_label_in_pickle(counter_root, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(counter_root, root)
    (root / 'meta.json').write_text(json.dumps({'layout': 'penn13', 'classes': ['p', 'q']}))   # label 2 is now unknown
    with pytest.raises(ValueError, match=r"annotations.pkl: label 2 of 'c2'"):
        SyntheticDataset(root, 'train')
    assert SyntheticDataset(root, 'train', on_error='skip').summary() == dict(
        samples=2, skipped={'unknown label': 1}, failed=0, frame_mismatch=0)


def test_reads_the_synthetic_writer(tmp_path):
    synthetic = pytest.importorskip('deform3d.data.synthetic')
    summary = synthetic.write_synthetic(tmp_path, num_clips=6, seed=0, num_frames=12, size=(64, 64), workers=1)
    meta = json.loads((tmp_path / 'meta.json').read_text())
    for split, counts in summary['counts'].items():
        ds = SyntheticDataset(tmp_path, split, clip_len=6, img_size=32)
        assert len(ds) == sum(counts) and ds.summary()['skipped'] == {}
        if not len(ds): continue
        s = ds[0]
        assert s['video'].shape == (3, 6, 32, 32) and s['keypoints'].shape == (1, 6, 13, 2)
        assert 0 <= s['label'] < len(meta['classes'])
