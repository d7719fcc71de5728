"""Tests of deform3d.data.skeletons: files written here in each tool's format from the synthetic set's own keypoints
read back exactly; layout conversion by joint name; person matching; real NTU / Penn Action files (skipped when
../shared is absent)."""
import json
import pickle
from itertools import product
from pathlib import Path

import numpy as np
import pytest
import torch

from deform3d.data.readers import read_ntu_skeleton, read_penn_label, write_pyskl_pickle
from deform3d.data.skeletons import (SKELETON_LAYOUTS, Skeleton, SkeletonError, convert_layout, layout_map,
                                     layout_table, read_skeleton, skeleton_format)
from deform3d.data.render import make_clip
from deform3d.utils import joint_present
from tool_joints import BODY25, COCO17, COCO18

REAL = Path(__file__).resolve().parents[2].parent / 'shared' / 'realdata'
real = pytest.mark.skipif(not REAL.is_dir(),
                          reason=f"real data folder {REAL} is absent (only present in the project's workspace)")
NB = Path(__file__).resolve().parents[2] / 'nbs' / '13_data.skeletons.ipynb'
T, CELL = 16, 64                    # frames; each synthetic person lives in its own 64 x 64 cell of a 64 x (64 M) frame


def synthetic_persons(num_persons: int = 3, seed: int = 0):
    "Synthetic clips as persons side by side: (M, T, 13, 2) Penn-13 pixels, (M, T, 13) scores (0 = dropped)."
    clips = [make_clip(i, seed=seed, num_frames=T, size=(CELL, CELL), drop_prob=0.1) for i in range(num_persons)]
    kp = np.stack([c['keypoint'] + np.float32([CELL * m, 0]) for m, c in enumerate(clips)])
    sc = np.stack([c['score'] for c in clips])
    # drop-outs present, no ties in the ranking
    assert (sc == 0).any() and len(set(sc.mean((1, 2)).tolist())) == num_persons
    return np.where(sc[..., None] > 0, kp, 0).astype(np.float32), sc


def by_mean_score(kp, sc):
    order = np.argsort(-sc.mean((1, 2)), kind='stable')
    return kp[order], sc[order]


# ------------------------------------------------ writers in each tool's format (independent of the module's readers)

PENN_AS = {'head': 'nose'}          # how an exporter would write Penn's joints: the head as the nose, the rest by name


def as_tool_joints(kp, sc, names):
    "(..., V, 3) [x, y, score] rows of a tool's joint list `names` from Penn-13 persons; joints Penn lacks are 0, 0, 0."
    penn = SKELETON_LAYOUTS['penn13'].joints
    out = np.zeros(kp.shape[:-2] + (len(names), 3))
    for j in penn:
        v = names.index(PENN_AS.get(j, j))
        out[..., v, :2], out[..., v, 2] = kp[..., penn.index(j), :], sc[..., penn.index(j)]
    return out


def write_coco(path, kp, sc, *, ids=True, images=True, order=None, gt=False):
    "COCO-keypoints JSON of persons (M, T, 13, 2): a dataset dict with `images`, or a bare list with frame_index."
    rows, anns = as_tool_joints(kp, sc, COCO17), []
    for t in range(kp.shape[1]):
        for m in (order[t] if order is not None else range(len(kp))):
            if not sc[m, t].any(): continue     # a detector reports no person whose joints are all missing
            a = dict(id=len(anns), category_id=1, keypoints=rows[m, t].ravel().tolist())
            a.update(image_id=1000 + t) if images else a.update(frame_index=t)
            if ids: a['track_id'] = int(m)
            if gt:                              # ground truth: the third value is COCO's visibility (2 = labelled)
                vis = np.where(rows[m, t, :, 2] > 0, 2., 0.)
                a.update(num_keypoints=int((vis > 0).sum()),
                         keypoints=np.c_[rows[m, t, :, :2], vis].ravel().tolist())
            anns.append(a)
    frames = [dict(id=1000 + t, file_name=f'{t:06d}.jpg', height=CELL, width=CELL * len(kp))
              for t in range(kp.shape[1])]
    data = dict(images=frames, annotations=anns, categories=[dict(id=1, name='person')]) if images else anns
    Path(path).write_text(json.dumps(data))
    return Path(path)


