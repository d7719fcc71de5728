"""Tests of deform3d.data.readers: real files from ../shared/realdata (skipped when absent), format-exact fixtures."""
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from deform3d.data.readers import (load_pyskl_pickle, ntu_split, parse_ntu_name, read_gym_labels, read_label_map,
                                   read_ntu_missing, read_ntu_skeleton, read_penn_label, write_ntu_skeleton,
                                   write_pyskl_pickle)
from deform3d.data.video import read_clip, video_info, write_video

REAL = Path(__file__).resolve().parents[2].parent / 'shared' / 'realdata'
real = pytest.mark.skipif(not REAL.is_dir(),
                          reason=f"real data folder {REAL} is absent (only present in the project's workspace)")
NTU_SAMPLE = 'S001C001P001R001A001'


# ---------------------------------------------------------------- real files: NTU RGB+D

@pytest.fixture(scope='module')
def ntu_skel():
    return read_ntu_skeleton(REAL / 'ntu' / f'{NTU_SAMPLE}.skeleton')


@real
def test_real_ntu_skeleton_structure(ntu_skel):
    s = ntu_skel
    assert s['total_frames'] == 103
    assert s['body_ids'].tolist() == [72057594037931101] and s['body_ids'].dtype == np.uint64
    assert s['keypoint3d'].shape == (1, 103, 25, 3) and s['keypoint3d'].dtype == np.float32
    assert s['keypoint2d'].shape == (1, 103, 25, 2) and s['depth2d'].shape == (1, 103, 25, 2)
    assert s['present'].all() and (s['num_bodies'] == 1).all()
    assert set(np.unique(s['tracking_state'])) <= {0, 1, 2}
    # values as written in the file (frame 1, 51, 103; joints 1 = spine base and 12 = right hand)
    np.testing.assert_allclose(s['keypoint3d'][0, 0, 0], [0.2181153, 0.1725972, 3.785547], rtol=1e-6)
    np.testing.assert_allclose(s['depth2d'][0, 0, 0], [277.419, 191.8218], rtol=1e-6)
    np.testing.assert_allclose(s['keypoint2d'][0, 0, 0], [1036.233, 519.1677], rtol=1e-6)
    np.testing.assert_allclose(s['orientation'][0, 0, 0], [-0.2059419, 0.05349901, 0.9692109, -0.1239193], rtol=1e-6)
    np.testing.assert_allclose(s['keypoint3d'][0, 50, 11], [0.1839406, 0.6287502, 3.44906], rtol=1e-6)
    np.testing.assert_allclose(s['keypoint2d'][0, 50, 11], [1033.527, 374.7117], rtol=1e-6)
    assert s['tracking_state'][0, 50, 11] == 1 and s['tracking_state'][0, 0, 11] == 2
    np.testing.assert_allclose(s['keypoint2d'][0, 102, 0], [1036.801, 520.5355], rtol=1e-6)
    # A001 "drink water": the right hand is raised (y up in camera space, up in the image) mid-clip
    assert s['keypoint3d'][0, 50, 11, 1] > s['keypoint3d'][0, 0, 11, 1] + 0.2
    assert s['keypoint2d'][0, 50, 11, 1] < s['keypoint2d'][0, 0, 11, 1] - 50


@real
def test_real_ntu_video_and_projection(ntu_skel):
    avi = REAL / 'ntu' / f'{NTU_SAMPLE}_rgb.avi'
    assert video_info(avi) == (103, 1080, 1920, 30.0)
    kp = ntu_skel['keypoint2d'][0]                                  # (T, 25, 2) colour pixels
    assert (kp[..., 0] > 0).all() and (kp[..., 0] < 1920).all() and (kp[..., 1] > 0).all() and (kp[..., 1] < 1080).all()
    h = kp[..., 1].max(1) - kp[..., 1].min(1)
    assert (h > 200).all() and (h < 1080).all()                     # a person-sized box in every frame
    # the projected joints land on the person: pixels inside the joints' box (frames 1 and 51, +10 px) change between
    # those frames (the arm moves to drink) far more than the (static) background outside it
    H, W = 270, 480
    f = read_clip(avi, [0, 50], size=(H, W)).astype(np.float32)
    assert f.shape == (2, H, W, 3)
    diff = np.abs(f[1] - f[0]).mean(-1)
    j = kp[[0, 50]].reshape(-1, 2) * [W / 1920, H / 1080]
    (x0, y0), (x1, y1) = j.min(0) - 10, j.max(0) + 10
    yy, xx = np.mgrid[:H, :W]
    inside = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
    assert 0.01 < inside.mean() < 0.2
    assert diff[inside].mean() > 5 * diff[~inside].mean()


