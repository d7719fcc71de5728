"Fast checks of the model's public interface (the notebooks nbs/01, 02, 05 and 06 hold the full tests)."
import pytest
import torch
import torch.nn.functional as F
from deform3d.model.deformer import ModelConfig, Deformer3D


def _batch(cfg: ModelConfig, B: int = 2, M: int = 2):
    g = torch.Generator().manual_seed(0)
    H, W = cfg.img_size
    T = cfg.num_frames
    video = torch.randn(B, 3, T, H, W, generator=g)
    kp = torch.rand(B, M, T, cfg.num_joints, 2, generator=g) * torch.tensor([W - 1., H - 1.])
    sc = torch.rand(B, M, T, cfg.num_joints, generator=g)
    return video, kp, sc


@pytest.mark.parametrize("modalities", ['rgb+pose', 'rgb', 'pose'])
def test_tiny_trains_one_step(modalities):
    cfg = ModelConfig.tiny(4, 13, num_frames=4, img_size=32, depth=1, modalities=modalities)
    model = Deformer3D(cfg)
    video, kp, sc = _batch(cfg)
    logits = model(None if modalities == 'pose' else video, None if modalities == 'rgb' else kp, sc)
    assert logits.shape == (2, 4)
    F.cross_entropy(logits, torch.tensor([0, 3])).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_presets_and_validation():
    paper = ModelConfig.paper(15, 13)
    assert (paper.num_frames, paper.img_size, paper.dim, paper.grid) == (12, (224, 224), 256, (28, 28))
    with pytest.raises(ValueError, match="attention"):
        ModelConfig.tiny(5, 13, attention=('spatial',))
    with pytest.raises(ValueError, match="multiple of 8"):
        ModelConfig.tiny(5, 13, img_size=30)
    with pytest.raises(ValueError, match="temporal_stride must be"):
        ModelConfig.tiny(5, 13, temporal_window=4, temporal_stride=5)
    with pytest.raises(ValueError, match="joint_stride must be"):
        ModelConfig.tiny(5, 13, joint_stride=0)


def test_non_default_strides_build_and_run():
    "joint_stride / temporal_stride reach the modules and change the output (Fig. 7(a) sweeps them)."
    cfg = ModelConfig.tiny(4, 13, num_frames=4, img_size=16, depth=1,
                           joint_stride=1, temporal_window=2, temporal_stride=2)
    torch.manual_seed(0)
    model = Deformer3D(cfg).eval()
    assert (model.blocks[0].joint.stride, model.blocks[0].temporal.stride, model.blocks[0].temporal.window) == (1, 2, 2)
    default = Deformer3D(ModelConfig.tiny(4, 13, num_frames=4, img_size=16, depth=1, temporal_window=2)).eval()
    default.load_state_dict(model.state_dict())
    video, kp, sc = _batch(cfg)
    with torch.no_grad(): logits, ref = model(video, kp, sc), default(video, kp, sc)
    assert logits.shape == (2, 4) and torch.isfinite(logits).all() and not torch.allclose(logits, ref)


def test_drop_path_one_decision_per_block():
    "Stochastic depth: in train mode each sample keeps or drops every residual branch of a block together."
    from deform3d.model.deformer import Deformer3DBlock
    cfg = ModelConfig.tiny(4, 13, num_frames=4, img_size=16, depth=1)
    torch.manual_seed(0)
    blk = Deformer3DBlock(cfg, drop_path=0.5).train()
    B, D = 64, cfg.dim
    z, p, m = torch.randn(B, 4, 2, 2, D), torch.randn(B, 4, 13, D), torch.randn(B, 4, 3, D)
    with torch.no_grad(): z2, p2, m2 = blk(z, p, m)
    same = lambda a, b: (a - b).flatten(1).abs().amax(1) < 1e-6                 # (b,) this sample's tokens unchanged
    dropped = torch.stack([same(z2, z), same(p2, p), same(m2[:, :, 0], m[:, :, 0]), same(m2[:, :, 1], m[:, :, 1]),
                           same(m2[:, :, 2], m[:, :, 2])])            # RGB, pose, M_RGB, M_pose, M_CLS (mixer: a mean)
    assert (dropped == dropped[0]).all(), dropped.sum(1)             # every branch of a sample: all dropped or none
    assert 0 < dropped[0].sum() < B                                  # both happen (p = 0.5)
    with torch.no_grad(): z3, _, _ = blk.eval()(z, p, m)
    assert not same(z3, z).any()                                     # eval: nothing dropped


def test_all_present_flag_skips_the_mask_and_changes_nothing(monkeypatch):
    "`all_present` from the host batch: the same logits as the model's own check, without reading the mask."
    cfg = ModelConfig.tiny(4, 13, num_frames=4, img_size=32, depth=1)
    model = Deformer3D(cfg).eval()
    video, kp, sc = _batch(cfg)
    sc = sc + 0.1                                                       # every joint present
    with torch.no_grad():
        own = model(video, kp, sc)
        masked = model(video, kp, sc, all_present=False)                # an all-True mask: the masked kernels
        torch.testing.assert_close(masked, own, rtol=1e-5, atol=1e-5)
        import deform3d.model.deformer as mod
        monkeypatch.setattr(mod, 'joint_present', lambda *a: pytest.fail('all_present=True must not build the mask'))
        assert torch.equal(model(video, kp, sc, all_present=True), own)


def test_to_device_decides_all_present_on_the_host():
    from deform3d.training.builders import forward, to_device
    cfg = ModelConfig.tiny(4, 13, num_frames=4, img_size=32, depth=1)
    model = Deformer3D(cfg).eval()
    video, kp, sc = _batch(cfg)
    full = dict(video=video, keypoints=kp, scores=sc + 0.1)
    absent = dict(video=video, keypoints=kp, scores=(sc + 0.1) * (torch.arange(13) != 5))   # joint 5 absent everywhere
    assert to_device(full, torch.device('cpu'))['all_present'] is True
    assert to_device(absent, torch.device('cpu'))['all_present'] is False
    with torch.no_grad():                                               # the flag gives what the model's check gives
        for b in (full, absent):
            assert torch.equal(forward(model, to_device(b, torch.device('cpu'))), model(video, kp, b['scores']))
