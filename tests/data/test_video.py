"""The two video decoders agree (frames, counts, errors), and the loader's uint8 fast paths match the float ones."""
from pathlib import Path
import numpy as np
import pytest
import torch
from deform3d.data.transforms import normalize, transform_frames
from deform3d.data.video import get_decoder, read_clip, video_info, write_video

REAL = Path(__file__).resolve().parents[2] / '..' / 'shared' / 'realdata'
NTU = REAL / 'ntu/S001C001P001R001A001_rgb.avi'
HAVE_DECORD = True
try:
    import decord  # noqa: F401
except ImportError: HAVE_DECORD = False


@pytest.fixture(scope='module')
def levels(tmp_path_factory):
    "A 30-frame clip whose frame t is grey level 8 t, with a bright square moving right."
    f = np.repeat((np.arange(30, dtype=np.uint8) * 8)[:, None, None, None], 3, -1) * np.ones((30, 64, 96, 3), np.uint8)
    for t in range(30): f[t, 20:36, 2 * t:2 * t + 16] = 255
    return write_video(tmp_path_factory.mktemp('v') / 'levels.mp4', f, fps=10)


def test_pyav_reads_the_frames_asked_for(levels):
    idx = [29, 0, 7, 7, 15]
    c = read_clip(levels, idx, decoder='pyav')
    assert c.shape == (5, 64, 96, 3) and c.dtype == np.uint8
    np.testing.assert_allclose(c[:, :16, 40:].reshape(5, -1).mean(1), [8 * i for i in idx], atol=3)
    assert video_info(levels, decoder='pyav') == (30, 64, 96, 10.0)
    assert read_clip(levels, [3], size=(32, 48), decoder='pyav').shape == (1, 32, 48, 3)


@pytest.mark.skipif(not HAVE_DECORD, reason='decord (or decord2) is not installed')
@pytest.mark.parametrize('size', [None, (32, 48)])
def test_decoders_agree(levels, size):
    idx = np.array([1, 5, 6, 20, 29])
    a = read_clip(levels, idx, size=size, decoder='pyav').astype(int)
    b = read_clip(levels, idx, size=size, decoder='decord').astype(int)
    assert a.shape == b.shape and np.abs(a - b).mean() < 1.5
    assert video_info(levels, decoder='pyav') == video_info(levels, decoder='decord')


@pytest.mark.skipif(not (NTU.is_file() and HAVE_DECORD), reason='../shared/realdata or decord absent')
def test_decoders_agree_on_real_ntu():
    idx = [0, 40, 102]
    a = read_clip(NTU, idx, size=(256, 456), decoder='pyav').astype(int)
    b = read_clip(NTU, idx, size=(256, 456), decoder='decord').astype(int)
    assert a.shape == (3, 256, 456, 3) and np.abs(a - b).mean() < 1.0
    assert video_info(NTU, decoder='pyav') == video_info(NTU, decoder='decord') == (103, 1080, 1920, 30.0)


