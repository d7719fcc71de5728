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
