"""Tests of deform3d.data.prepare (`deform3d prepare`): generated trees in each raw layout, the real files when present,
a damaged file, an interrupted run, `--check`."""
import contextlib, io, os, pickle, signal, subprocess, sys, time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from deform3d.cli import main
from deform3d.data.datasets import NTU, FineGYM, PennAction
from deform3d.data.encode import prepared_size, scale_keypoints, verify_video
from deform3d.data.prepare import prepare
from deform3d.data.readers import read_penn_label, write_ntu_skeleton, write_penn_label, write_pyskl_pickle
from deform3d.data.transforms import denormalize
from deform3d.data.video import read_clip, video_info, write_video
from penn_frames import paint, write_penn

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / '..' / 'shared' / 'realdata'
REAL_NTU, REAL_PENN = REAL / 'ntu', REAL / 'pennaction'
NTU_NAME = 'S001C001P001R001A001'


def run_cli(*argv):
    "`(exit status, stdout, stderr)` of `deform3d ARGV` run in this process."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def write_ntu(root, name, T=12, seed=0, persons=1, size=(270, 480)):
    "An NTU sample in the archive layout: 1920x1080 colour pixels over a smaller video with a dot under each joint."
    g = np.random.default_rng(seed)
    xy = np.stack([g.uniform(700, 1220, (persons, T, 25)), g.uniform(250, 850, (persons, T, 25))], -1)
    frames = np.zeros((T, *size, 3), np.uint8)
    for t in range(T):
        for x, y in (xy[:, t].reshape(-1, 2) * [size[1] / 1920, size[0] / 1080]).astype(int): paint(frames[t], x, y, 6)
    write_video(root / 'nturgb+d_rgb' / f'{name}_rgb.avi', frames, codec='mpeg4')
    rows = np.zeros((persons, T, 25, 12))
    rows[..., 5:7], rows[..., 11] = xy, 2
    (root / 'nturgb+d_skeletons').mkdir(parents=True, exist_ok=True)
    write_ntu_skeleton(root / 'nturgb+d_skeletons' / f'{name}.skeleton',
                       [[(1000 + m, rows[m, t]) for m in range(persons)] for t in range(T)])


def values_under(sample):
    "Brightness of the output frames under every present keypoint."
    img = denormalize(sample['video']).mean(0)
    kp, sc = sample['keypoints'], sample['scores']
    ix = kp.round().long().clamp(0, img.shape[-1] - 1)
    t = torch.arange(img.shape[0]).view(1, -1, 1).expand_as(sc)
    return img[t, ix[..., 1], ix[..., 0]][sc > 0]


def same_annotations(a, b):
    "Two annotation pickles hold the same split and annotations (arrays equal)."
    a, b = (pickle.loads(Path(p).read_bytes()) for p in (a, b))
    assert a['split'] == b['split'] and len(a['annotations']) == len(b['annotations'])
    for x, y in zip(a['annotations'], b['annotations']):
        assert sorted(x) == sorted(y)
        for k in x: np.testing.assert_array_equal(np.asarray(x[k]), np.asarray(y[k]))


def same_place(a, b, size, atol):
    "Samples `a` and `b` (raw, prepared) have their joints at the same place of the crop, `atol` pixels apart."
    # crop boxes are whole pixels of each frame and even widths stretch by <= 0.2 %: a joint within `atol` of the
    # crop's edge may fall inside in one and outside in the other
    pa, pb = a['scores'] > 0, b['scores'] > 0
    assert torch.allclose(a['keypoints'][pa & pb], b['keypoints'][pa & pb], atol=atol)
    for s, p in ((a, pa & ~pb), (b, pb & ~pa)):
        kp = s['keypoints'][p]
        assert ((kp < atol) | (kp > size - 1 - atol)).any(-1).all()
    assert (pa != pb).float().mean() < 0.05


def hidden_files(root):
    return [p for p in Path(root).rglob('.*') if p.is_file() and p.name != '.prepared.jsonl']


# ---------------------------------------------------------------- sizes and keypoints
def test_prepared_size_and_keypoint_scaling():
    assert prepared_size(1080, 1920, 256) == (256, 456)
    assert prepared_size(240, 320, 256) == (240, 320)                 # never enlarged
    assert prepared_size(361, 479, 1000) == (360, 480)                # even sides for yuv420p
    assert prepared_size(1920, 1080, 320) == (568, 320)               # portrait: the short side is the width
    kp = np.float32([[[960, 540], [0, 1080], [1919, 0]]])
    out = scale_keypoints(kp, (1080, 1920), (256, 456))
    np.testing.assert_allclose(out / [456, 256], kp / [1920, 1080], rtol=1e-6)   # the same relative place