def test_errors_name_the_file_with_either_decoder(levels, tmp_path):
    bad = tmp_path / 'half.mp4'
    bad.write_bytes(levels.read_bytes()[: levels.stat().st_size // 2])
    for d in ('pyav',) + (('decord',) if HAVE_DECORD else ()):
        with pytest.raises(ValueError, match='out of range'): read_clip(levels, [30], decoder=d)
        with pytest.raises(ValueError, match='half.mp4'): read_clip(bad, list(range(30)), decoder=d)


def test_decoder_choice(monkeypatch):
    monkeypatch.delenv('DEFORM3D_DECODER', raising=False)
    assert get_decoder() == 'pyav' and get_decoder('pyav') == 'pyav'
    monkeypatch.setenv('DEFORM3D_DECODER', 'nope')
    with pytest.raises(ValueError, match="video decoder 'nope' is not one of pyav, decord"): get_decoder()


def test_uint8_resize_matches_the_float_path():
    g = np.random.default_rng(0)
    fr = torch.from_numpy(g.integers(0, 256, (3, 50, 70, 3), dtype=np.uint8))
    for box, out in (((5, 3, 60, 40), (24, 24)), ((0, 0, 20, 16), (32, 32)), ((2, 2, 30, 30), (30, 30))):
        for flip in (False, True):
            u = transform_frames(fr, box, out, flip)
            f = transform_frames(fr.float(), box, out, flip)                 # the float path: no rounding
            assert u.dtype == torch.float32 and u.shape == f.shape
            assert (u - f).abs().max() <= 1.0 and (u == u.round()).all()     # whole grey levels, at most one apart


def test_normalize_in_place_is_the_same():
    x = torch.rand(3, 2, 4, 4) * 255
    y = normalize(x)
    z = normalize(x.clone(), inplace=True)
    assert torch.equal(y, z)


def _plain_decode(path) -> np.ndarray:
    "Every frame of `path` with PyAV's own loop: the reference the one-open reader must match."
    import av
    with av.open(str(path)) as c: return np.stack([f.to_ndarray(format='rgb24') for f in c.decode(video=0)])


def _count_opens(monkeypatch) -> list:
    import av
    opened, real = [], av.open
    monkeypatch.setattr(av, 'open', lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    return opened


def test_one_open_counts_then_reads_the_frames_of_a_plain_decode(levels, tmp_path, monkeypatch):
    from deform3d.data.video import VideoFile
    ref, idx = _plain_decode(levels), np.array([29, 0, 7, 7, 15])
    opened = _count_opens(monkeypatch)
    with VideoFile(levels) as v:
        assert v.info() == (30, 64, 96, 10.0) and v.declared == 30 and v.packets is not None
        assert np.array_equal(v.read(idx), ref[idx])
        with pytest.raises(ValueError, match='one read per open'): v.read(idx)
    assert len(opened) == 1                                         # the header, the count and the read: one open
    mkv = write_video(tmp_path / 'levels.mkv', ref)                 # Matroska declares no frame count: packets counted
    with VideoFile(mkv) as v:
        assert v.declared == 0 and np.array_equal(v.read(np.array([3, 1])), _plain_decode(mkv)[[3, 1]])


def test_a_large_file_keeps_no_packets_and_reads_again(levels, monkeypatch):
    import deform3d.data.video as video
    monkeypatch.setattr(video, 'KEEP_PACKETS', 0)                   # every file "too large" to hold its packets
    ref = _plain_decode(levels)
    opened = _count_opens(monkeypatch)
    with video.VideoFile(levels) as v:
        assert v.count() == 30 and v.packets is None
        assert np.array_equal(v.read(np.array([2, 28])), ref[[2, 28]])
    assert len(opened) == 2


def test_out_of_range_closes_the_file(levels):
    from deform3d.data.video import VideoFile
    v = VideoFile(levels)
    with pytest.raises(ValueError, match=r'levels.mp4: frame index out of range: \[30\]'): v.read(np.array([1, 30]))
    with pytest.raises(AssertionError, match='not open'): next(v.container.demux())     # closed


def test_transform_frames_is_the_plain_order_of_operations():
    "Bit for bit what the plain order computes: resize the crop, flip, reorder to (C, N, H, W), make float."
    import torch.nn.functional as F
    g = np.random.default_rng(1)
    fr = torch.from_numpy(g.integers(0, 256, (4, 50, 70, 3), dtype=np.uint8))
    for box, out in (((5, 3, 60, 40), (24, 24)), ((0, 0, 20, 16), (32, 32)), ((2, 2, 30, 30), (30, 30))):
        for flip in (False, True):
            x0, y0, w, h = box
            x = fr[:, y0:y0 + h, x0:x0 + w].permute(0, 3, 1, 2)
            if (h, w) != out: x = F.interpolate(x, size=out, mode='bilinear', antialias=out[0] < h or out[1] < w)
            ref = (x.flip(-1) if flip else x).permute(1, 0, 2, 3).float()
            assert torch.equal(transform_frames(fr, box, out, flip), ref)
            buf = torch.full((3, 4) + out, -1.)
            assert transform_frames(fr, box, out, flip, out=buf) is buf and torch.equal(buf, ref)
    with pytest.raises(ValueError, match=r'out must be float32 \(3, 4, 24, 24\)'):
        transform_frames(fr, (5, 3, 60, 40), (24, 24), out=torch.zeros(3, 4, 24, 25))
