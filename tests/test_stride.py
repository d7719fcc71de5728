"Joint and temporal stride attention (deform3d.stride): batched path vs loop reference, locality, cost scaling."
import pytest, torch
from deform3d.stride import (JointStrideAttention, TemporalStrideAttention, window_starts, window_starts_loop,
                             window_index, window_dependency, attention_scores, attention_flops, full_attention_scores)

JOINT_CASES = [(13, 4), (34, 4), (17, 4), (51, 6), (13, 1), (13, 2), (13, 3), (13, 5), (3, 4), (4, 4), (2, 1)]
TEMPORAL_CASES = [(12, 4), (16, 4), (13, 4), (9, 3), (6, 1), (12, 2), (3, 8), (5, 5), (32, 8)]

@pytest.mark.parametrize("R,wnd", JOINT_CASES)
@pytest.mark.parametrize("K", [0, 1, 2])
def test_joint_matches_loop_reference(R, wnd, K):
    torch.manual_seed(R * 10 + wnd + K)
    m = JointStrideAttention(16, num_heads=2, window=wnd, mlp_ratio=2.).eval()
    pose, modal = torch.randn(2, 3, R, 16), torch.randn(2, 3, K, 16)
    with torch.no_grad():
        p, mo = m(pose, modal)
        pr, mr = m.loop_reference(pose, modal)
    assert p.shape == pose.shape and mo.shape == modal.shape
    torch.testing.assert_close(p, pr, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mo, mr, atol=1e-5, rtol=1e-5)

@pytest.mark.parametrize("T,wnd", TEMPORAL_CASES)
def test_temporal_matches_loop_reference(T, wnd):
    torch.manual_seed(T * 10 + wnd)
    m = TemporalStrideAttention(16, num_heads=2, window=wnd, mlp_ratio=2.).eval()
    x = torch.randn(2, T, 5, 16)
    with torch.no_grad():
        torch.testing.assert_close(m(x), m.loop_reference(x), atol=1e-5, rtol=1e-5)

@pytest.mark.parametrize("L", range(1, 30))
@pytest.mark.parametrize("wnd", range(1, 8))
def test_window_starts(L, wnd):
    q, kv = window_starts(L, wnd)
    assert (q.tolist(), kv.tolist()) == window_starts_loop(L, wnd)
    q_idx, kv_idx, counts = window_index(L, wnd)
    assert counts.min() >= 1 and counts.sum() == q_idx.numel()          # every token in a query window
    assert q_idx.max() < L and kv_idx.max() < L and q_idx.min() >= 0

@pytest.mark.parametrize("R,wnd", [(13, 4), (34, 4), (10, 3), (6, 1)])
def test_joint_locality(R, wnd):
    "Perturbing joint j moves output joint i exactly where window_dependency says so."
    torch.manual_seed(0)
    m = JointStrideAttention(16, num_heads=2, window=wnd, mlp_ratio=2.).eval()
    pose, modal = torch.randn(1, 2, R, 16), torch.randn(1, 2, 2, 16)
    with torch.no_grad():
        base = m(pose, modal)[0]
        for j in range(R):
            p2 = pose.clone(); p2[:, :, j] += torch.randn(16)
            moved = (m(p2, modal)[0] - base).abs().amax(dim=(0, 1, 3)) > 1e-6
            assert torch.equal(moved, window_dependency(R, wnd)[:, j]), j

def test_temporal_locality_far_frame():
    torch.manual_seed(0)
    m = TemporalStrideAttention(16, num_heads=2, window=4, mlp_ratio=2.).eval()
    x = torch.randn(1, 24, 3, 16)
    x2 = x.clone(); x2[:, 20] += torch.randn(3, 16)
    with torch.no_grad(): d = (m(x2) - m(x)).abs().amax(dim=(0, 2, 3))
    assert (d[:16] == 0).all() and (d[16:] > 0).all()

def test_grad_batch_bf16():
    torch.manual_seed(0)
    j, t = JointStrideAttention(16, num_heads=2, window=4), TemporalStrideAttention(16, num_heads=2, window=4)
    pose, modal, x = torch.randn(2, 3, 13, 16), torch.randn(2, 3, 2, 16), torch.randn(2, 12, 4, 16)
    p, mo = j(pose, modal)
    (p.square().mean() + mo.square().mean() + t(x).square().mean()).backward()
    for mod in (j, t):
        assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in mod.parameters())
    j.eval(); t.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        pb, _ = j(pose, modal[:, :, :0]); yb = t(x)
    assert pb.shape == pose.shape and torch.isfinite(pb).all() and yb.shape == x.shape

def test_cost_scaling():
    "Stride cost = h * B * D_q * window^2 exactly; linear in persons / frames, full attention quadratic."
    D, h, T, K = 32, 4, 8, 2
    j = JointStrideAttention(D, num_heads=h, window=4).to('meta')
    for M in (1, 2, 3, 6):
        R = 17 * M
        pose, modal = torch.empty(1, T, R, D, device='meta'), torch.empty(1, T, K, D, device='meta')
        nw = len(window_starts(R, 4)[0])
        assert attention_scores(j, pose, modal) == h * nw * (T * (4 + K)) ** 2
        assert full_attention_scores(j.block, torch.cat([pose, modal], 2)) == h * (T * (R + K)) ** 2
    s1 = attention_scores(j, torch.empty(1, T, 17, D, device='meta'), torch.empty(1, T, K, D, device='meta'))
    s6 = attention_scores(j, torch.empty(1, T, 102, D, device='meta'), torch.empty(1, T, K, D, device='meta'))
    assert 5.5 < s6 / s1 < 6.5
    t = TemporalStrideAttention(D, num_heads=h, window=4).to('meta')
    for T_ in (12, 24, 48):
        x = torch.empty(1, T_, 10, D, device='meta')
        assert attention_scores(t, x) == h * len(window_starts(T_, 4)[0]) * (4 * 10) ** 2
    a, b = (attention_scores(t, torch.empty(1, T_, 10, D, device='meta')) for T_ in (24, 96))
    assert 3.7 < b / a < 4.3

def test_flops_match_scores():
    torch.manual_seed(0)
    t = TemporalStrideAttention(32, num_heads=4, window=4).eval()
    x = torch.randn(1, 12, 6, 32)
    n = attention_scores(t, x)
    assert attention_flops(t, x)['attention'] == 4 * 8 * n
    assert attention_flops(t, x, fused=False)['attention'] == 4 * 8 * n