def write_openpose(folder, kp, sc, *, names=BODY25, order=None, ids=False):
    "OpenPose --write_json output: one <name>_<12 digits>_keypoints.json per frame."
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = as_tool_joints(kp, sc, names)
    for t in range(kp.shape[1]):
        people = [dict(person_id=[int(m) if ids else -1], pose_keypoints_2d=rows[m, t].ravel().tolist(),
                       face_keypoints_2d=[], hand_left_keypoints_2d=[], hand_right_keypoints_2d=[],
                       pose_keypoints_3d=[])
                  for m in (order[t] if order is not None else range(len(kp))) if sc[m, t].any()]
        (folder / f'video_{t:012d}_keypoints.json').write_text(json.dumps(dict(version=1.3, people=people)))
    return folder


def shuffled(num_persons, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.permutation(num_persons).tolist() for _ in range(T)]


# ------------------------------------------------ round trips through each tool's format

@pytest.mark.parametrize('ids,images', [(True, True), (False, True), (True, False), (False, False)])
def test_coco_json_reads_back_to_the_synthetic_keypoints(tmp_path, ids, images):
    kp, sc = synthetic_persons()
    f = write_coco(tmp_path / 'clip.json', kp, sc, ids=ids, images=images, order=shuffled(3))
    sk = read_skeleton(f, layout='penn13', num_frames=T, img_shape=(CELL, 3 * CELL))
    want_kp, want_sc = by_mean_score(kp, sc)
    np.testing.assert_array_equal(sk.keypoints, want_kp)     # exact: float32 -> JSON -> float32
    np.testing.assert_array_equal(sk.scores, want_sc)
    assert (sk.layout, sk.img_shape, sk.source, skeleton_format(f)) == ('penn13', (CELL, 3 * CELL), str(f), 'coco')


def test_coco_ground_truth_visibility_flags_become_scores(tmp_path):
    kp, sc = synthetic_persons(2)
    sk = read_skeleton(write_coco(tmp_path / 'gt.json', kp, sc, gt=True), layout='penn13')
    want_kp, want_sc = by_mean_score(kp, (sc > 0).astype(np.float32))
    np.testing.assert_array_equal(sk.scores, want_sc)      # v = 2 -> 1, v = 0 -> 0
    np.testing.assert_array_equal(sk.keypoints[..., 0] > 0, want_sc > 0)


def test_coco_without_images_takes_num_frames_for_trailing_empty_frames(tmp_path):
    kp, sc = synthetic_persons(1)
    f = write_coco(tmp_path / 'c.json', kp, sc, images=False)
    sk = read_skeleton(f, layout='penn13', num_frames=T + 4)
    assert sk.num_frames == T + 4 and not sk.present()[:, T:].any()
    np.testing.assert_array_equal(sk.keypoints[:, :T], kp)


@pytest.mark.parametrize('names,native', [(BODY25, 'openpose25'), (COCO18, 'openpose18')])
def test_openpose_folder_reads_back_to_the_synthetic_keypoints(tmp_path, names, native):
    kp, sc = synthetic_persons()
    folder = write_openpose(tmp_path / 'op', kp, sc, names=names, order=shuffled(3))
    raw = read_skeleton(folder)
    assert raw.layout == native and raw.keypoints.shape == (3, T, len(names), 2) and raw.img_shape is None
    sk = read_skeleton(folder, layout='penn13', num_frames=T)
    want_kp, want_sc = by_mean_score(kp, sc)
    np.testing.assert_array_equal(sk.keypoints, want_kp)
    np.testing.assert_array_equal(sk.scores, want_sc)
    one = read_skeleton(folder / 'video_000000000005_keypoints.json', layout='penn13')   # a single page: one frame
    np.testing.assert_array_equal(one.keypoints[:, 0], want_kp[:, 5])