@real
def test_real_other_videos():
    assert video_info(REAL / 'ntu/ntu_sample_two_person.avi') == (72, 1080, 1920, 30.0)
    assert video_info(REAL / 'videos/test.avi')[:3] == (164, 240, 320)
    n, h, w, fps = video_info(REAL / 'videos/demo.mp4')
    assert (h, w) == (256, 340) and n > 100
    clip = read_clip(REAL / 'videos/test.mp4', [0, 299, 150])
    assert clip.shape == (3, 256, 340, 3) and clip.dtype == np.uint8 and clip.std() > 10


@real
def test_real_ntu_splits():
    names = (REAL / 'ntu/skes_available_name.txt').read_text().split()
    assert len(names) == len(set(names)) == 113945
    m60 = read_ntu_missing(REAL / 'ntu/NTU_RGBD_samples_with_missing_skeletons.txt')
    m120 = read_ntu_missing(REAL / 'ntu/NTU_RGBD120_samples_with_missing_skeletons.txt')
    assert (len(m60), len(m120)) == (302, 535) and set(m60) <= set(m120)
    expected = {(60, 'xsub'): (40091, 16487), (60, 'xview'): (37646, 18932),
                (120, 'xsub'): (63026, 50919), (120, 'xset'): (54468, 59477)}   # xset: see notebook (paper says 54,471)
    everything = names + m120                                              # all 114,480 NTU120 samples
    for (version, protocol), (n_train, n_val) in expected.items():
        sp = ntu_split(names, version, protocol)
        assert (len(sp['train']), len(sp['val'])) == (n_train, n_val), (version, protocol)
        assert not set(sp['train']) & set(sp['val'])
        missing = REAL / 'ntu' / {60: 'NTU_RGBD_samples_with_missing_skeletons.txt',
                                  120: 'NTU_RGBD120_samples_with_missing_skeletons.txt'}[version]
        sp2 = ntu_split(everything, version, protocol, missing=missing)
        assert sorted(sp2['train']) == sorted(sp['train']) and sorted(sp2['val']) == sorted(sp['val'])
        assert not (set(sp2['train']) | set(sp2['val'])) & set(m120)
        if version == 60:
            ids = [parse_ntu_name(n) for n in sp['train'] + sp['val']]
            assert all(i['setup'] <= 17 and i['action'] <= 60 for i in ids)
    full60 = ntu_split(everything, 60, 'xsub')              # without the missing list: every NTU60 sample
    assert len(full60['train']) + len(full60['val']) == 56880


@real
def test_real_label_maps():
    ntu60, ntu120 = read_label_map(REAL / 'ntu/label_map_ntu60.txt'), read_label_map(REAL / 'ntu/label_map_ntu120.txt')
    gym = read_label_map(REAL / 'finegym/label_map_gym99.txt')
    assert (len(ntu60), len(ntu120), len(gym)) == (60, 120, 99)
    assert ntu120[:60] == ntu60 and ntu60[0] == 'drink water'
    # labels 58 and 70 carry the same name, '(BB) salto backward tucked', in MMAction2's Gym99 map
    assert len(set(gym)) == 98


# ---------------------------------------------------------------- real files: FineGYM, Penn Action

@real
def test_real_gym99_lists():
    train = read_gym_labels(REAL / 'finegym/gym99_train_element_v1.1.txt')    # LF, final newline
    val = read_gym_labels(REAL / 'finegym/gym99_val_element.txt')              # CRLF, no final newline
    assert (REAL / 'finegym/gym99_val_element.txt').read_bytes()[-2:] != b'\r\n'
    assert (len(train), len(val)) == (26320, 8521)
    for lst in (train, val):
        labels = {l for _, l in lst}
        assert labels == set(range(99))
        assert all('\r' not in c and ' ' not in c for c, _ in lst)
    assert val[0] == ('0LtLS9wROrk_E_002407_002435_A_0003_0005', 78)
    assert val[-1] == ('rrrgsW--AE8_E_004616_004689_A_0070_0073', 70)
    assert not {c for c, _ in train} & {c for c, _ in val}


