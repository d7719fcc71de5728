"Joint and temporal stride attention (deform3d.model.stride): batched path vs loop reference, locality, cost scaling."
import pytest, torch
from deform3d.model.stride import (JointStrideAttention, TemporalStrideAttention, window_starts, window_pairs_loop,
                                   KV_WINDOWS, window_index, window_dependency, literal_windows,
                                   attention_scores, attention_flops, full_attention_scores)

# One case per property, not the cross product: Penn Action (R=13, wnd=4), two persons of COCO-17 (R=34), three persons
# with a wider window, odd windows, window 1, window > L, L == window, K = 0/1/2 modal tokens, then strides other than
# wnd // 2 (1, odd, = window) for Fig. 7(a).
JOINT_CASES = [(13, 4, 2, None), (34, 4, 1, None), (51, 6, 0, None), (13, 3, 1, None), (13, 1, 2, None),
               (3, 4, 0, None), (4, 4, 2, None), (2, 1, 1, None), (13, 4, 2, 1), (17, 6, 1, 3), (13, 4, 0, 4),
               (10, 5, 2, 5)]
TEMPORAL_CASES = [(12, 4, None), (13, 4, None), (9, 3, None), (6, 1, None), (3, 8, None), (5, 5, None), (32, 8, None),
                  (12, 4, 1), (12, 4, 3), (12, 4, 4), (16, 8, 2), (9, 3, 3)]

