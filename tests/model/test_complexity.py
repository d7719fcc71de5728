"The complexity tables follow the config: closed forms against the FLOP counter on every window variant."
import pytest
from deform3d.model.complexity import attention_cost, predicted_attention_flops, attention_flops_table
from deform3d.model.deformer import ModelConfig
from deform3d.model.stride import KV_WINDOWS

SMALL = dict(num_joints=13, grid=(2, 2), dim=16, num_heads=2, kernel_size=3)
# the strides of Fig. 7(a) at a window of 4 and of 6, every pairing, both person windowings
VARIANTS = ([dict(joint_stride=s, temporal_stride=s) for s in (1, 2, 3, 4)] + [dict(joint_window=6, temporal_window=6,
            joint_stride=s, temporal_stride=s) for s in (1, 3, 6)] + [dict(kv_windows=kv) for kv in KV_WINDOWS]
            + [dict(joint_windows='concat'), dict(joint_windows='concat', kv_windows='span', joint_stride=1)])

@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ','.join(f'{k}={x}' for k, x in v.items()))
def test_closed_forms_match_the_counter(variant):
    "Each stride module's closed form equals the FLOP counter for this stride, pairing and person windowing."
    sz = {**SMALL, **variant}
    for module in ('joint', 'temporal'):
        T, M = 13, 2                                            # odd: the last query window is clamped
        assert attention_cost(module, T, M, **sz)['flops'] == predicted_attention_flops(module, T, M, **sz), module

def test_table_takes_windows_from_the_config():
    "attention_flops_table(cfg=...) costs the config's stride, pairing and person windowing, not the defaults."
    base = ModelConfig.tiny(5, 13, num_persons=3, img_size=24, width=4, num_frames=12)
    variants = [dict(temporal_stride=1, joint_stride=1), dict(kv_windows='span'), dict(joint_windows='concat')]
    ref = attention_flops_table(frames=(12,), persons=(3,), modules=('joint', 'temporal'), cfg=base)
    for v in variants:
        cfg = ModelConfig.tiny(5, 13, num_persons=3, img_size=24, width=4, num_frames=12, **v)
        df = attention_flops_table(frames=(12,), persons=(3,), modules=('joint', 'temporal'), cfg=cfg)
        sizes = dict(num_joints=13, grid=cfg.grid, dim=cfg.dim, joint_window=4, temporal_window=4, **v)
        for r in df.itertuples():
            assert r.flops == predicted_attention_flops(r.module, r.frames, r.persons, **sizes), (v, r.module)
        assert (df.flops != ref.flops).any(), v                 # the variant is costed, not the default
    with pytest.raises(ValueError, match="cannot cost .*modal_tokens"):
        attention_flops_table(frames=(12,), persons=(1,), cfg=ModelConfig.tiny(5, 13, modal_tokens='single'))
    with pytest.raises(ValueError, match="kv_windows='literal' needs L - wnd > stride"):
        attention_flops_table(frames=(4,), persons=(1,), modules=('temporal',), kv_windows='literal')