@real
def test_real_penn_action():
    files = sorted((REAL / 'pennaction/labels').glob('*.mat'))
    assert len(files) == 2326
    labels = [read_penn_label(f) for f in files]
    assert Counter(l['train'] for l in labels) == {True: 1258, False: 1068}
    assert Counter(l['action'] for l in labels) == {
        'squat': 231, 'bowl': 220, 'pushup': 211, 'pullup': 199, 'tennis_serve': 186, 'baseball_swing': 173,
        'baseball_pitch': 167, 'golf_swing': 166, 'tennis_forehand': 157, 'bench_press': 140, 'jumping_jacks': 112,
        'situp': 100, 'strum_guitar': 94, 'clean_and_jerk': 88, 'jump_rope': 82}
    for l in labels:
        T = l['nframes']
        assert l['keypoint'].shape == (T, 13, 2) and l['keypoint'].dtype == np.float32
        assert l['visibility'].shape == (T, 13) and l['visibility'].dtype == bool
        assert l['dimensions'][2] == T
    short = {f.name for f, l in zip(files, labels) if l['bbox'].shape[0] != l['nframes']}
    assert short == {'1154.mat', '1865.mat'}
    assert labels[files.index(REAL / 'pennaction/labels/1154.mat')]['bbox'].shape == (71, 4)
    # 0001.mat: baseball_pitch, view 'back', test split, 360x480, 151 frames; frame 11 as stored
    first = labels[0]
    assert (first['action'], first['pose'], first['train'], first['dimensions'], first['nframes']) == \
        ('baseball_pitch', 'back', False, (360, 480, 151), 151)
    np.testing.assert_array_equal(first['keypoint'][10, :3], [[131.25, 69.75], [135., 102.75], [104.25, 96.75]])
    assert first['visibility'][10].tolist() == [bool(v) for v in [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1]]
    # 0013.mat stores x/y as uint16: read as float32, same values
    raw = scipy.io.loadmat(str(REAL / 'pennaction/labels/0013.mat'))
    assert raw['x'].dtype == np.uint16
    l13 = labels[files.index(REAL / 'pennaction/labels/0013.mat')]
    assert l13['keypoint'].dtype == np.float32 and l13['keypoint'][3, :3].tolist() == [[290, 25], [311, 77], [249, 76]]
    # nframes stored as uint8 in 0001.mat (151 frames) and uint16 beyond 255 frames
    assert scipy.io.loadmat(str(files[0]))['nframes'].dtype == np.uint8
    assert max(l['nframes'] for l in labels) > 255


# ---------------------------------------------------------------- fixtures: NTU .skeleton

def _joint_line(x, y, z, cx, cy, state=2):
    return f"{x} {y} {z} 250.1 180.2 {cx} {cy} 0.1 0.2 0.3 0.4 {state}"


def _ntu_text(frames):
    "frames: per frame a list of (body ID, offset); written by hand in the native layout, CRLF."
    out = [str(len(frames))]
    for t, bodies in enumerate(frames):
        out.append(str(len(bodies)))
        for bid, off in bodies:
            out += [f"{bid} 0 1 1 1 1 0 0.02764709 0.05745083 2", "25"]
            out += [_joint_line(off + t, j / 10, 3.5, 900 + 10 * t + off, 300 + j) for j in range(25)]
    return '\r\n'.join(out) + '\r\n'


BIG_ID = 2 ** 64 - 3                      # beyond int64 and float precision
FRAMES = [[(BIG_ID, 0)], [(BIG_ID, 0), (72057594037931101, 100)], [], [(72057594037931101, 100), (BIG_ID, 0)]]


@pytest.fixture
def skel_file(tmp_path):
    p = tmp_path / 'S002C003P004R001A050.skeleton'
    p.write_bytes(_ntu_text(FRAMES).encode())
    return p


def test_ntu_fixture(skel_file):
    assert b'\r\n' in skel_file.read_bytes()
    s = read_ntu_skeleton(skel_file)
    assert s['total_frames'] == 4 and s['num_bodies'].tolist() == [1, 2, 0, 2]
    assert s['body_ids'].tolist() == [BIG_ID, 72057594037931101]
    assert s['present'].tolist() == [[True, True, False, True], [False, True, False, True]]
    # body identity is kept across frames even when the order within the frame changes (frame 4)
    assert s['keypoint3d'][0, :, 0, 0].tolist() == [0, 1, 0, 3]
    assert s['keypoint3d'][1, :, 0, 0].tolist() == [0, 101, 0, 103]
    np.testing.assert_allclose(s['keypoint3d'][0, 1, :, 1], np.arange(25) / 10, rtol=1e-6)
    assert s['keypoint2d'][1, 3, 7].tolist() == [900 + 30 + 100, 307]
    # absent slots and the empty frame are zeros, not stale values
    for k in ('keypoint3d', 'keypoint2d', 'depth2d', 'orientation', 'tracking_state'):
        assert not s[k][~s['present']].any(), k
    # order='motion' puts the body that moves more first (both move 1 unit a frame in x and 10 px in colorX; B over
    # frames 2,4 -> std 1; A over frames 1,2,4 -> std 1.25)
    sm = read_ntu_skeleton(skel_file, order='motion')
    assert sm['body_ids'].tolist() == [BIG_ID, 72057594037931101]


