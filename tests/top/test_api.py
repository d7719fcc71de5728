"""deform3d.api on a tiny checkpoint trained here on the synthetic set: it reproduces `deform3d predict` (which wraps
it) and `deform3d eval`; a COCO-keypoints JSON and an OpenPose folder written here from the synthetic set's own
keypoints give the prediction of the set's own skeleton; a skeleton that does not fit the video is one error line."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deform3d.api import inference_recognizer, init_recognizer
from deform3d.training.config import load_config
from deform3d.data.readers import load_pyskl_pickle
from deform3d.data.skeletons import SkeletonError
from deform3d.data.synthetic import write_synthetic
from deform3d.training.train import train

TINY = ['model.num_frames=4', 'model.img_size=32', 'model.width=4', 'model.depth=1', 'model.num_heads=2',
        'model.mlp_ratio=1.0', 'train.batch_size=4', 'train.epochs=1', 'train.warmup_epochs=0.5', 'train.threads=1']
SIZE, FRAMES = 32, 8

# joint names as each tool writes them (independent of deform3d.data.skeletons' tables)
PENN = ('head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
        'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
COCO17 = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
          'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
          'right_ankle')
BODY25 = ('nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder', 'left_elbow', 'left_wrist',
          'mid_hip', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle', 'right_eye',
          'left_eye', 'right_ear', 'left_ear', 'left_big_toe', 'left_small_toe', 'left_heel', 'right_big_toe',
          'right_small_toe', 'right_heel')


def tool_rows(kp, sc, names):
    "(T, len(names), 3) [x, y, score] of one Penn-13 person in a tool's joint list (Penn's head written as the nose)."
    out = np.zeros(kp.shape[:1] + (len(names), 3))
    for v, j in enumerate(PENN):
        k = names.index('nose' if j == 'head' else j)
        out[:, k, :2], out[:, k, 2] = kp[:, v], sc[:, v]
    return out


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('api')
    syn = tmp / 'syn'
    write_synthetic(syn, num_clips=40, seed=5, num_frames=FRAMES, size=(SIZE, SIZE), workers=1)
    out = tmp / 'run'
    train(load_config('demo', [f'data.root={syn}', *TINY]), out, progress=False)
    return syn, out, out / 'checkpoints' / 'last.pt'


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