# ---------------------------------------------------------------- NTU, generated archive layout
NAMES = ['S001C001P001R001A003', 'S001C002P002R001A005', 'S001C003P003R002A007', 'S002C001P004R001A010',
         'S018C001P001R001A061']                                      # the last is NTU120 only


@pytest.fixture(scope='module')
def ntu_raw(tmp_path_factory):
    root = tmp_path_factory.mktemp('ntu_raw')
    for i, n in enumerate(NAMES): write_ntu(root, n, T=12 + i, seed=i, persons=1 + i % 2)
    write_ntu(root, 'S001C001P005R001A001', seed=9)                   # in the missing-skeleton list below
    write_ntu(root, 'S001C001P006R001A002', seed=8)
    (root / 'nturgb+d_rgb' / 'S001C001P006R001A002_rgb.avi').unlink()  # a skeleton without its video
    write_ntu(root, 'S001C001P007R001A004', seed=7, T=30)
    bad = root / 'nturgb+d_rgb' / 'S001C001P007R001A004_rgb.avi'
    bad.write_bytes(bad.read_bytes()[:3000])                          # a damaged (truncated) video
    (root / 'missing.txt').write_text('header\nheader\nheader\nS001C001P005R001A001\nS001C001P006R001A099\n')
    return root


@pytest.fixture(scope='module')
def ntu_prepared(ntu_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp('ntu_prep') / 'prepared'
    rc, stdout, _ = run_cli('prepare', 'ntu60', '--src', ntu_raw, '--out', out, '--missing', ntu_raw / 'missing.txt',
                            '--workers', 2)
    return out, rc, stdout


def test_ntu_summary_names_every_failure(ntu_prepared):
    out, rc, stdout = ntu_prepared
    assert rc == 1                                                    # something failed: a non-zero status
    assert '4 prepared, 0 already done (skipped), 2 failed' in stdout and 'left out 1 sample' in stdout
    failed = dict(l.split('\t') for l in (out / 'failed.txt').read_text().splitlines())
    assert sorted(failed) == ['S001C001P006R001A002', 'S001C001P007R001A004']
    assert 'no video' in failed['S001C001P006R001A002']
    assert 'S001C001P007R001A004_rgb.avi' in failed['S001C001P007R001A004']
    assert (out / 'left_out.txt').read_text().startswith('S001C001P005R001A001\t')
    assert not hidden_files(out) and not (out / 'nturgb+d_rgb' / 'S001C001P007R001A004.mp4').exists()


def test_ntu_prepared_reads_the_same_samples(ntu_raw, ntu_prepared):
    out = ntu_prepared[0]
    ann = pickle.loads((out / 'ntu_kinect.pkl').read_bytes())
    assert [a['frame_dir'] for a in ann['annotations']] == NAMES[:4]      # NTU60: S018 and A061 are not in it
    for a in ann['annotations']:
        assert a['img_shape'] == (256, 456) and a['original_shape'] == (1080, 1920)
        assert verify_video(out / 'nturgb+d_rgb' / f"{a['frame_dir']}.mp4", a['total_frames'], (256, 456)) is None
    bad = {'S001C001P007R001A004'}                                     # failed: named in failed.txt
    for prot in ('xsub', 'xview'):
        for split in ('train', 'val'):
            kw = dict(missing=ntu_raw / 'missing.txt', on_error='skip', clip_len=4, img_size=64, num_persons=2,
                      train=False)
            raw, prep = NTU(ntu_raw, 60, prot, split, **kw), NTU(out, 60, prot, split, **kw)
            assert [r['name'] for r in raw.records if r['name'] not in bad] == [r['name'] for r in prep.records]
            assert [r['label'] for r in raw.records if r['name'] not in bad] == [r['label'] for r in prep.records]
            for i, r in enumerate(prep.records):
                j = [q['name'] for q in raw.records].index(r['name'])
                a, b = raw[j], prep[i]
                # keypoints on the body: the same place of the output crop, and over the painted dots
                same_place(a, b, 64, 0.5)
                assert (values_under(b) > 100).all()


def test_ntu_rerun_skips_and_check(ntu_raw, ntu_prepared, tmp_path):
    out = ntu_prepared[0]
    before = {p.name: p.read_bytes() for p in (out / 'nturgb+d_rgb').iterdir()}
    pkl = tmp_path / 'before.pkl'
    pkl.write_bytes((out / 'ntu_kinect.pkl').read_bytes())
    rc, stdout, _ = run_cli('prepare', 'ntu60', '--src', ntu_raw, '--out', out, '--missing', ntu_raw / 'missing.txt')
    assert rc == 1 and '0 prepared, 4 already done (skipped), 2 failed' in stdout
    assert {p.name: p.read_bytes() for p in (out / 'nturgb+d_rgb').iterdir()} == before
    same_annotations(out / 'ntu_kinect.pkl', pkl)
    rc, stdout, _ = run_cli('prepare', '--check', out)
    assert rc == 0 and 'ntu60, 4 videos, 0 problem(s)' in stdout
    # a damaged prepared tree: --check names the file, the next run re-encodes it
    victim = out / 'nturgb+d_rgb' / f'{NAMES[1]}.mp4'
    copy = tmp_path / 'copy'
    os.system(f"cp -r '{out}' '{copy}'")
    (copy / 'nturgb+d_rgb' / victim.name).write_bytes(victim.read_bytes()[:500])
    rc, stdout, _ = run_cli('prepare', '--check', copy)
    assert rc == 1 and f'{victim.name}: does not decode' in stdout and '1 problem(s)' in stdout
    rc, stdout, _ = run_cli('prepare', 'ntu60', '--src', ntu_raw, '--out', copy, '--missing', ntu_raw / 'missing.txt')
    assert '1 prepared, 3 already done (skipped)' in stdout
    assert (copy / 'nturgb+d_rgb' / victim.name).read_bytes() == victim.read_bytes()     # byte-reproducible


def test_ntu120_and_dry_run(ntu_raw, tmp_path):
    out = tmp_path / 'p120'
    rc, stdout, _ = run_cli('prepare', 'ntu120', '--src', ntu_raw, '--out', out, '--dry-run')
    assert rc == 0 and not out.exists()
    assert '7 source videos; 0 already prepared, 7 to do' in stdout and 'would read' in stdout
    rc, stdout, _ = run_cli('prepare', 'ntu120', '--src', ntu_raw, '--out', out)
    names = [a['frame_dir'] for a in pickle.loads((out / 'ntu_kinect.pkl').read_bytes())['annotations']]
    assert NAMES[4] in names and 'S001C001P005R001A001' in names     # no missing list given: nothing left out
    assert [r['name'] for r in NTU(out, 120, 'xset', 'val', on_error='skip').records] == \
           [n for n in sorted(names) if int(n[1:4]) % 2 == 1]


def test_bad_command_lines(tmp_path):
    rc, _, err = run_cli('prepare', 'kinetics', '--src', tmp_path, '--out', tmp_path / 'o')
    assert rc == 1 and err.count('\n') == 1 and "'kinetics' is not one of ntu60" in err
    rc, _, err = run_cli('prepare', 'ntu60', '--src', tmp_path / 'nope', '--out', tmp_path / 'o')
    assert rc == 1 and 'nope: no such folder' in err and 'Traceback' not in err
    rc, _, err = run_cli('prepare', 'ntu60', '--src', tmp_path, '--out', tmp_path / 'o')
    assert rc == 1 and 'no NTU .skeleton files' in err
    rc, _, err = run_cli('prepare', '--check', tmp_path)
    assert rc == 1 and 'prepare.json: no such file' in err
    rc, _, err = run_cli('prepare', 'ntu60')
    assert rc == 1 and 'give DATASET --src RAW --out PREPARED' in err


# ---------------------------------------------------------------- an interrupted run
def interrupted_then_resumed(dataset, src, tmp_path, ann_file, n=5, frames=40, size=(256, 456)):
    "A run killed once it has recorded one of `n` videos, then rerun: `(resumed tree, tree of an uninterrupted run)`."
    out, ref = tmp_path / 'out', tmp_path / 'ref'
    cmd = [sys.executable, '-c', 'import sys; from deform3d.cli import main; sys.exit(main(sys.argv[1:]))',
           'prepare', dataset, '--src', str(src), '--out', str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    manifest = out / '.prepared.jsonl'                        # a video counts as done once it is recorded there
    while time.time() < deadline and not (manifest.is_file() and manifest.read_text().count('\n')): time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)                       # mid-run: its process group, no cleanup
    proc.wait()
    finished = sorted(p for p in out.rglob('*.mp4') if not p.name.startswith('.'))
    assert 1 <= len(finished) < n and not (out / ann_file).exists()
    for p in finished: assert verify_video(p, frames, size) is None         # no half-written video under its name
    rc, stdout, _ = run_cli('prepare', dataset, '--src', src, '--out', out)
    skipped = int(stdout.split(' already done')[0].split()[-1])
    assert rc == 0 and 1 <= skipped <= len(finished) and f'{n - skipped} prepared, {skipped} already done' in stdout
    assert not hidden_files(out)                              # the killed run's temporary file is gone
    run_cli('prepare', dataset, '--src', src, '--out', ref)
    for p in sorted(ref.rglob('*.mp4')): assert (out / p.relative_to(ref)).read_bytes() == p.read_bytes()
    same_annotations(out / ann_file, ref / ann_file)
    return out, ref


def test_interrupted_run_resumes(tmp_path):
    src = tmp_path / 'raw'
    for i in range(5): write_ntu(src, f'S001C001P{i + 1:03d}R001A001', T=40, seed=i, size=(270, 480))
    out, ref = interrupted_then_resumed('ntu60', src, tmp_path, 'ntu_kinect.pkl')
    assert len(list((out / 'nturgb+d_rgb').glob('S*.mp4'))) == 5


# ---------------------------------------------------------------- Penn Action, generated frame folders
def test_penn_raw_vs_prepared(tmp_path):
    raw = write_penn(tmp_path / 'raw', [('0001', 'bowl', True), ('0002', 'squat', True), ('0003', 'pushup', False),
                                        ('0004', 'tennis_serve', True), ('0005', 'situp', False)], H=300, W=400,
                     visible_share=0.8)
    (raw / 'frames' / '0005' / '000004.jpg').write_bytes(b'not a jpeg')          # a damaged frame
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'pennaction', '--src', raw, '--out', out)
    assert rc == 1 and '4 prepared' in stdout and '000004.jpg: cannot decode image' in stdout
    assert (out / 'failed.txt').read_text().startswith('0005\t')
    for split in ('train', 'test'):
        for vis in (False, True):
            kw = dict(clip_len=4, img_size=64, use_visibility=vis, on_error='skip', train=False)
            a, b = PennAction(raw, split, **kw), PennAction(out, split, **kw)
            assert [(r['name'], r['label']) for r in a.records if r['name'] != '0005'] == \
                   [(r['name'], r['label']) for r in b.records]
            for i, r in enumerate(b.records):
                sa, sb = a[[q['name'] for q in a.records].index(r['name'])], b[i]
                same_place(sa, sb, 64, 1.0)          # one source pixel of the 300-pixel frames: 0.25 output pixels
                assert (values_under(sb) > 100).all()                # the painted dots stay under the joints
    ann = pickle.loads((out / 'pennaction.pkl').read_bytes())
    assert {a['frame_dir']: a['img_shape'] for a in ann['annotations']}['0001'] == (256, 342)