def test_joints_without_counterpart_are_absent_and_the_rest_equal(tmp_path):
    kp, sc = synthetic_persons()
    sk = read_skeleton(write_openpose(tmp_path / 'op', kp, sc), layout='ntu25')
    want_kp, want_sc = by_mean_score(kp, sc)
    ntu, penn = SKELETON_LAYOUTS['ntu25'].joints, SKELETON_LAYOUTS['penn13'].joints
    for v, j in enumerate(ntu):
        j = POINT.get(('ntu25', j), j)          # NTU's sides are mirrored (POINT below)
        if j in penn:
            np.testing.assert_array_equal(sk.keypoints[..., v, :], want_kp[..., penn.index(j), :])
            np.testing.assert_array_equal(sk.scores[..., v], want_sc[..., penn.index(j)])
        else:
            assert (sk.scores[..., v] == 0).all() and (sk.keypoints[..., v, :] == 0).all(), j
    assert sk.present().sum() == (want_sc > 0).sum()
    # the module's rule of presence is the model's
    assert (sk.present() == joint_present(torch.from_numpy(sk.keypoints), torch.from_numpy(sk.scores)).numpy()).all()


def test_pyskl_entry_by_frame_dir(tmp_path):
    kp, sc = synthetic_persons(2)
    anns = [dict(frame_dir=f'clip{i}', label=i, total_frames=T, img_shape=(CELL, 2 * CELL),
                 keypoint=kp + i, keypoint_score=sc)
            for i in range(2)]
    f = write_pyskl_pickle(tmp_path / 'ann.pkl', {'train': ['clip0', 'clip1']}, anns)
    sk = read_skeleton(f, frame_dir='clip1', num_frames=T, img_shape=(CELL, 2 * CELL))
    want_kp, want_sc = by_mean_score(kp + 1, sc)
    np.testing.assert_array_equal(sk.keypoints, np.where(want_sc[..., None] > 0, want_kp, 0))
    assert sk.layout == 'penn13'
    with pytest.raises(SkeletonError, match=r'ann\.pkl: 2 annotations: say which with frame_dir'): read_skeleton(f)
    with pytest.raises(SkeletonError, match=r"ann\.pkl: no annotation with frame_dir 'clip7'"):
        read_skeleton(f, frame_dir='clip7')
    ann3d = dict(frame_dir='a', label=0, total_frames=T, keypoint=np.zeros((1, T, 25, 3)))
    f3 = write_pyskl_pickle(tmp_path / 'ntu3d.pkl', {}, [ann3d])
    with pytest.raises(SkeletonError, match=r'ntu3d\.pkl: .*3 channels'): read_skeleton(f3)


# ------------------------------------------------ layout conversion, by name

# The test's own statement of the correspondence table: joints are the same body point when they share a name, except
# these tools' joints, which stand for the point named on the right (and OpenPose's neck is not Kinect's neck).
POINT = {**{(l, 'nose'): 'head' for l in ('coco17', 'openpose25', 'openpose18')},
         ('openpose25', 'neck'): 'spine_shoulder',
         ('openpose18', 'neck'): 'spine_shoulder',
         ('openpose25', 'mid_hip'): 'spine_base',
         ('blazepose33', 'nose'): 'head',
         ('blazepose33', 'left_index'): 'left_hand_tip', ('blazepose33', 'right_index'): 'right_hand_tip',
         ('blazepose33', 'left_foot_index'): 'left_foot', ('blazepose33', 'right_foot_index'): 'right_foot',
         # NTU's video is mirrored: Kinect's left is an image-space estimator's right (18_data.poses measures it)
         **{('ntu25', j): j.replace('left', 'RIGHT').replace('right', 'left').replace('RIGHT', 'right')
            for j in SKELETON_LAYOUTS['ntu25'].joints if j.startswith(('left', 'right'))}}