def test_ntu_motion_order(tmp_path):
    p = tmp_path / 'm.skeleton'
    p.write_bytes(_ntu_text([[(1, 0), (2, 0)], [(1, 0), (2, 50)]]).encode())   # body 2 jumps 50 m in x
    assert read_ntu_skeleton(p)['body_ids'].tolist() == [1, 2]
    sm = read_ntu_skeleton(p, order='motion')
    assert sm['body_ids'].tolist() == [2, 1] and sm['keypoint3d'][0, 1, 0, 0] == 51


def test_ntu_writer_roundtrip(tmp_path, skel_file):
    s = read_ntu_skeleton(skel_file)
    frames = []
    for t in range(s['total_frames']):
        def rows(m):
            return np.concatenate([s['keypoint3d'][m, t], s['depth2d'][m, t], s['keypoint2d'][m, t],
                                   s['orientation'][m, t], s['tracking_state'][m, t, :, None]], -1)
        frames.append([(int(s['body_ids'][m]), rows(m)) for m in range(len(s['body_ids'])) if s['present'][m, t]])
    s2 = read_ntu_skeleton(write_ntu_skeleton(tmp_path / 'rt.skeleton', frames))
    keys = ('keypoint3d', 'keypoint2d', 'depth2d', 'orientation', 'tracking_state', 'present', 'body_ids', 'num_bodies')
    for k in keys:
        np.testing.assert_array_equal(s2[k], s[k], err_msg=k)


def test_ntu_no_bodies_at_all(tmp_path):
    p = tmp_path / 'empty_bodies.skeleton'
    p.write_bytes(b'3\r\n0\r\n0\r\n0\r\n')
    s = read_ntu_skeleton(p)
    assert s['keypoint3d'].shape == (0, 3, 25, 3) and s['body_ids'].shape == (0,) and s['total_frames'] == 3


@pytest.mark.parametrize('cut_line', [1, 2, 3, 4, 15, 30, 58])
def test_ntu_truncated(tmp_path, skel_file, cut_line):
    lines = skel_file.read_bytes().split(b'\r\n')
    p = tmp_path / 'cut.skeleton'
    p.write_bytes(b'\r\n'.join(lines[:cut_line]))
    with pytest.raises(ValueError, match=r'cut\.skeleton: truncated: line \d+'):
        read_ntu_skeleton(p)


@pytest.mark.parametrize('line_no,content,msg', [
    (1, b'four', 'line 1: expected the number of frames'),
    (2, b'1 2', 'line 2: expected the number of bodies'),
    (3, b'123 0 1', 'line 3: body line of frame 1 has 3 values'),
    (3, b'12x 0 1 1 1 1 0 0 0 2', "line 3: body ID '12x'"),
    (4, b'24', 'line 4: 24 joints, expected 25'),
    (7, b'0.1 0.2 0.3 250 180 900 300 0.1 0.2 0.3 0.4', 'line 7: 11 values, expected 12'),
    (9, b'0.1 0.2 nan 250 180 900 300 0.1 0.2 0.3 0.4 2', 'line 9: non-finite'),
    (10, b'0.1 0.2 0,3 250 180 900 300 0.1 0.2 0.3 0.4 2', 'line 10: not a number'),
])
def test_ntu_garbled(tmp_path, skel_file, line_no, content, msg):
    lines = skel_file.read_bytes().split(b'\r\n')
    lines[line_no - 1] = content
    p = tmp_path / 'garbled.skeleton'
    p.write_bytes(b'\r\n'.join(lines))
    with pytest.raises(ValueError, match='garbled.skeleton: ' + msg):
        read_ntu_skeleton(p)


def test_ntu_misaligned_values(tmp_path, skel_file):
    # one joint line short by a value, the next one long by one: the total count is right, the file is still wrong
    lines = skel_file.read_bytes().split(b'\r\n')
    lines[5] = lines[5].rsplit(b' ', 1)[0]
    lines[6] = lines[6] + b' 2'
    (tmp_path / 'shift.skeleton').write_bytes(b'\r\n'.join(lines))
    with pytest.raises(ValueError, match='shift.skeleton: line 6: 11 values, expected 12'):
        read_ntu_skeleton(tmp_path / 'shift.skeleton')