@pytest.mark.skipif(not (REAL_PENN / 'labels' / '0001.mat').exists(), reason='real Penn Action labels are absent')
def test_real_penn_labels_with_rendered_frames(tmp_path):
    "Real labels (real sizes, odd dtypes) with frames rendered from their joints: the dots stay under the joints."
    raw = tmp_path / 'raw'
    (raw / 'labels').mkdir(parents=True)
    for name in ('0001', '1154'):                                   # 1154.mat: a bbox row too few
        lab = read_penn_label(REAL_PENN / 'labels' / f'{name}.mat')
        (raw / 'labels' / f'{name}.mat').write_bytes((REAL_PENN / 'labels' / f'{name}.mat').read_bytes())
        H, W = lab['dimensions'][:2]
        d = raw / 'frames' / name
        d.mkdir(parents=True)
        for t in range(0, lab['nframes']):
            img = np.zeros((H, W, 3), np.uint8)
            for x, y in lab['keypoint'][t].astype(int): paint(img, x, y, 4)
            Image.fromarray(img).save(d / f'{t + 1:06d}.jpg', quality=90)
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'pennaction', '--src', raw, '--out', out)
    assert rc == 0 and '2 prepared' in stdout
    both = PennAction(out, 'train', clip_len=6, img_size=96).records + PennAction(out, 'test', clip_len=6).records
    assert sorted(r['name'] for r in both) == ['0001', '1154']
    ds = PennAction(out, 'train' if read_penn_label(raw / 'labels' / '0001.mat')['train'] else 'test',
                    clip_len=6, img_size=96)
    s = ds[[r['name'] for r in ds.records].index('0001')]
    inside = (s['keypoints'] >= 0).all(-1) & (s['keypoints'] < 96).all(-1)
    assert (values_under(dict(s, scores=s['scores'] * inside)) > 80).all()