def same_point(s, a, d, b): return POINT.get((s, a), a) == POINT.get((d, b), b)


@pytest.mark.parametrize('src,dst', list(product(SKELETON_LAYOUTS, SKELETON_LAYOUTS)))
def test_layout_conversion_maps_each_named_joint_to_its_counterpart(src, dst):
    S, D = SKELETON_LAYOUTS[src].joints, SKELETON_LAYOUTS[dst].joints
    # x names the source joint
    kp = np.stack([np.arange(len(S)) + 1., np.full(len(S), 3.)], -1)[None, None].astype(np.float32)
    out, osc = convert_layout(kp, np.ones((1, 1, len(S)), np.float32), src, dst)
    for v, b in enumerate(D):
        match = [i for i, a in enumerate(S) if same_point(src, a, dst, b)]
        assert len(match) <= 1, (src, dst, b, match)
        if match: assert out[0, 0, v, 0] == match[0] + 1 and osc[0, 0, v] == 1, (src, dst, b)
        else:     assert osc[0, 0, v] == 0 and (out[0, 0, v] == 0).all(), (src, dst, b)


def test_layout_map_spot_checks_and_tool_orders():
    def name(s, d, j): return SKELETON_LAYOUTS[s].joints[layout_map(s, d)[SKELETON_LAYOUTS[d].joints.index(j)]]
    assert SKELETON_LAYOUTS['coco17'].joints == COCO17
    assert SKELETON_LAYOUTS['openpose25'].joints == BODY25 and SKELETON_LAYOUTS['openpose18'].joints == COCO18
    assert name('coco17', 'penn13', 'left_ankle') == 'left_ankle' and name('openpose25', 'penn13', 'head') == 'nose'
    assert name('ntu25', 'openpose25', 'mid_hip') == 'spine_base'
    assert name('openpose18', 'ntu25', 'spine_shoulder') == 'neck'
    assert layout_map('ntu25', 'coco17')[COCO17.index('left_eye')] == -1
    assert (layout_map('penn13', 'penn13') == np.arange(13)).all()


def test_layout_table_in_the_notebook_is_the_codes():
    cells = json.loads(NB.read_text())['cells']
    md = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']
    assert any(layout_table() in m for m in md), \
        "regenerate the correspondence table in nbs/13_data.skeletons.ipynb from layout_table()"


# ------------------------------------------------ persons: ids, overlap, top M

def test_ids_are_followed_even_when_persons_trade_places(tmp_path):
    kp, sc = synthetic_persons(2)
    swap = (np.arange(T) >= 8)[None, :, None, None]
    # person 0 jumps into 1's place
    traded = np.stack([np.where(swap[0], kp[1], kp[0]), np.where(swap[0], kp[0], kp[1])])
    tsc = np.stack([np.where(swap[0, ..., 0], sc[1], sc[0]), np.where(swap[0, ..., 0], sc[0], sc[1])])
    with_ids = read_skeleton(write_coco(tmp_path / 'ids.json', traded, tsc, ids=True, order=shuffled(2)),
                             layout='penn13')
    np.testing.assert_array_equal(with_ids.keypoints, by_mean_score(traded, tsc)[0])
    no_ids = read_skeleton(write_coco(tmp_path / 'noids.json', traded, tsc, ids=False, order=shuffled(2)),
                           layout='penn13')
    np.testing.assert_array_equal(no_ids.keypoints, by_mean_score(kp, sc)[0])   # overlap follows the places


