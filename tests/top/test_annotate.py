"""`deform3d predict --out-video` and deform3d.annotate: the annotated clip has the input's frame count, size and rate
(on the synthetic set with its skeleton, and on the real `videos/demo.mp4` with BlazePose's, where the pose extra and
`../shared` exist); every bad input of predict's new options is one error line and a non-zero exit."""
import json
from pathlib import Path

import numpy as np
import pytest

from deform3d.cli import main
from deform3d.data.poses import have_pose_extra
from deform3d.data.readers import load_pyskl_pickle, write_pyskl_pickle
from deform3d.data.video import read_clip, video_info, write_video
from deform3d.annotate import LEFT, RIGHT

DEMO = Path('../shared/realdata/videos/demo.mp4')


def predict(capsys, *args):
    "(exit status, stdout, stderr) of `deform3d predict ARGS` run in this process."
    status = main(['predict', *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_out_video_of_a_synthetic_clip_with_its_skeleton(tiny_run, tmp_path, capsys):
    syn, _, ckpt = tiny_run
    ann = load_pyskl_pickle(syn / 'annotations.pkl')['annotations'][0]
    video = syn / 'videos' / f"{ann['frame_dir']}.mp4"
    status, out, err = predict(capsys, ckpt, video, '--skeleton', syn / 'annotations.pkl', '--topk', 2,
                               '--out-video', tmp_path / 'a.mp4', '--attention')
    assert status == 0 and len(out.splitlines()) == 2, err
    assert video_info(tmp_path / 'a.mp4') == video_info(video)
    assert err.count('\n') == 1 and 'a.mp4 (8 frames of 32x32, attention on' in err, err
    drawn, raw = read_clip(tmp_path / 'a.mp4', range(8)).astype(int), read_clip(video, range(8)).astype(int)
    # at every present left or right joint the drawing replaced the pixel (an orange or blue dot), beyond codec noise
    kp, sc = ann['keypoint'][0], ann['keypoint_score'][0]                        # (T, 13, 2), (T, 13)
    t, v = np.nonzero((sc > 0) & (np.arange(13) > 0))                            # Penn-13: joint 0 is the head
    x, y = np.clip(np.round(kp[t, v]).astype(int), 0, 31).T
    change = np.abs(drawn[t, y, x] - raw[t, y, x]).max(-1)
    assert len(t) > 40 and np.median(change) > 60, np.median(change)

@pytest.mark.skipif(not DEMO.exists(), reason='../shared/realdata is absent (a clone without the shared data)')
@pytest.mark.skipif(not have_pose_extra(), reason="the pose extra is not installed: pip install 'deform3d[pose]'")
def test_predict_demo_mp4_without_a_skeleton_writes_an_annotated_video(tiny_run, tmp_path, capsys):
    "No skeleton: BlazePose tracks the person through the real clip; top-k printed, the video's frames all drawn."
    _, _, ckpt = tiny_run
    status, out, err = predict(capsys, ckpt, DEMO, '--topk', 3, '--out-video', tmp_path / 'demo.mp4', '--attention')
    assert status == 0 and len(out.splitlines()) == 3, err
    n, h, w, fps = video_info(DEMO)
    assert video_info(tmp_path / 'demo.mp4') == (n, h, w, fps) == (280, 256, 340, 28.0)
    assert f'({n} frames of {w}x{h}, attention on' in err, err
    # frames with a skeleton show the sides' colours; BlazePose finds the arm-wrestlers on most frames of this clip
    drawn = read_clip(tmp_path / 'demo.mp4', range(0, n, 10)).astype(int)
    near = (np.abs(drawn - LEFT).max(-1) < 40).sum((1, 2)) + (np.abs(drawn - RIGHT).max(-1) < 40).sum((1, 2))
    assert (near > 20).mean() > .5, near


def test_bad_input_is_one_line_and_a_non_zero_exit(tiny_run, tmp_path, capsys):
    syn, _, ckpt = tiny_run
    video, skel = next((syn / 'videos').glob('*.mp4')), syn / 'annotations.pkl'
    (tmp_path / 'text.mp4').write_text('not a video')
    cases = [((tmp_path / 'none.mp4', '--skeleton', skel), 'none.mp4: no such video file'),
             ((tmp_path / 'text.mp4', '--skeleton', skel), 'text.mp4: cannot open as a video'),
             ((video, '--skeleton', skel, '--window', 5), 'is longer than the clip (8 frames'),
             ((video, '--skeleton', skel, '--window', 0), 'window and stride must be > 0'),
             ((video, '--skeleton', skel, '--attention'), '--attention draws on the --out-video'),
             ((video, '--skeleton', skel, '--csv', tmp_path / 'w.csv'), '--stride, --csv need --window'),
             ((video, '--skeleton', skel, '--window', 1, '--out-video', tmp_path / 'x.mp4'), 'not --window')]
    for args, words in cases:
        status, out, err = predict(capsys, ckpt, *args)
        assert status == 1 and out == '' and err.count('\n') == 1, (args, status, out, err)
        assert err.startswith('deform3d: error: ') and words in err, (args, err)
    assert not (tmp_path / 'w.csv').exists() and not (tmp_path / 'x.mp4').exists()


@pytest.mark.skipif(not DEMO.exists(), reason='../shared/realdata is absent (a clone without the shared data)')
@pytest.mark.skipif(not have_pose_extra(), reason="the pose extra is not installed: pip install 'deform3d[pose]'")
def test_predict_reads_the_skeletons_poses_wrote(tiny_run, tmp_path, capsys):
    "`deform3d poses` on a folder of real frames, then predict with its pickle: as predict's own extraction."
    _, _, ckpt = tiny_run
    folder = tmp_path / 'clips'
    folder.mkdir()
    write_video(folder / 'wrestle.mp4', read_clip(DEMO, range(24)), fps=28)       # 24 real frames keep the test short
    assert main(['poses', str(folder), '--out', str(tmp_path / 'poses.pkl'), '--quiet']) == 0
    capsys.readouterr()
    clip = folder / 'wrestle.mp4'
    with_file = predict(capsys, ckpt, clip, '--skeleton', tmp_path / 'poses.pkl', '--json')
    extracted = predict(capsys, ckpt, clip, '--json')
    assert with_file[0] == extracted[0] == 0, with_file[2] + extracted[2]
    assert json.loads(with_file[1]) == json.loads(extracted[1])
    # and the file is what predict reads: the same pickle with its joints marked absent predicts otherwise
    data = load_pyskl_pickle(tmp_path / 'poses.pkl')
    data['annotations'][0]['keypoint_score'][:] = 0
    write_pyskl_pickle(tmp_path / 'absent.pkl', data['split'], data['annotations'])
    absent = predict(capsys, ckpt, clip, '--skeleton', tmp_path / 'absent.pkl', '--json')
    assert absent[0] == 0 and json.loads(absent[1]) != json.loads(with_file[1]), absent[2]
