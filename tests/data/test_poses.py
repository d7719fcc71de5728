"""Tests of deform3d.data.poses: the package without the pose extra, absent joints where no person is found, BlazePose
against NTU's Kinect skeleton on the real clip, and `deform3d poses` on real footage (skipped where ../shared or
mediapipe is absent)."""
import sys
from pathlib import Path

import numpy as np
import pytest

import deform3d.data.poses as poses
from deform3d.cli import main
from deform3d.data.poses import (PoseExtraMissing, estimate_poses, extract_poses_to_pickle, extract_skeleton,
                                 have_pose_extra)
from deform3d.data.readers import load_pyskl_pickle
from deform3d.data.skeletons import SKELETON_LAYOUTS, Skeleton, read_skeleton
from deform3d.data.video import read_clip, video_info, write_video

REAL = Path(__file__).resolve().parents[2].parent / 'shared' / 'realdata'
real = pytest.mark.skipif(not REAL.is_dir(),
                          reason=f"real data folder {REAL} is absent (only present in the project's workspace)")
extra = pytest.mark.skipif(not have_pose_extra(), reason="mediapipe is not installed: pip install 'deform3d[pose]'")
LIMBS = [f'{s}_{j}' for s in ('left', 'right') for j in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')]


@pytest.fixture
def no_mediapipe(monkeypatch):
    "An environment without the pose extra: `import mediapipe` fails."
    monkeypatch.setitem(sys.modules, 'mediapipe', None)


def test_without_the_extra_one_line_says_how_to_install(no_mediapipe, tmp_path, capsys):
    assert not have_pose_extra()
    with pytest.raises(PoseExtraMissing, match=r"pip install 'deform3d\[pose\]'"):
        estimate_poses(np.zeros((1, 8, 8, 3), np.uint8))
    clip = write_video(tmp_path / 'clip.mp4', np.zeros((2, 16, 16, 3), np.uint8))
    assert main(['poses', str(clip), '--out', str(tmp_path / 'p.pkl')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'deform3d[pose]'" in err[0] and not (tmp_path / 'p.pkl').exists()


@extra
def test_frames_without_a_person_are_absent():
    kp, sc = estimate_poses(np.zeros((2, 96, 128, 3), np.uint8), tracking=False)
    assert kp.shape == (1, 2, 33, 2) and sc.shape == (1, 2, 33)
    assert (sc == 0).all() and (kp == 0).all()
    assert not Skeleton(kp, sc, 'blazepose33').present().any()


def limb_error(sk: Skeleton, ref: Skeleton, frames) -> tuple[float, float]:
    "Median over the limb joints of the per-joint median pixel error on `frames`; the torso length in pixels."
    J = SKELETON_LAYOUTS['ntu25'].joints
    ok = sk.present()[0, frames] & ref.present()[0, frames]
    d = np.linalg.norm(sk.keypoints[0, frames] - ref.keypoints[0, frames], axis=-1)
    err = np.median([np.median(d[:, J.index(j)][ok[:, J.index(j)]]) for j in LIMBS])
    r = ref.keypoints[0, frames]
    return float(err), float(np.median(np.linalg.norm(r[:, J.index('spine_shoulder')] - r[:, J.index('spine_base')],
                                                      axis=-1)))


@real
@extra
def test_blazepose_matches_ntu_kinect_on_the_real_clip():
    video, kinect = REAL / 'ntu' / 'S001C001P001R001A001_rgb.avi', REAL / 'ntu' / 'S001C001P001R001A001.skeleton'
    frames = np.arange(0, 103, 4)                                   # per-image mode on every 4th frame: fast
    bp = extract_skeleton(video, frames)
    assert (bp.layout, bp.keypoints.shape, bp.img_shape) == ('blazepose33', (1, 103, 33, 2), (1080, 1920))
    assert bp.present()[0, frames].any(-1).all()                    # the person is found in every sampled frame
    others = np.setdiff1d(np.arange(103), frames)
    assert not bp.present()[0, others].any() and (bp.keypoints[0, others] == 0).all()   # frames not asked: absent
    ref = read_skeleton(kinect)
    err, torso = limb_error(bp.to_layout('ntu25'), ref, frames)
    assert err < 0.15 * torso, (err, torso)                         # measured: 0.10 torso (about 13 px of 133)
    # the planted bug: Kinect's joint names taken literally (no mirror) put BlazePose's joints on the other side
    B, J = SKELETON_LAYOUTS['blazepose33'].joints, SKELETON_LAYOUTS['ntu25'].joints
    literal = np.array([B.index(j) if j in B else 0 for j in J])
    have = np.array([j in B for j in J])
    kp = np.where(have[:, None], bp.keypoints[:, :, literal], 0)
    sc = np.where(have, bp.scores[:, :, literal], 0)
    bad, _ = limb_error(Skeleton(kp.astype(np.float32), sc.astype(np.float32), 'ntu25'), ref, frames)
    assert bad > 0.3 * torso, (bad, torso)


def cut(src: Path, dst: Path, n: int = 6) -> Path:
    "The first `n` frames of the real clip `src` as a new video `dst`."
    return write_video(dst, read_clip(src, np.arange(n)), fps=round(video_info(src)[3]))


@pytest.fixture
def clips(tmp_path):
    "A folder of three short real clips and a file that is not a video."
    d = tmp_path / 'in'
    d.mkdir()
    for name, src in (('a', 'test.avi'), ('b', 'test.mp4'), ('c', 'demo.mp4')):
        cut(REAL / 'videos' / src, d / f'{name}.mp4')
    (d / 'broken.mp4').write_bytes(b'not a video' * 10)
    return d


@real
@extra
def test_poses_command_on_real_clips(clips, tmp_path, capsys):
    out = tmp_path / 'p.pkl'
    assert main(['poses', str(clips), '--out', str(out), '--quiet']) == 1        # one video failed
    cap = capsys.readouterr()
    assert [l for l in cap.err.splitlines() if 'broken.mp4' in l][0].startswith('deform3d poses: ')
    assert '4 videos: 0 already in' in cap.out and '3 extracted (18 frames' in cap.out and '1 failed' in cap.out
    anns = load_pyskl_pickle(out)['annotations']
    assert [a['frame_dir'] for a in anns] == ['a', 'b', 'c']
    assert all(a['keypoint'].shape == (1, 6, 33, 2) and a['keypoint'].dtype == np.float32 for a in anns)
    sk = read_skeleton(out, frame_dir='a', num_frames=6, img_shape=(240, 320), layout='ntu25')
    assert sk.present().any()
    before = out.read_bytes()
    assert main(['poses', str(clips), '--out', str(out), '--quiet']) == 1        # rerun: skips the three
    assert '3 already in' in capsys.readouterr().out and out.read_bytes() == before
    assert main(['poses', str(clips / 'a.mp4'), '--out', str(tmp_path / 'c.pkl'), '--layout', 'coco17', '--quiet']) == 0
    coco = load_pyskl_pickle(tmp_path / 'c.pkl')['annotations'][0]
    np.testing.assert_array_equal(coco['keypoint'], read_skeleton(out, frame_dir='a', layout='coco17').keypoints)


@real
@extra
def test_an_interrupted_run_resumes_to_the_same_pickle(clips, tmp_path, monkeypatch):
    videos = [clips / f'{n}.mp4' for n in 'abc']
    extract_poses_to_pickle(videos, tmp_path / 'full.pkl', progress=False)
    calls, real_extract = [], poses.extract_skeleton
    def stop_at_second(*a, **k):
        calls.append(a[0])
        if len(calls) == 2: raise KeyboardInterrupt                 # Ctrl-C during the second video
        return real_extract(*a, **k)
    monkeypatch.setattr(poses, 'extract_skeleton', stop_at_second)
    with pytest.raises(KeyboardInterrupt): extract_poses_to_pickle(videos, tmp_path / 'r.pkl', progress=False, every=10)
    assert [a['frame_dir'] for a in load_pyskl_pickle(tmp_path / 'r.pkl')['annotations']] == ['a']   # saved on exit
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith('.')] == []                  # no temporary left
    monkeypatch.setattr(poses, 'extract_skeleton', real_extract)
    s = extract_poses_to_pickle(videos, tmp_path / 'r.pkl', progress=False)
    assert (s['skipped'], s['extracted']) == (1, 2)
    full, resumed = (load_pyskl_pickle(tmp_path / f)['annotations'] for f in ('full.pkl', 'r.pkl'))
    assert [a['frame_dir'] for a in resumed] == ['a', 'b', 'c']
    for x, y in zip(full, resumed):
        for k in ('keypoint', 'keypoint_score'): np.testing.assert_array_equal(x[k], y[k])
        assert (x['total_frames'], x['img_shape']) == (y['total_frames'], y['img_shape'])


def box(kp, sc):
    "(x0, y0, x1, y1) of the present landmarks (33, 2) with scores (33,)."
    pts = kp[sc > 0]
    return np.concatenate([pts.min(0), pts.max(0)])


@real
@extra
def test_a_second_person_is_found_beside_the_first_and_never_invented():
    frames = read_clip(REAL / 'ntu' / 'ntu_sample_two_person.avi', [0, 10, 20])
    kp, sc = estimate_poses(frames, tracking=False, persons=2)
    assert kp.shape == (2, 3, 33, 2) and (sc.max(-1) > 0).all()               # two persons in every frame
    for t in range(3):
        a, b = box(kp[0, t], sc[0, t]), box(kp[1, t], sc[1, t])
        assert a[2] < b[0] or b[2] < a[0], (t, a, b)                           # side by side, not one person twice
    one = read_clip(REAL / 'ntu' / 'S001C001P001R001A001_rgb.avi', [0, 50])
    kp, sc = estimate_poses(one, tracking=False, persons=2)
    assert (sc[0].max(-1) > 0).all() and (sc[1] == 0).all() and (kp[1] == 0).all()   # no phantom second person
