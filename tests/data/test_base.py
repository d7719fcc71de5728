"""The loader: one open per sample, frames in clip order, views written in place, `collate` into shared memory."""
import pickle
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from deform3d.data.base import PoseVideoDataset, collate
from deform3d.data.transforms import sample_indices
from deform3d.data.video import read_clip, write_video


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    "A 40-frame noisy video and its record (one person, 25 joints inside the frame)."
    g = np.random.default_rng(0)
    root = tmp_path_factory.mktemp('base')
    v = write_video(root / 'noise.mp4', (g.random((40, 72, 128, 3)) * 255).astype(np.uint8))
    kp = (g.random((1, 40, 25, 2)) * [127, 71]).astype(np.float32)
    return dict(name='noise', label=0, video=v, keypoint=kp, keypoint_score=np.ones((1, 40, 25), np.float32))


def _ds(recs, **kw): return PoseVideoDataset(recs, layout='ntu25', classes=['a'], clip_len=8, img_size=48, seed=1, **kw)


def _reference(ds, rec, index=0):
    "The sample the plain way: frames read at their indices, each view transformed alone, views stacked."
    rng = ds._rng(index)
    inds = sample_indices(40, ds.clip_len, num_clips=ds.num_clips, train=ds.train, rng=rng)
    size = ds.decoded_size(rec, 72, 128)                            # videos decode at a reduced short side
    frames = torch.from_numpy(read_clip(rec['video'], inds.reshape(-1), size=None if size == (72, 128) else size))
    kp, sc = torch.from_numpy(rec['keypoint']), torch.from_numpy(rec['keypoint_score'])
    views = [ds.transform(frames[k * ds.clip_len:(k + 1) * ds.clip_len], kp[:, inds[k]], sc[:, inds[k]],
                          frame_size=(72, 128), rng=rng, flip=f) for k in range(ds.num_clips) for f in ds.flips]
    return torch.stack([v['video'] for v in views]) if len(views) > 1 else views[0]['video']


@pytest.mark.parametrize('kw', [dict(train=True), dict(train=False, num_clips=3), dict(train=False, num_clips=2,
                                                                                     test_flip=True)])
def test_samples_are_the_plain_reference(clip, kw):
    ds = _ds([clip], **kw)
    ds.set_epoch(2)
    s = ds[0]
    assert torch.equal(s['video'], _reference(ds, clip)) and s['video'].is_contiguous()


def test_a_sample_opens_its_video_once_and_leaves_nothing_open(clip, monkeypatch):
    import av
    opened, real = [], av.open
    monkeypatch.setattr(av, 'open', lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    ds = _ds([clip], train=True)
    ds[0]
    assert len(opened) == 1 and ds._open is None                   # probe and read share the open
    ds[0]
    assert len(opened) == 2                                         # the probe remembered: the read opens alone
    monkeypatch.setenv('DEFORM3D_DECODER', 'decord')
    pytest.importorskip('decord')
    assert torch.equal(_ds([clip], train=True)[0]['video'], ds[0]['video'])   # decord: the option, the same frames


def test_a_failed_sample_closes_the_video(clip):
    short = dict(clip, keypoint=clip['keypoint'][:, :20], keypoint_score=clip['keypoint_score'][:, :20])
    ds = _ds([short], train=True)
    with pytest.raises(Exception, match='the video has 40 frames but its pose'): ds[0]
    assert ds._open is None


def test_the_held_video_serves_only_its_own_path_and_does_not_pickle(clip, tmp_path):
    other = dict(clip, video=tmp_path / 'copy.mp4')
    other['video'].write_bytes(Path(clip['video']).read_bytes()[:1000])          # a different (broken) file
    ds = _ds([clip, other], train=True)
    assert ds.video_meta(clip) == (40, 72, 128) and ds._open is not None
    twin = pickle.loads(pickle.dumps(ds))                                        # the open file stays behind
    assert twin._open is None and torch.equal(twin[0]['video'], ds[0]['video'])
    ds.video_meta(clip)
    with pytest.raises(ValueError, match='copy.mp4'): ds.read_frames(other, np.arange(3), None)
    assert ds._open is None                                                     # the held file was closed, not used


def test_frame_folders_give_the_clips_frames_in_order(tmp_path):
    g = np.random.default_rng(2)
    frames = (g.random((10, 24, 32, 3)) * 255).astype(np.uint8)
    for t, f in enumerate(frames): Image.fromarray(f).save(tmp_path / f'{t + 1:06d}.png')
    ds = _ds([dict(name='f', label=0, frames=tmp_path, keypoint=np.zeros((1, 10, 25, 2), np.float32))])
    idx = np.array([7, 1, 1, 9, 0])
    assert np.array_equal(ds.read_frames(ds.records[0], idx, None), frames[idx])
    assert np.array_equal(ds.read_frames(ds.records[0], np.arange(3), None), frames[:3])


def _shared_in_worker(samples): return dict(collate(samples), shared=collate(samples)['video'].is_shared())


def test_collate_writes_into_shared_memory_in_a_worker(clip):
    ds = _ds([clip] * 3, train=False, num_clips=2)
    samples = [ds[i] for i in range(3)]
    plain, shared = collate(samples), collate(samples, shared=True)
    assert not plain['video'].is_shared() and shared['video'].is_shared() and shared['keypoints'].is_shared()
    assert all(torch.equal(plain[k], shared[k]) for k in ('video', 'keypoints', 'scores', 'label', 'index'))
    b = next(iter(torch.utils.data.DataLoader(ds, batch_size=3, num_workers=1, collate_fn=_shared_in_worker)))
    assert b['shared'] and torch.equal(b['video'], plain['video'])