def test_top_m_persons_by_mean_score(tmp_path):
    kp, sc = synthetic_persons(3)
    levels = np.float32([0.5, 0.9, 0.7])[:, None, None]
    sc = np.where(sc > 0, levels, 0).astype(np.float32)
    # the most confident person is absent in 10 of 16 frames: lowest mean
    sc[1, :10] = 0
    kp[1, :10] = 0
    sk = read_skeleton(write_openpose(tmp_path / 'op', kp, sc, order=shuffled(3)), layout='penn13', max_persons=2)
    assert sk.num_persons == 2
    means = [sc[m].mean() for m in range(3)]
    assert means[2] > means[0] > means[1]
    np.testing.assert_array_equal(sk.keypoints, kp[[2, 0]])


# ------------------------------------------------ real files: the existing readers' arrays through read_skeleton

@real
def test_real_ntu_skeleton_through_read_skeleton():
    f = REAL / 'ntu' / 'S001C001P001R001A001.skeleton'
    ref = read_ntu_skeleton(f, order='motion')
    sk = read_skeleton(f, num_frames=103, img_shape=(1080, 1920))
    assert (sk.layout, sk.num_persons, sk.num_frames, sk.img_shape) == ('ntu25', 1, 103, (1080, 1920))
    tracked = ref['tracking_state'] > 0
    np.testing.assert_array_equal(sk.scores, tracked.astype(np.float32))
    np.testing.assert_array_equal(sk.keypoints, np.where(tracked[..., None], ref['keypoint2d'], 0))
    penn = read_skeleton(f, layout='penn13')      # the named joints carried over, sides mirrored (POINT)
    for v, j in enumerate(SKELETON_LAYOUTS['penn13'].joints):
        ntu_v = SKELETON_LAYOUTS['ntu25'].joints.index(POINT.get(('ntu25', j), j))
        np.testing.assert_array_equal(penn.keypoints[..., v, :], sk.keypoints[..., ntu_v, :])
    with pytest.raises(SkeletonError, match=r'S001C001P001R001A001\.skeleton: skeleton has 103 frames, the video 100'):
        read_skeleton(f, num_frames=100)


@real
@pytest.mark.parametrize('name', ['0001', '0758', '1154', '2326'])
def test_real_penn_label_through_read_skeleton(name):
    f = REAL / 'pennaction' / 'labels' / f'{name}.mat'
    ref = read_penn_label(f)
    sk = read_skeleton(f, num_frames=ref['nframes'])
    assert (sk.layout, sk.img_shape) == ('penn13', tuple(ref['dimensions'][:2]))
    np.testing.assert_array_equal(sk.keypoints, ref['keypoint'][None])
    assert (sk.scores == 1).all()
    H, W = ref['dimensions'][:2]
    with pytest.raises(SkeletonError,
                       match=rf'{name}\.mat: skeleton is for {H}x{W} \(HxW\) frames, the video\'s are 1x1'):
        read_skeleton(f, img_shape=(1, 1))


# ------------------------------------------------ bad input: one line naming the file

def _coco(tmp, anns, name='bad.json'):
    (tmp / name).write_text(json.dumps(anns))
    return tmp / name


J17 = [1, 2, 1] * 17                # 17 joints, each at (1, 2) with score 1