def test_ntu_bad_files(tmp_path, skel_file):
    with pytest.raises(FileNotFoundError, match='nothere.skeleton'):
        read_ntu_skeleton(tmp_path / 'nothere.skeleton')
    (tmp_path / 'empty.skeleton').write_bytes(b'')
    with pytest.raises(ValueError, match='empty.skeleton: empty file'):
        read_ntu_skeleton(tmp_path / 'empty.skeleton')
    (tmp_path / 'bin.skeleton').write_bytes(b'\xff\xfe\x00\x01' * 10)
    with pytest.raises(ValueError, match='bin.skeleton: not a UTF-8 text file'):
        read_ntu_skeleton(tmp_path / 'bin.skeleton')
    (tmp_path / 'extra.skeleton').write_bytes(skel_file.read_bytes() + b'1\r\n')
    with pytest.raises(ValueError, match='extra.skeleton: line 141: unexpected content after the last frame'):
        read_ntu_skeleton(tmp_path / 'extra.skeleton')
    with pytest.raises(ValueError, match='order'):
        read_ntu_skeleton(skel_file, order='size')


# ---------------------------------------------------------------- fixtures: Penn Action .mat

def _penn_mat(path, T=6, coord_dtype=np.float64, bbox_rows=None, **override):
    t, j = np.meshgrid(np.arange(T), np.arange(13), indexing='ij')
    fields = dict(action='tennis_serve', pose='back',
                  x=(10 * t + j).astype(coord_dtype), y=(5 * j + 2).astype(coord_dtype),
                  visibility=((t + j) % 3 > 0).astype(np.uint8), train=np.array([[-1]], np.int32),
                  bbox=np.ones((T if bbox_rows is None else bbox_rows, 4)),
                  dimensions=np.array([[272, 481, T]], np.uint16),
                  nframes=np.array([[T]], np.uint8))
    fields.update(override)
    scipy.io.savemat(str(path), fields)
    return path


@pytest.mark.parametrize('dtype', [np.float64, np.uint8, np.uint16])
def test_penn_fixture(tmp_path, dtype):
    l = read_penn_label(_penn_mat(tmp_path / '0007.mat', coord_dtype=dtype))
    assert (l['action'], l['pose'], l['train'], l['nframes'], l['dimensions']) == \
        ('tennis_serve', 'back', False, 6, (272, 481, 6))
    assert l['keypoint'].dtype == np.float32 and l['keypoint'].shape == (6, 13, 2)
    assert l['keypoint'][4, 12].tolist() == [52, 62]           # (x, y) order
    t, j = np.meshgrid(np.arange(6), np.arange(13), indexing='ij')
    np.testing.assert_array_equal(l['visibility'], (t + j) % 3 > 0)
    assert read_penn_label(_penn_mat(tmp_path / 'tr.mat', train=np.array([[1]], np.int32)))['train'] is True


def test_penn_short_bbox_returned_as_stored(tmp_path):
    assert read_penn_label(_penn_mat(tmp_path / 'short.mat', bbox_rows=5))['bbox'].shape == (5, 4)
    with pytest.raises(ValueError, match='shorter.mat: bbox must be'):
        read_penn_label(_penn_mat(tmp_path / 'shorter.mat', bbox_rows=4))