@pytest.mark.parametrize("R,wnd,K,stride", JOINT_CASES)
def test_joint_matches_loop_reference(R, wnd, K, stride):
    torch.manual_seed(R * 10 + wnd + K)
    m = JointStrideAttention(16, num_heads=2, window=wnd, stride=stride, mlp_ratio=2.).eval()
    assert m.stride == (stride or max(wnd // 2, 1))
    pose, modal = torch.randn(2, 3, R, 16), torch.randn(2, 3, K, 16)
    with torch.no_grad():
        p, mo = m(pose, modal)
        pr, mr = m.loop_reference(pose, modal)
    assert p.shape == pose.shape and mo.shape == modal.shape
    torch.testing.assert_close(p, pr, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mo, mr, atol=1e-5, rtol=1e-5)

@pytest.mark.parametrize("T,wnd,stride", TEMPORAL_CASES)
def test_temporal_matches_loop_reference(T, wnd, stride):
    torch.manual_seed(T * 10 + wnd)
    m = TemporalStrideAttention(16, num_heads=2, window=wnd, stride=stride, mlp_ratio=2.).eval()
    x = torch.randn(2, T, 5, 16)
    with torch.no_grad():
        torch.testing.assert_close(m(x), m.loop_reference(x), atol=1e-5, rtol=1e-5)

def test_window_starts():
    "Vectorised windows equal the loop for every L < 30, window < 8, stride and pairing; queries cover every token."
    for kv in KV_WINDOWS:
        if kv == 'literal': continue                                      # test_literal_windows
        for L in range(1, 30):
            for wnd in range(1, 8):
                for stride in (None, *range(1, wnd + 1)):
                    q_idx, kv_idx, counts = window_index(L, wnd, stride=stride, kv_windows=kv)
                    pairs = window_pairs_loop(L, wnd, stride=stride, kv_windows=kv)
                    assert [(a.tolist(), b.tolist()) for a, b in zip(q_idx, kv_idx)] == pairs, (kv, L, wnd, stride)
                    # every token in a query window
                    assert counts.min() >= 1 and counts.sum() == q_idx.numel(), (L, wnd, stride)
                    assert q_idx.max() < L and kv_idx.max() < L and q_idx.min() >= 0 and kv_idx.min() >= 0
                    q = window_starts(L, wnd, stride=stride)
                    if L > wnd: assert (q.diff() <= (stride or max(wnd // 2, 1))).all() and q[-1] == L - wnd
                    if kv != 'shifted':                                    # every token a key
                        assert torch.bincount(kv_idx.flatten(), minlength=L).min() >= 1

def test_alternate_keys_never_wrap():
    "'alternate' (the presets' pairing): every token a key, every key window contiguous in [0, L): time never wraps."
    for L in range(1, 30):
        for wnd in range(1, 8):
            for stride in (None, *range(1, wnd + 1)):
                _, kv_idx, _ = window_index(L, wnd, stride=stride, kv_windows='alternate')
                assert torch.bincount(kv_idx.flatten(), minlength=L).min() >= 1, (L, wnd, stride)
                assert (kv_idx.diff(dim=1) == 1).all() and kv_idx.min() >= 0 and kv_idx.max() < L, (L, wnd, stride)
    # the same check catches the wrap of 'cyclic': its last window at T = 12 holds frames 10, 11, 0, 1
    _, cyc, _ = window_index(12, 4, kv_windows='cyclic')
    assert cyc[-1].tolist() == [10, 11, 0, 1] and not (cyc.diff(dim=1) == 1).all()

def test_literal_windows():
    "Algorithms A1/A2 as written: no key window starts at L - wnd, and at T = 12 frames 10, 11 are in no query window."
    for L in range(8, 30):
        for wnd in (2, 3, 4, 5):
            q, kv = literal_windows(L, wnd)
            assert L - wnd not in kv and max(kv) < L - wnd, (L, wnd)
    q_idx, kv_idx, counts = window_index(12, 4, kv_windows='literal')
    assert q_idx[:, 0].tolist() == [0, 2, 4, 6] and kv_idx[:, 0].tolist() == [2, 4, 6, 6]
    assert counts.tolist() == [1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 0, 0]              # frames 10, 11: no query window
    assert window_index(13, 4, kv_windows='literal')[0][:, 0].tolist() == [0, 2, 4, 6, 8]   # the cycling loop ends
    with pytest.raises(ValueError, match="kv_windows='literal' needs L - wnd > stride"):
        window_index(6, 4, kv_windows='literal')
    # frames in no query window get no attention update: the batched path agrees with the loop
    torch.manual_seed(0)
    m = TemporalStrideAttention(16, num_heads=2, window=4, kv_windows='literal', mlp_ratio=2.).eval()
    x = torch.randn(2, 12, 5, 16)
    with torch.no_grad():
        y = m(x)
        torch.testing.assert_close(y, m.loop_reference(x), atol=1e-5, rtol=1e-5)
        blk = m.block
        torch.testing.assert_close(y[:, 10:], x[:, 10:] + blk.ffn(blk.norm2(x[:, 10:])))   # the FFN only
    j = JointStrideAttention(16, num_heads=2, window=4, kv_windows='literal', mlp_ratio=2.).eval()
    pose, modal = torch.randn(2, 3, 13, 16), torch.randn(2, 3, 2, 16)
    with torch.no_grad():
        for a, b in zip(j(pose, modal), j.loop_reference(pose, modal)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)

def test_stride_validation():
    "stride None is the paper's floor(wnd/2); a stride outside [1, window] is rejected (it leaves tokens uncovered)."
    assert window_starts(13, 4, stride=None).tolist() == window_starts(13, 4, stride=2).tolist()
    assert window_starts(13, 4, stride=4).tolist() == [0, 4, 8, 9]
    for bad in (0, 5, -1, 2.0):
        with pytest.raises(ValueError, match="stride must be an int in"):
            window_starts(13, 4, stride=bad)
    with pytest.raises(ValueError, match="stride must be"):
        TemporalStrideAttention(16, num_heads=2, window=3, stride=4)
    with pytest.raises(ValueError, match="window must be"):
        JointStrideAttention(16, num_heads=2, window=0)

@pytest.mark.parametrize("R,wnd,stride", [(13, 4, None), (10, 3, None), (6, 1, None), (13, 4, 1), (12, 4, 4)])
def test_joint_locality(R, wnd, stride):
    "Perturbing joint j moves output joint i exactly where window_dependency says so."
    torch.manual_seed(0)
    m = JointStrideAttention(16, num_heads=2, window=wnd, stride=stride, mlp_ratio=2.).eval()
    pose, modal = torch.randn(1, 2, R, 16), torch.randn(1, 2, 2, 16)
    p2 = pose.repeat(R, 1, 1, 1)                                     # sample j: joint j perturbed, all in one batch
    for j in range(R): p2[j, :, j] += torch.randn(16)
    with torch.no_grad():
        base = m(pose, modal)[0]
        moved = (m(p2, modal.expand(R, -1, -1, -1))[0] - base).abs().amax(dim=(1, 3)) > 1e-6   # (j, i)
    assert torch.equal(moved.T, window_dependency(R, wnd, stride=stride))

def test_temporal_locality_far_frame():
    torch.manual_seed(0)
    m = TemporalStrideAttention(16, num_heads=2, window=4, mlp_ratio=2.).eval()
    x = torch.randn(1, 24, 3, 16)
    x2 = x.clone()
    x2[:, 20] += torch.randn(3, 16)
    with torch.no_grad(): d = (m(x2) - m(x)).abs().amax(dim=(0, 2, 3))
    assert torch.equal(d > 0, window_dependency(24, 4)[:, 20])          # the frames whose key windows hold frame 20
    assert (d[:16] == 0).all() and (d[16:22] > 0).all()

def test_grad_batch_bf16():
    torch.manual_seed(0)
    j, t = JointStrideAttention(16, num_heads=2, window=4), TemporalStrideAttention(16, num_heads=2, window=4)
    pose, modal, x = torch.randn(2, 3, 13, 16), torch.randn(2, 3, 2, 16), torch.randn(2, 12, 4, 16)
    p, mo = j(pose, modal)
    (p.square().mean() + mo.square().mean() + t(x).square().mean()).backward()
    for mod in (j, t):
        assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in mod.parameters())
    j.eval()
    t.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        pb, _ = j(pose, modal[:, :, :0])
        yb = t(x)
    assert pb.shape == pose.shape and torch.isfinite(pb).all() and yb.shape == x.shape

def test_cost_scaling():
    "Stride cost = h * B * D_q * window^2 exactly; linear in persons / frames, full attention quadratic."
    D, h, T, K = 32, 4, 8, 2
    j = JointStrideAttention(D, num_heads=h, window=4).to('meta')
    for M in (1, 2, 3, 6):
        R = 17 * M
        pose, modal = torch.empty(1, T, R, D, device='meta'), torch.empty(1, T, K, D, device='meta')
        assert attention_scores(j, pose, modal, persons=M) == h * M * len(window_starts(17, 4)) * (T * (4 + K)) ** 2
        # one person of R joints
        assert attention_scores(j, pose, modal) == h * len(window_starts(R, 4)) * (T * (4 + K)) ** 2
        assert full_attention_scores(j.block, torch.cat([pose, modal], 2)) == h * (T * (R + K)) ** 2
    j1 = JointStrideAttention(D, num_heads=h, window=4, stride=1).to('meta')         # stride 1 (R = 102)
    assert attention_scores(j1, pose, modal) == h * len(window_starts(R, 4, stride=1)) * (T * (4 + K)) ** 2
    s1 = attention_scores(j, torch.empty(1, T, 17, D, device='meta'), torch.empty(1, T, K, D, device='meta'))
    s6 = attention_scores(j, torch.empty(1, T, 102, D, device='meta'), torch.empty(1, T, K, D, device='meta'))
    assert 5.5 < s6 / s1 < 6.5
    t = TemporalStrideAttention(D, num_heads=h, window=4).to('meta')
    for T_ in (12, 24, 48):
        x = torch.empty(1, T_, 10, D, device='meta')
        assert attention_scores(t, x) == h * len(window_starts(T_, 4)) * (4 * 10) ** 2
    a, b = (attention_scores(t, torch.empty(1, T_, 10, D, device='meta')) for T_ in (24, 96))
    assert 3.7 < b / a < 4.3

def test_flops_match_scores():
    torch.manual_seed(0)
    t = TemporalStrideAttention(32, num_heads=4, window=4).eval()
    x = torch.randn(1, 12, 6, 32)
    n = attention_scores(t, x)
    assert attention_flops(t, x)['attention'] == 4 * 8 * n
    assert attention_flops(t, x, fused=False)['attention'] == 4 * 8 * n


@pytest.mark.parametrize("kv", KV_WINDOWS)
@pytest.mark.parametrize("ffn", ("token", "window"))
def test_masked_matches_loop_reference(kv, ffn):
    "Two persons of Penn's 13 joints, absent joints, a whole absent person in one sample: batched path = loop, finite."
    torch.manual_seed(1)
    j = JointStrideAttention(16, num_heads=2, window=4, kv_windows=kv, ffn=ffn, mlp_ratio=2.).eval()
    t = TemporalStrideAttention(16, num_heads=2, window=4, kv_windows=kv, ffn=ffn, mlp_ratio=2.).eval()
    T = 8 if kv == 'literal' else 6                # the literal loops need L - wnd > stride
    pose, modal = torch.randn(2, T, 26, 16), torch.randn(2, T, 2, 16)
    present = torch.rand(2, T, 26) > 0.3
    present[1, :, 13:] = False
    with torch.no_grad():
        got, ref = j(pose, modal, present=present, persons=2), j.loop_reference(pose, modal, present=present, persons=2)
        for a, b in zip(got, ref): torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        z = torch.randn(2, T, 9, 16)
        got = t(z, pose, modal, key_masks=(None, present, None))
        ref = t.loop_reference(z, pose, modal, key_masks=(None, present, None))
        for a, b in zip(got, ref): torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert all(torch.isfinite(x).all() for x in got)

def test_absent_person_changes_nothing():
    "Per-person windows: appending an absent person leaves the present person's and the modal outputs unchanged."
    torch.manual_seed(2)
    j = JointStrideAttention(16, num_heads=2, window=4, mlp_ratio=2.).eval()
    pose, modal = torch.randn(1, 5, 13, 16), torch.randn(1, 5, 2, 16)
    pad = torch.cat([pose, torch.randn(1, 5, 13, 16)], 2)
    present = torch.cat([torch.ones(1, 5, 13, dtype=torch.bool), torch.zeros(1, 5, 13, dtype=torch.bool)], 2)
    with torch.no_grad():
        p1, m1 = j(pose, modal)
        p2, m2 = j(pad, modal, present=present, persons=2)
    torch.testing.assert_close(p2[:, :, :13], p1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(m2, m1, atol=1e-5, rtol=1e-5)
    concat = JointStrideAttention(16, num_heads=2, window=4, mlp_ratio=2., per_person=False).eval()
    concat.load_state_dict(j.state_dict())
    with torch.no_grad():                          # the paper's concatenated windows: the padded person does matter
        assert not torch.allclose(concat(pad, modal, present=present, persons=2)[1], concat(pose, modal)[1], atol=1e-4)