# ---------------------------------------------------------------- FineGYM, event videos cut into element clips
def test_finegym_events_cut_into_clips(tmp_path):
    raw, fps = tmp_path / 'raw', 25
    grey = np.arange(0, 250, 2, dtype=np.uint8)                      # 125 frames: frame t has grey level 2t
    frames = np.ascontiguousarray(np.broadcast_to(grey[:, None, None, None], (125, 64, 96, 3)))
    write_video(raw / 'event' / 'vidA_E_000100_000105.mp4', frames, fps=fps)
    clips = {'vidA_E_000100_000105_A_0001_0002': 3, 'vidA_E_000100_000105_A_0003_0004': 7,
             'vidB_E_000001_000009_A_0001_0002': 4, 'vidA_E_000100_000105_A_0002_0003': 5}
    anns = [dict(frame_dir=c, label=0, img_shape=(64, 96), total_frames=25,
                 keypoint=np.full((1, 25, 17, 2), [48, 32], np.float32),
                 keypoint_score=np.ones((1, 25, 17), np.float32))
            for c in list(clips)[:3]]                                # the last clip has no pose
    write_pyskl_pickle(raw / 'gym_hrnet.pkl', {}, anns)
    (raw / 'train.txt').write_text(''.join(f'{c} {l}\n' for c, l in list(clips.items())[:3]))
    (raw / 'val.txt').write_text(f'{list(clips)[3]} 5\r\n')
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'finegym', '--src', raw, '--out', out, '--train-list', raw / 'train.txt',
                            '--test-list', raw / 'val.txt', '--short-side', 32)
    assert rc == 1 and '2 prepared' in stdout and '2 failed' in stdout
    failed = (out / 'failed.txt').read_text()
    assert 'no event video vidB_E_000001_000009' in failed and 'has no pose' in failed
    ds = FineGYM(out, 'train', clip_len=4, img_size=32)
    assert [(r['name'], r['label']) for r in ds.records] == [(c, l) for c, l in list(clips.items())[:2]]
    for r in ds.records:
        start = int(r['name'][-9:-5])
        got = read_clip(r['video'], np.arange(25))[..., 0].mean((1, 2))
        np.testing.assert_allclose(got, 2 * (start * fps + np.arange(25)), atol=3)   # the element's own frames
        assert r['img_shape'] == (32, 48) and np.allclose(r['keypoint'], [24, 16])   # keypoints scaled with them
    rc, stdout, _ = run_cli('prepare', '--check', out)
    assert rc == 0