def test_penn_bad_files(tmp_path):
    good = _penn_mat(tmp_path / 'good.mat')
    data = good.read_bytes()
    (tmp_path / 'trunc.mat').write_bytes(data[:len(data) // 2])
    (tmp_path / 'junk.mat').write_bytes(b'not a mat file at all' * 20)
    (tmp_path / 'empty.mat').write_bytes(b'')
    for name in ('trunc.mat', 'junk.mat'):
        with pytest.raises(ValueError, match=name):
            read_penn_label(tmp_path / name)
    with pytest.raises(ValueError, match='empty.mat: empty file'):
        read_penn_label(tmp_path / 'empty.mat')
    with pytest.raises(FileNotFoundError, match='absent.mat'):
        read_penn_label(tmp_path / 'absent.mat')
    scipy.io.savemat(str(tmp_path / 'nox.mat'), dict(action='squat'))
    with pytest.raises(ValueError, match=r"nox.mat: missing field\(s\) \['pose', 'x'"):
        read_penn_label(tmp_path / 'nox.mat')
    with pytest.raises(ValueError, match='t0.mat: train must be 1 or -1'):
        read_penn_label(_penn_mat(tmp_path / 't0.mat', train=np.array([[0]], np.int32)))
    with pytest.raises(ValueError, match='nf.mat: nframes=7'):
        read_penn_label(_penn_mat(tmp_path / 'nf.mat', nframes=np.array([[7]], np.uint8)))
    with pytest.raises(ValueError, match=r'shape.mat: x, y, visibility must all be \(T, 13\)'):
        read_penn_label(_penn_mat(tmp_path / 'shape.mat', y=np.zeros((6, 12))))


# ---------------------------------------------------------------- fixtures: videos

@pytest.fixture(scope='module')
def grey_video(tmp_path_factory):
    d = tmp_path_factory.mktemp('vid')
    frames = (np.arange(15, dtype=np.uint8)[:, None, None, None] * 16 + np.zeros((15, 32, 48, 3), np.uint8))
    frames[:, :16, :24, 0] = 255                                # a red corner: channel order check
    return write_video(d / 'grey.mp4', frames, fps=15), frames


def test_video_fixture(grey_video):
    path, frames = grey_video
    assert video_info(path) == (15, 32, 48, 15.0)
    clip = read_clip(path, [14, 0, 7, 7])
    assert clip.shape == (4, 32, 48, 3) and clip.dtype == np.uint8
    np.testing.assert_allclose(clip[:, 20:, 30:].mean((1, 2, 3)), [224, 0, 112, 112], atol=4)
    assert clip[1, 4, 4, 0] > 200 and clip[1, 4, 4, 1:].max() < 60          # frame 0: red corner on black, RGB not BGR
    small = read_clip(path, np.arange(0, 15, 2), size=(16, 24))
    assert small.shape == (8, 16, 24, 3)
    np.testing.assert_allclose(small[:, 10:, 15:].mean((1, 2, 3)), np.arange(0, 15, 2) * 16, atol=6)


def test_video_avi_mpeg4(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    p = write_video(tmp_path / 'x.avi', frames, fps=30, codec='mpeg4')
    assert video_info(p)[:3] == (5, 32, 32)
    assert read_clip(p, [4]).shape == (1, 32, 32, 3)


def test_video_bad(tmp_path, grey_video):
    path, _ = grey_video
    for idx in ([15], [-1], [0, 100]):
        with pytest.raises(ValueError, match=r'grey.mp4: frame index out of range.*15 frames'):
            read_clip(path, idx)
    with pytest.raises(ValueError, match='grey.mp4: indices must be integers'):
        read_clip(path, [0.5])
    with pytest.raises(ValueError, match='grey.mp4: indices must be a non-empty'):
        read_clip(path, [])
    with pytest.raises(ValueError, match='grey.mp4: size must be'):
        read_clip(path, [0], size=(0, 10))
    with pytest.raises(FileNotFoundError, match='missing.mp4: no such file'):
        read_clip(tmp_path / 'missing.mp4', [0])
    (tmp_path / 'empty.mp4').write_bytes(b'')
    with pytest.raises(ValueError, match='empty.mp4: empty file'):
        video_info(tmp_path / 'empty.mp4')
    data = path.read_bytes()
    (tmp_path / 'trunc.mp4').write_bytes(data[:len(data) // 2])        # moov atom (at the end) lost
    (tmp_path / 'junk.mp4').write_bytes(os.urandom(4096))
    for name in ('trunc.mp4', 'junk.mp4'):
        with pytest.raises(ValueError, match=name + ': cannot open as a video'):
            read_clip(tmp_path / name, [0])
        with pytest.raises(ValueError, match=name):
            video_info(tmp_path / name)


@real
def test_video_truncated_avi_refused(tmp_path):
    "A video cut in half decodes to far fewer frames than its container declares: refused, naming both counts."
    data = (REAL / 'ntu' / f'{NTU_SAMPLE}_rgb.avi').read_bytes()
    (tmp_path / 'half.avi').write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r'half.avi: the container declares 103 frames but only \d+ can be decoded'):
        video_info(tmp_path / 'half.avi')


# ---------------------------------------------------------------- fixtures: Gym lists and label maps

@pytest.mark.parametrize('content', [b'a_1 3\nb_2 98\n', b'a_1 3\r\nb_2 98', b'a_1 3\r\nb_2 98\r\n',
                                     b'a_1 3\nb_2 98\n\n'])
def test_gym_line_endings(tmp_path, content):
    (tmp_path / 'g.txt').write_bytes(content)
    assert read_gym_labels(tmp_path / 'g.txt') == [('a_1', 3), ('b_2', 98)]


@pytest.mark.parametrize('content,line', [(b'a_1 3\nb_2\n', 2), (b'a_1 3\n\nb_2 4\n', 2), (b'a_1 x\n', 1),
                                          (b'a 1 2\n', 1), (b'a_1 -3\n', 1)])
def test_gym_malformed(tmp_path, content, line):
    (tmp_path / 'bad_list.txt').write_bytes(content)
    with pytest.raises(ValueError, match=f'bad_list.txt: line {line}:'):
        read_gym_labels(tmp_path / 'bad_list.txt')


def test_label_map(tmp_path):
    (tmp_path / 'lm.txt').write_bytes(b'drink water\r\neat meal/snack\r\n')
    assert read_label_map(tmp_path / 'lm.txt') == ['drink water', 'eat meal/snack']
    (tmp_path / 'hole.txt').write_bytes(b'a\n\nb\n')
    with pytest.raises(ValueError, match='hole.txt: line 2: empty class name'):
        read_label_map(tmp_path / 'hole.txt')
    (tmp_path / 'blank.txt').write_bytes(b'\n\n')
    with pytest.raises(ValueError, match='blank.txt: no class names'):
        read_label_map(tmp_path / 'blank.txt')


def test_ntu_split_rules():
    names = ['S001C001P001R001A001', 'S001C002P003R001A001', 'S017C003P038R002A060', 'S018C001P045R001A061',
             'S032C003P106R002A120']
    assert ntu_split(names, 60, 'xsub') == {'train': ['S001C001P001R001A001', 'S017C003P038R002A060'],
                                            'val': ['S001C002P003R001A001']}
    assert ntu_split(names, 60, 'xview') == {'train': ['S001C002P003R001A001', 'S017C003P038R002A060'],
                                             'val': ['S001C001P001R001A001']}
    assert ntu_split(names, 120, 'xsub')['val'] == ['S001C002P003R001A001', 'S032C003P106R002A120']
    paths = ['/data/nturgb+d_skeletons/' + n + '.skeleton' for n in names]
    assert ntu_split(paths, 60, 'xsub', missing=[names[0]])['val'] == \
        ['/data/nturgb+d_skeletons/S001C002P003R001A001.skeleton']
    assert ntu_split(names, 120, 'xset') == {'train': ['S018C001P045R001A061', 'S032C003P106R002A120'],
                                             'val': names[:3]}
    assert ntu_split(names, 120, 'xset', missing=['S018C001P045R001A061'])['train'] == ['S032C003P106R002A120']
    with pytest.raises(ValueError, match='protocol'):
        ntu_split(names, 120, 'xview')
    with pytest.raises(ValueError, match='version'):
        ntu_split(names, 90, 'xsub')
    with pytest.raises(ValueError, match="'clip_07'"):
        ntu_split(['clip_07'], 60, 'xsub')


# ---------------------------------------------------------------- fixtures: PYSKL pickles

def _anns(n=3, M=2, T=5, V=17):
    rng = np.random.default_rng(0)
    return [dict(frame_dir=f's{i}', label=np.int64(i % 2), img_shape=(1080, 1920), original_shape=(1080, 1920),
                 total_frames=T, keypoint=rng.random((M, T, V, 2), dtype=np.float32) * 1000,
                 keypoint_score=rng.random((M, T, V), dtype=np.float32))
            for i in range(n)]


def test_pyskl_roundtrip(tmp_path):
    anns = _anns()
    p = write_pyskl_pickle(tmp_path / 'a.pkl', {'xsub_train': ['s0', 's1'], 'xsub_val': ['s2']}, anns)
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.tmp-')]
    d = load_pyskl_pickle(p)
    assert d['split'] == {'xsub_train': ['s0', 's1'], 'xsub_val': ['s2']}
    for a, b in zip(d['annotations'], anns):
        assert a['frame_dir'] == b['frame_dir'] and a['label'] == b['label'] and a['img_shape'] == b['img_shape']
        np.testing.assert_array_equal(a['keypoint'], b['keypoint'])
        np.testing.assert_array_equal(a['keypoint_score'], b['keypoint_score'])


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_pyskl_protocols_and_3d(tmp_path, protocol):
    anns = _anns(2)
    # PYSKL 3D: no score
    anns[1] = dict(frame_dir='s1', label=1, total_frames=5, keypoint=np.zeros((1, 5, 25, 3), np.float32))
    data = {'split': {'train': ['s0', 's1']}, 'annotations': anns}
    (tmp_path / 'p.pkl').write_bytes(pickle.dumps(data, protocol=protocol))
    d = load_pyskl_pickle(tmp_path / 'p.pkl')
    assert d['annotations'][1]['keypoint'].shape == (1, 5, 25, 3)
    (tmp_path / 'l.pkl').write_bytes(pickle.dumps(anns, protocol=protocol))             # old MMAction2: bare list
    assert load_pyskl_pickle(tmp_path / 'l.pkl')['split'] == {}


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path('/tmp').exists()",))


def test_pyskl_malicious_refused(tmp_path):
    marker = tmp_path / 'pwned'
    anns = _anns(1)
    anns[0]['keypoint'] = _Evil(f'touch {marker}')
    (tmp_path / 'evil.pkl').write_bytes(pickle.dumps({'split': {}, 'annotations': anns}))
    with pytest.raises(pickle.UnpicklingError, match=r"evil.pkl: refused to load global '(posix|os|nt)\.system'"):
        load_pyskl_pickle(tmp_path / 'evil.pkl')
    assert not marker.exists()
    (tmp_path / 'eval.pkl').write_bytes(pickle.dumps([_EvalEvil()]))
    with pytest.raises(pickle.UnpicklingError, match=r"eval.pkl: refused to load global 'builtins.eval'"):
        load_pyskl_pickle(tmp_path / 'eval.pkl')


def test_pyskl_bad_structure(tmp_path):
    def dump(name, obj):
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=4))
        return tmp_path / name
    anns = _anns()
    bad = [dict(a) for a in anns]
    del bad[1]['label']
    with pytest.raises(ValueError, match=r"nolabel.pkl: annotation 1 \('s1'\): missing key\(s\) \['label'\]"):
        load_pyskl_pickle(dump('nolabel.pkl', {'split': {}, 'annotations': bad}))
    bad = [dict(a) for a in anns]
    bad[2]['keypoint_score'] = bad[2]['keypoint_score'][:, :4]
    with pytest.raises(ValueError,
                       match=r"score.pkl: annotation 2 \('s2'\): keypoint_score shape \(2, 4, 17\) does not match"):
        load_pyskl_pickle(dump('score.pkl', {'split': {}, 'annotations': bad}))
    bad = [dict(a) for a in anns]
    bad[0]['total_frames'] = 9
    with pytest.raises(ValueError,
                       match=r"frames.pkl: annotation 0 \('s0'\): keypoint has 5 frames but total_frames = 9"):
        load_pyskl_pickle(dump('frames.pkl', {'split': {}, 'annotations': bad}))
    bad = [dict(a) for a in anns]
    bad[0]['keypoint'] = bad[0]['keypoint'][0]
    with pytest.raises(ValueError,
                       match=r"ndim.pkl: annotation 0 \('s0'\): keypoint must be a float \(M, T, V, C\) array"):
        load_pyskl_pickle(dump('ndim.pkl', {'split': {}, 'annotations': bad}))
    with pytest.raises(ValueError, match="unknown.pkl: split 'test' names 1 sample"):
        load_pyskl_pickle(dump('unknown.pkl', {'split': {'test': ['nope']}, 'annotations': anns}))
    with pytest.raises(ValueError, match="keys.pkl: expected a dict with 'split' and 'annotations'"):
        load_pyskl_pickle(dump('keys.pkl', {'annos': anns}))
    with pytest.raises(ValueError, match=r"wr.pkl: annotation 0 \('s0'\): missing key"):
        write_pyskl_pickle(tmp_path / 'wr.pkl', {}, [{'frame_dir': 's0'}])
    assert not (tmp_path / 'wr.pkl').exists()


def test_pyskl_corrupt_files(tmp_path):
    good = write_pyskl_pickle(tmp_path / 'g.pkl', {'train': ['s0']}, _anns(1)).read_bytes()
    (tmp_path / 'trunc.pkl').write_bytes(good[:len(good) // 2])
    (tmp_path / 'junk.pkl').write_bytes(b'\x00garbage' * 10)
    (tmp_path / 'empty.pkl').write_bytes(b'')
    for name in ('trunc.pkl', 'junk.pkl'):
        with pytest.raises(pickle.UnpicklingError, match=name):
            load_pyskl_pickle(tmp_path / name)
    with pytest.raises(ValueError, match='empty.pkl: empty file'):
        load_pyskl_pickle(tmp_path / 'empty.pkl')
    with pytest.raises(FileNotFoundError, match='none.pkl'):
        load_pyskl_pickle(tmp_path / 'none.pkl')
