"Tests of deform3d.model.deformable beyond the notebook: the whole 3DTS against Algorithm A3, axis order, small inputs."
import math
import pytest
import torch
from einops import rearrange
from deform3d.model.deformable import (TokenSearch3D, DeformableAttention3D, sample_tokens, sample_tokens_reference,
                                 search_size, tokens_to_points, points_to_tokens)


@pytest.mark.parametrize("size,k,groups", [((5, 3, 4), 3, 1), ((3, 6, 4), 2, 2), ((4, 4, 6), 5, 1)])
def test_search_matches_algorithm_a3(size, k, groups):
    "The module's output equals the loop version of Algorithm A3 at the points its probe reported (non-zero offsets)."
    torch.manual_seed(1)
    ts = TokenSearch3D(4, kernel_size=k, offset_groups=groups)
    torch.nn.init.normal_(ts.conv2.weight, std=1.)
    torch.nn.init.normal_(ts.conv2.bias, std=0.5)
    seen = []
    ts.points_probe.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    z = torch.randn(2, 4, *size)
    out = ts(z)
    assert out.shape == (2, math.prod(search_size(size, k)), 4)
    assert seen[0].shape == (2, groups, *search_size(size, k), 3)
    torch.testing.assert_close(out, sample_tokens_reference(z, seen[0]), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_single_axis_move_reads_that_axis(axis):
    "Moving every point by +1 token along x, y or z reads the neighbour along W, H or T respectively."
    torch.manual_seed(2)
    T, H, W = 3, 4, 5
    z = torch.randn(1, 2, T, H, W)
    grid = torch.meshgrid(torch.arange(W - 1.), torch.arange(H - 1.), torch.arange(T - 1.), indexing='xy')
    pos = torch.stack(grid, -1)
    pos = rearrange(pos, 'h w t three -> t h w three')           # (x, y, z) at every token but the last of each axis
    shift = torch.zeros(3)
    shift[axis] = 1
    got = sample_tokens(z, tokens_to_points(pos + shift, (T, H, W))[None, None])
    sl = [slice(0, T - 1), slice(0, H - 1), slice(0, W - 1)]      # tensor order (T, H, W)
    sl[2 - axis] = slice(1, None)                                  # x -> W (last), z -> T (first)
    torch.testing.assert_close(got, rearrange(z[:, :, sl[0], sl[1], sl[2]], 'b c t h w -> b (t h w) c'))


def test_tiny_preset_sizes_and_range():
    "k=7 on 4-8 frames and 4x4-8x8 tokens; saturated offsets stay within half a token of the volume."
    ts = TokenSearch3D(8, kernel_size=7)
    torch.nn.init.normal_(ts.conv2.weight, std=5.)
    seen = []
    ts.points_probe.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    for T in range(4, 9):
        for s in (4, 6, 8):
            size = (T, s, s + 1 if s < 8 else s)
            out = ts(torch.randn(1, 8, *size))
            assert out.shape == (1, math.prod(search_size(size, 7)), 8)
            pos = points_to_tokens(seen[-1], size)
            upper = torch.tensor([size[2], size[1], size[0]]) - 0.5
            assert (pos >= -0.5 - 1e-5).all() and (pos <= upper + 1e-5).all()


def test_block_keys_and_errors():
    "The attention block sees N~ + T K keys; wrong shapes raise errors naming the class."
    da = DeformableAttention3D(16, num_heads=2, kernel_size=3)
    da.block.attn.keep_attention = True
    seen = []
    da.block.attn.probe.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    z, modal = torch.randn(1, 4, 5, 6, 16), torch.randn(1, 4, 2, 16)
    da(z, modal)
    assert seen[0] == (1, 2, 4 * 5 * 6 + 8, 2 * 3 * 4 + 8)
    with pytest.raises(ValueError, match="DeformableAttention3D"):
        da(z, torch.randn(1, 3, 2, 16))
    with pytest.raises(ValueError, match="TokenSearch3D"):
        da.search(torch.randn(1, 8, 4, 4, 4))


def test_drop_path_shared_by_rgb_and_modal_tokens():
    "One keep decision per sample: the RGB and the modal tokens' residual updates are dropped together."
    torch.manual_seed(0)
    att = DeformableAttention3D(16, num_heads=2, kernel_size=3, drop_path=0.5).train()
    z, m = torch.randn(64, 3, 4, 4, 16), torch.randn(64, 3, 2, 16)
    with torch.no_grad(): z2, m2 = att(z, m)
    z_same, m_same = ((a - b).flatten(1).abs().amax(1) == 0 for a, b in ((z2, z), (m2, m)))
    assert torch.equal(z_same, m_same) and 0 < z_same.sum() < 64