# ---------------------------------------------------------------- the real NTU clip and the other real clips
def real_as_ntu(tmp_path, clips):
    "The real clips `{name: video}` as an NTU-named raw set, each with a generated skeleton of its frame count."
    src = tmp_path / 'raw'
    src.mkdir()
    for name, video in clips.items():
        n = video_info(video)[0]
        (src / (f'{name}.mp4' if video.suffix == '.mp4' else f'{name}_rgb.avi')).symlink_to(video)
        rows = np.zeros((n, 25, 12))
        rows[..., 5:7], rows[..., 11] = [960, 540], 2
        write_ntu_skeleton(src / f'{name}.skeleton', [[(7, rows[t])] for t in range(n)])
    return src


def check_real_set(tmp_path, clips):
    src = real_as_ntu(tmp_path, clips)
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'ntu60', '--src', src, '--out', out, '--workers', 2)
    assert rc == 0 and f'{len(clips)} prepared' in stdout
    ann = {a['frame_dir']: a for a in pickle.loads((out / 'ntu_kinect.pkl').read_bytes())['annotations']}
    for name, video in clips.items():
        n, h, w, _ = video_info(video)
        assert ann[name]['video_frames'] == n and ann[name]['img_shape'] == prepared_size(h, w, 256)
    assert run_cli('prepare', '--check', out)[0] == 0