BAD = {
    'keypoints not a multiple of 3': (
        lambda t: _coco(t, {'annotations': [{'frame_index': 0, 'keypoints': [1, 2, 1, 3]}]}),
        'bad.json: annotation 0: keypoints has 4 values, not a multiple of 3'),
    'not 17 joints': (
        lambda t: _coco(t, [{'frame_index': 0, 'keypoints': [1, 2, 1] * 18}]),
        'bad.json: annotation 0: 18 joints; expected 17'),
    'no frame number': (
        lambda t: _coco(t, [{'keypoints': J17}]),
        'bad.json: annotation 0: no frame number'),
    'image_id not listed': (
        lambda t: _coco(t, {'images': [{'id': 1}], 'annotations': [{'image_id': 2, 'keypoints': J17}]}),
        "bad.json: annotation 0: image_id 2 is not in 'images'"),
    'neither format': (lambda t: _coco(t, {'foo': 1}), "bad.json: not a COCO-keypoints JSON"),
    'no person': (lambda t: _coco(t, {'annotations': []}), 'bad.json: no annotations'),
    'not JSON': (
        lambda t: (t / 'bad.json').write_text('{"annotations": [') and t / 'bad.json',
        'bad.json: not a JSON file'),
    'ids for some': (
        lambda t: _coco(t, [{'frame_index': 0, 'keypoints': J17, 'track_id': 3}, {'frame_index': 1, 'keypoints': J17}]),
        'bad.json: 1 of 2 detections have a person id'),
    'id twice in a frame': (
        lambda t: _coco(t, [{'frame_index': 0, 'keypoints': J17, 'track_id': 3}] * 2),
        'bad.json: person id 3 twice in frame 0'),
    'openpose 17 joints': (
        lambda t: _coco(t, {'people': [{'pose_keypoints_2d': J17}]}, 'f_000000000000_keypoints.json'),
        'f_000000000000_keypoints.json: person 0: 17 joints; expected 25 or 18'),
    'no joint at all': (
        lambda t: _coco(t, {'people': [{'pose_keypoints_2d': [0, 0, 0] * 25}]}, 'z_000000000000_keypoints.json'),
        'z_000000000000_keypoints.json: no joint detected in any frame'),
    'empty folder': (lambda t: (t / 'empty').mkdir() or t / 'empty', 'empty: folder has no .json files'),
    'unknown suffix': (
        lambda t: (t / 'bad.csv').write_text('x') and t / 'bad.csv',
        "bad.csv: unknown skeleton format '.csv'"),
    'corrupt mat': (
        lambda t: (t / 'bad.mat').write_bytes(b'not a mat file') and t / 'bad.mat',
        'bad.mat: not a readable MATLAB'),
    'corrupt skeleton': (
        lambda t: (t / 'bad.skeleton').write_text('2\n1\nx\n') and t / 'bad.skeleton',
        'bad.skeleton: line 3'),
    'corrupt pickle': (
        lambda t: (t / 'bad.pkl').write_bytes(pickle.dumps([1])[:-3]) and t / 'bad.pkl',
        'bad.pkl: not a valid pickle'),
}


@pytest.mark.parametrize('case', list(BAD))
def test_bad_input_names_the_file(tmp_path, case):
    make, msg = BAD[case]
    with pytest.raises(SkeletonError) as e: read_skeleton(make(tmp_path))
    assert msg in str(e.value) and '\n' not in str(e.value) and isinstance(e.value, ValueError)


def test_frame_count_gaps_and_image_size(tmp_path):
    kp, sc = synthetic_persons(1)
    folder = write_openpose(tmp_path / 'op', kp, sc)
    with pytest.raises(SkeletonError, match=r'op: skeleton has 16 frames, the video 15'):
        read_skeleton(folder, num_frames=15)
    f = write_coco(tmp_path / 'c.json', kp, sc)
    with pytest.raises(SkeletonError, match=r'c\.json: skeleton is for 64x64 \(HxW\) frames'):
        read_skeleton(f, img_shape=(480, 640))
    with pytest.raises(SkeletonError, match=r'c2\.json: skeleton has 16 frames, the video 12'):
        read_skeleton(write_coco(tmp_path / 'c2.json', kp, sc, images=False), num_frames=12)
    (folder / 'video_000000000007_keypoints.json').unlink()
    with pytest.raises(SkeletonError, match=r'op: OpenPose frame numbers skip from 6 \(no file for frame 7\)'):
        read_skeleton(folder)
    with pytest.raises(ValueError, match='unknown joint layout'): read_skeleton(f, layout='smpl24')
    assert isinstance(read_skeleton(f), Skeleton)
