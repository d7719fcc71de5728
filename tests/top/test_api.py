"""deform3d.api on a tiny checkpoint trained here on the synthetic set: it reproduces `deform3d predict` (which wraps
it) and `deform3d eval`; a COCO-keypoints JSON and an OpenPose folder written here from the synthetic set's own
keypoints give the prediction of the set's own skeleton; a skeleton that does not fit the video is one error line."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deform3d.api import inference_recognizer, init_recognizer
from deform3d.data.readers import load_pyskl_pickle
from deform3d.data.skeletons import Skeleton, SkeletonError, layout_map
from deform3d.data.video import read_clip, write_video
import deform3d.api as api
from tool_joints import BODY25, COCO17, PENN

SIZE, FRAMES = 32, 8                   # the synthetic clips of conftest.py's tiny_run


def tool_rows(kp, sc, names):
    "(T, len(names), 3) [x, y, score] of one Penn-13 person in a tool's joint list (Penn's head written as the nose)."
    out = np.zeros(kp.shape[:1] + (len(names), 3))
    for v, j in enumerate(PENN):
        k = names.index('nose' if j == 'head' else j)
        out[:, k, :2], out[:, k, 2] = kp[:, v], sc[:, v]
    return out


@pytest.fixture(scope='module')
def run(tiny_run):
    "The tiny checkpoint of conftest.py (trained once per session): clips of FRAMES frames of SIZE x SIZE."
    return tiny_run


def cli(*args):
    return subprocess.run([sys.executable, '-m', 'deform3d.cli', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})


def test_api_reproduces_predict_and_eval(run):
    syn, out, ckpt = run
    preds = pd.read_csv(out / 'predictions.csv')
    rec = init_recognizer(ckpt, device='cpu')
    assert rec.layout == 'penn13' and len(rec.classes) == 10
    for _, row in preds.head(3).iterrows():
        video = syn / 'videos' / f"{row['name']}.mp4"
        p = inference_recognizer(rec, video, syn / 'annotations.pkl', topk=10)
        # what `deform3d eval` computed
        assert p.labels[0] == row['pred_name'] and abs(p.probs[0] - row['prob']) < 1e-5
    p3 = inference_recognizer(rec, video, syn / 'annotations.pkl', topk=4, clips=3)
    r = cli('predict', ckpt, video, '--skeleton', syn / 'annotations.pkl', '--topk', 4, '--clips', 3, '--json')
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    assert [x['class'] for x in printed] == p3.labels
    np.testing.assert_allclose([x['probability'] for x in printed], p3.probs, rtol=0, atol=1e-6)
    assert not np.allclose(p3.scores, p.scores, atol=1e-6)        # three clips are not the one-clip answer


def test_coco_json_and_openpose_folder_give_the_prediction_of_the_sets_skeleton(run, tmp_path):
    syn, _, ckpt = run
    rec = init_recognizer(ckpt, device='cpu')
    anns = load_pyskl_pickle(syn / 'annotations.pkl')['annotations']
    checked = 0
    for a in anns[:3]:
        video = syn / 'videos' / f"{a['frame_dir']}.mp4"
        kp, sc = a['keypoint'][0], a['keypoint_score'][0]                       # (T, 13, 2), (T, 13): one person
        assert (sc == 0).any() or checked, 'the synthetic set drops joints: absent joints must be exercised'
        coco = tool_rows(kp, sc, COCO17)
        (tmp_path / 'c.json').write_text(json.dumps({
            'images': [{'id': 100 + t, 'file_name': f'{t:06d}.jpg', 'height': SIZE, 'width': SIZE}
                       for t in range(FRAMES)],
            'annotations': [{'id': t, 'image_id': 100 + t, 'category_id': 1, 'keypoints': coco[t].ravel().tolist()}
                            for t in range(FRAMES) if sc[t].any()],
            'categories': [{'id': 1, 'name': 'person'}]}))
        op = tmp_path / f"op_{a['frame_dir']}"
        op.mkdir()
        body = tool_rows(kp, sc, BODY25)
        for t in range(FRAMES):
            people = [{'person_id': [-1], 'pose_keypoints_2d': body[t].ravel().tolist()}] if sc[t].any() else []
            frame = op / f"{a['frame_dir']}_{t:012d}_keypoints.json"
            frame.write_text(json.dumps({'version': 1.3, 'people': people}))
        own = inference_recognizer(rec, video, syn / 'annotations.pkl', topk=10)
        for skeleton in (tmp_path / 'c.json', op):
            p = inference_recognizer(rec, video, skeleton, topk=10)
            assert p.labels == own.labels, skeleton
            np.testing.assert_allclose(p.scores, own.scores, rtol=0, atol=1e-6)
        checked += 1
    # a joint moved in the COCO file changes the scores: the file is really what the model reads
    coco[:, COCO17.index('left_wrist'), :2] += 6
    data = json.loads((tmp_path / 'c.json').read_text())
    for ann in data['annotations']: ann['keypoints'] = coco[ann['image_id'] - 100].ravel().tolist()
    (tmp_path / 'moved.json').write_text(json.dumps(data))
    assert not np.allclose(inference_recognizer(rec, video, tmp_path / 'moved.json').scores, own.scores, atol=1e-6)


def test_a_skeleton_that_does_not_fit_the_video_is_one_error_line(run, tmp_path):
    syn, _, ckpt = run
    video = next((syn / 'videos').glob('*.mp4'))
    row = [10., 10., 1.] * 17
    short = {'images': [{'id': t, 'height': SIZE, 'width': SIZE} for t in range(FRAMES - 1)],
             'annotations': [{'image_id': t, 'keypoints': row} for t in range(FRAMES - 1)]}
    (tmp_path / 'short.json').write_text(json.dumps(short))
    big = {'images': [{'id': t, 'height': 2 * SIZE, 'width': SIZE} for t in range(FRAMES)],
           'annotations': [{'image_id': t, 'keypoints': row} for t in range(FRAMES)]}
    (tmp_path / 'big.json').write_text(json.dumps(big))
    r = cli('predict', ckpt, video, '--skeleton', tmp_path / 'short.json')
    assert r.returncode == 1 and r.stdout == ''
    assert r.stderr.count('\n') == 1, r.stderr
    assert f'skeleton has {FRAMES - 1} frames, the video {FRAMES}' in r.stderr, r.stderr
    assert str(tmp_path / 'short.json') in r.stderr
    with pytest.raises(SkeletonError, match=rf"big.json: skeleton is for {2 * SIZE}x{SIZE} \(HxW\) frames"):
        inference_recognizer(init_recognizer(ckpt, device='cpu'), video, tmp_path / 'big.json')


def blazepose_of(ann, frames=None):
    "A `blazepose33` Skeleton holding the set's Penn-13 keypoints (what BlazePose would give), on `frames` only."
    kp, sc = ann['keypoint'], ann['keypoint_score']
    M, T = sc.shape[:2]
    bkp, bsc = np.zeros((M, T, 33, 2), np.float32), np.zeros((M, T, 33), np.float32)
    bkp[:, :, layout_map('blazepose33', 'penn13')], bsc[:, :, layout_map('blazepose33', 'penn13')] = kp, sc
    if frames is not None:
        off = np.setdiff1d(np.arange(T), frames)
        bkp[:, off], bsc[:, off] = 0, 0
    return Skeleton(bkp, bsc, 'blazepose33', tuple(ann['img_shape']), 'fake')


def test_without_a_skeleton_the_extracted_one_is_converted_and_used(run, monkeypatch):
    "No skeleton: BlazePose's (here a stand-in returning the set's own keypoints) in the checkpoint's layout."
    syn, _, ckpt = run
    rec = init_recognizer(ckpt, device='cpu')
    ann = load_pyskl_pickle(syn / 'annotations.pkl')['annotations'][1]
    video = syn / 'videos' / f"{ann['frame_dir']}.mp4"
    calls = []
    def fake(path, indices=None, *, layout='blazepose33'):
        calls.append((Path(path), None if indices is None else sorted(set(np.asarray(indices).tolist()))))
        return blazepose_of(ann, indices).to_layout(layout)
    monkeypatch.setattr(api, 'have_pose_extra', lambda: True)
    monkeypatch.setattr(api, 'extract_skeleton', fake)
    own = inference_recognizer(rec, video, syn / 'annotations.pkl', topk=10, clips=2)
    tracked = inference_recognizer(rec, video, topk=10, clips=2)                         # every frame (the default)
    sampled = inference_recognizer(rec, video, topk=10, clips=2, pose_frames='sampled')  # the sampled frames only
    assert calls == [(video, None), (video, sorted(set(own.frame_indices.flatten().tolist())))]
    for p in (sampled, tracked):
        assert p.labels == own.labels
        np.testing.assert_allclose(p.scores, own.scores, rtol=0, atol=1e-6)
    assert tracked.skeleton.layout == 'penn13' and tracked.skeleton.scores.shape == (1, FRAMES, 13)
    # an array video goes through estimate_poses: per image on the sampled frames, or tracked through all
    frames = read_clip(video, range(FRAMES))
    def estimate(x, *, tracking=True):
        idx = np.arange(FRAMES) if tracking else own.frame_indices.flatten()
        assert len(x) == len(np.unique(idx)) and (x == frames[np.unique(idx)]).all()
        sk = blazepose_of(ann)
        return sk.keypoints[:, np.unique(idx)], sk.scores[:, np.unique(idx)]
    monkeypatch.setattr(api, 'estimate_poses', estimate)
    for pf in ('sampled', 'all'):
        p = inference_recognizer(rec, frames, topk=10, clips=2, pose_frames=pf)
        arr = inference_recognizer(rec, frames, (ann['keypoint'], ann['keypoint_score']), topk=10, clips=2)
        np.testing.assert_allclose(p.scores, arr.scores, rtol=0, atol=1e-6)
    # without the pose extra: one line saying how to install it
    monkeypatch.setattr(api, 'have_pose_extra', lambda: False)
    with pytest.raises(ImportError, match=r"pip install 'deform3d\[pose\]'"): inference_recognizer(rec, video)


def test_predict_without_the_pose_extra_says_how_to_install_it(run):
    syn, _, ckpt = run
    video = next((syn / 'videos').glob('*.mp4'))
    code = ("import sys; sys.modules['mediapipe'] = None; from deform3d.cli import main; "   # mediapipe cannot import
            f"sys.exit(main(['predict', {str(ckpt)!r}, {str(video)!r}]))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 1 and r.stdout == '', r
    assert r.stderr.count('\n') == 1 and "pip install 'deform3d[pose]'" in r.stderr, r.stderr


def long_clip(syn, tmp_path, n=5):
    "A 40-frame video (8 fps) of `n` synthetic clips one after another, and its one-clip PYSKL pickle."
    anns = load_pyskl_pickle(syn / 'annotations.pkl')['annotations'][:n]
    frames = np.concatenate([read_clip(syn / 'videos' / f"{a['frame_dir']}.mp4", range(FRAMES)) for a in anns])
    write_video(tmp_path / 'long.mp4', frames, fps=8)
    ann = dict(anns[0], frame_dir='long', total_frames=len(frames),
               keypoint=np.concatenate([a['keypoint'] for a in anns], 1),
               keypoint_score=np.concatenate([a['keypoint_score'] for a in anns], 1))
    with open(tmp_path / 'long.pkl', 'wb') as f: pd.to_pickle({'split': {}, 'annotations': [ann]}, f)
    return tmp_path / 'long.mp4', tmp_path / 'long.pkl'


def test_predict_window_prints_and_writes_the_top_class_per_window(run, tmp_path):
    syn, _, ckpt = run
    video, skel = long_clip(syn, tmp_path)
    r = cli('predict', ckpt, video, '--skeleton', skel, '--window', 1, '--stride', 0.5, '--csv', tmp_path / 'w.csv',
            '--batch-size', 4)
    assert r.returncode == 0, r.stderr
    df = api.classify_windows(init_recognizer(ckpt, device='cpu'), video, skel, window=1, stride=0.5)
    csv = pd.read_csv(tmp_path / 'w.csv')
    assert len(df) == len(csv) == 9 and list(csv.start_frame) == list(range(0, 33, 4))
    assert list(csv.label) == list(df.label) and np.allclose(csv.prob, df.prob, atol=1e-6)
    printed = [line.split() for line in r.stdout.splitlines()]
    assert [(float(a), float(b), c) for a, b, c, _ in printed] == [(round(s, 2), round(e, 2), c) for s, e, c in
                                                                   zip(csv.start_s, csv.end_s, csv.label)]
    assert r.stderr.count('\n') == 1 and 'w.csv' in r.stderr