@pytest.mark.skipif(not (REAL / 'videos' / 'test.avi').exists(), reason='real clips are absent')
def test_real_avi_clip_as_an_ntu_sample(tmp_path):
    check_real_set(tmp_path, {'S001C001P005R001A005': REAL / 'videos' / 'test.avi'})


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get('DEFORM3D_SLOW'), reason='slow (1080p and long clips): DEFORM3D_SLOW=1 runs it')
@pytest.mark.skipif(not (REAL_NTU / 'ntu_sample_two_person.avi').exists(), reason='real NTU clips are absent')
def test_real_clips_as_an_ntu_named_set(tmp_path):
    check_real_set(tmp_path, {'S001C002P002R001A002': REAL_NTU / 'ntu_sample_two_person.avi',
                              'S001C001P003R001A003': REAL / 'videos' / 'test.mp4',
                              'S001C003P004R001A004': REAL / 'videos' / 'demo.mp4'})


@pytest.mark.skipif(not (REAL_NTU / f'{NTU_NAME}.skeleton').exists(), reason='real NTU sample is absent')
def test_real_ntu_joints_stay_on_the_body(tmp_path):
    src = tmp_path / 'raw'
    src.mkdir()
    for f in (f'{NTU_NAME}.skeleton', f'{NTU_NAME}_rgb.avi'): (src / f).symlink_to(REAL_NTU / f)
    out = tmp_path / 'out'
    rc, stdout, _ = run_cli('prepare', 'ntu60', '--src', src, '--out', out)
    assert rc == 0 and '1 prepared' in stdout
    a = pickle.loads((out / 'ntu_kinect.pkl').read_bytes())['annotations'][0]
    assert a['total_frames'] == a['video_frames'] == 103 and a['img_shape'] == (256, 456)
    # draw the joints on the original frame and on the prepared one: found at the same relative place
    t = 60
    orig = read_clip(src / f'{NTU_NAME}_rgb.avi', [t])[0]
    prep = read_clip(out / 'nturgb+d_rgb' / f'{NTU_NAME}.mp4', [t])[0]
    raw = NTU(src, 60, 'xsub', 'train')
    raw_kp, prep_kp = raw.load_pose(raw.records[0])[0][0, t], a['keypoint'][0, t]
    def marked(img, kp, r):
        img = img.copy()
        for x, y in kp.round().astype(int): img[y - r:y + r + 1, x - r:x + r + 1] = (255, 0, 255)
        return img
    def centroids(img, kp, r):
        "Relative place of the marker colour near each joint (searched within 3r)."
        hits = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] > 200)
        out = []
        for x, y in kp.round().astype(int):
            yy, xx = np.nonzero(hits[y - 3 * r:y + 3 * r + 1, x - 3 * r:x + 3 * r + 1])
            out.append([xx.mean() + x - 3 * r, yy.mean() + y - 3 * r])
        return np.array(out) / [img.shape[1], img.shape[0]]
    small = np.asarray(Image.fromarray(marked(orig, raw_kp, 8)).resize((456, 256), Image.BILINEAR))
    found = np.abs(centroids(small, raw_kp * [456 / 1920, 256 / 1080], 2) - centroids(marked(prep, prep_kp, 2),
                                                                                       prep_kp, 2)) * [456, 256]
    assert np.median(found) < 0.5 and found.max() < 1.5      # pixels (neighbouring joints' marks overlap a little)
    # and the prepared frame is the original downscaled: not shifted, cropped or stretched
    ref = np.asarray(Image.fromarray(orig).resize((456, 256), Image.BOX)).astype(float)
    err = np.abs(ref - prep).mean()
    assert err < 6 and np.abs(ref[:, 4:] - prep[:, :-4]).mean() > 1.5 * err
    # the dataset reads the same sample from both trees
    kw = dict(clip_len=8, train=False)
    raw_s, prep_s = NTU(src, 60, 'xsub', 'train', **kw)[0], NTU(out, 60, 'xsub', 'train', **kw)[0]
    assert raw_s['name'] == prep_s['name'] and raw_s['label'] == prep_s['label'] == 0
    same_place(raw_s, prep_s, 224, 0.5)
    assert (denormalize(raw_s['video']) - denormalize(prep_s['video'])).abs().mean() < 6
