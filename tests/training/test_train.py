"""Training: a run killed with SIGKILL mid-epoch and resumed ends bitwise equal to the run left alone; two gloo
processes under torchrun agree with one process on the same global batch; when they fail, the user sees the error
once."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
import torch

from deform3d.data.synthetic import write_synthetic
from deform3d.training.checkpoint import load_checkpoint

TINY = ['model.num_frames=4', 'model.img_size=32', 'model.width=4', 'model.depth=1', 'model.num_heads=2',
        'model.kernel_size=3', 'model.mlp_ratio=1.0', 'train.warmup_epochs=0.5', 'train.threads=1',
        'data.augment=true', 'data.cache=false']    # random crops and flips (the demo config caches centre crops)
ENV = {**os.environ, 'OMP_NUM_THREADS': '1'}


def cmd(root, out, extra=()):
    sets = [f'data.root={root}', *TINY, *extra]
    return [sys.executable, '-m', 'deform3d.cli', 'train', 'demo', *[x for kv in sets for x in ('--set', kv)],
            '--out', str(out), '--quiet']


def run(args):
    r = subprocess.run(args, capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, f'{args}\n{r.stdout}\n{r.stderr}'
    return r


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp('train') / 'syn'
    write_synthetic(root, num_clips=40, seed=5, num_frames=8, size=(32, 32), workers=1)
    return root


def final_state(out: Path):
    ck = load_checkpoint(out / 'checkpoints' / 'last.pt')
    log = pd.read_csv(out / 'log.csv').drop(columns='seconds')
    return ck, log, json.loads((out / 'metrics.json').read_text())


def test_kill_and_resume_is_bitwise(synth, tmp_path):
    # one data-loader worker with random crops and flips, stochastic depth; 3 epochs of 3 steps
    extra = ['train.epochs=3', 'train.batch_size=8', 'data.num_workers=1', 'train.eval_every=1', 'model.drop_path=0.2']
    a = tmp_path / 'alone'
    run(cmd(synth, a, extra))
    epoch_s = pd.read_csv(a / 'log.csv')['seconds'].iloc[1]
    for attempt in range(3):                       # a load spike can let epoch 2 finish before the kill: try again
        b = tmp_path / f'killed{attempt}'
        p = subprocess.Popen(cmd(synth, b, extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        ckpt = b / 'checkpoints' / 'last.pt'
        while not ckpt.exists():
            assert p.poll() is None, 'the run ended before writing its first checkpoint'
            time.sleep(0.02)
        time.sleep(0.5 * epoch_s / (attempt + 1))  # into epoch 2
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        if load_checkpoint(ckpt)['epoch'] == 1: break
    assert load_checkpoint(ckpt)['epoch'] == 1, 'killed too late three times: epoch 2 had finished'
    assert not (b / 'metrics.json').exists()
    run(cmd(synth, b, extra) + ['--resume'])
    (ca, la, ma), (cb, lb, mb) = final_state(a), final_state(b)
    for k, v in ca['model'].items(): assert torch.equal(v, cb['model'][k]), k
    pd.testing.assert_frame_equal(la, lb, check_exact=True)
    for k in ('top1', 'top5', 'mean_class_accuracy', 'loss', 'per_class_accuracy'): assert ma[k] == mb[k], k
    assert ca['optimizer']['state'].keys() == cb['optimizer']['state'].keys()
    for s, t in zip(ca['optimizer']['state'].values(), cb['optimizer']['state'].values()):
        assert torch.equal(s['exp_avg'], t['exp_avg'])


def stop_mid_epoch(args, tmp_path: Path, first: str):
    "Run `args(out)` in a new process group, SIGTERM it once `first` step checkpoint exists: (out, stderr, last.pt)."
    for attempt in range(3):          # a signal that lands between two epochs stops the run at the epoch's end: again
        b = tmp_path / f'stopped{attempt}'
        p = subprocess.Popen(args(b), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV,
                             start_new_session=True, text=True)
        while not (b / 'checkpoints' / first).exists():
            assert p.poll() is None, 'the run ended before writing its first step checkpoint'
            time.sleep(0.01)
        os.killpg(p.pid, signal.SIGTERM)
        err = p.communicate()[1]
        assert p.returncode == 143, err
        ck = load_checkpoint(b / 'checkpoints' / 'last.pt')
        if ck['position'] is not None: return b, err, ck
    raise AssertionError('stopped at an epoch boundary three times')


def test_torchrun_two_processes_match_one(synth, tmp_path):
    # global batch 4: two gloo processes of 2 clips each against one process of 4; 2 epochs of 7 steps (same samples,
    # same augmentation)
    # model.head_batchnorm=false: the head's BatchNorm divides by each feature's spread over the batch, ~1e-3 of the
    # feature for some features at initialisation, so the float32 rounding of a mean summed in another order (2 + 2
    # clips against 4) reaches the loss amplified (measured: 1.8e-5 relative in the first epoch, 7.7e-3 in the second);
    # the backbone's BatchNorm layers still run as GlobalBatchNorm here
    extra = ['train.epochs=2', 'train.batch_size=4', 'train.lr=3e-3', 'data.num_workers=0', 'train.eval_every=1',
             'model.drop_path=0.0', 'train.precision=fp32', 'model.head_batchnorm=false', 'train.log_every=1']
    one, two = tmp_path / 'one', tmp_path / 'two'
    run(cmd(synth, one, extra))
    run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
         *cmd(synth, two, extra)[1:]])
    (c1, l1, m1), (c2, l2, m2) = final_state(one), final_state(two)
    from deform3d.training.config import load_config
    from deform3d.training.builders import build_model, seed_everything, derive_seed
    cfg = load_config(one / 'config.yaml')
    seed_everything(derive_seed(cfg.train.seed, 0))
    init = build_model(cfg).state_dict()                    # the initial weights (same seed as rank 0 / the single run)
    init = {k: v for k, v in init.items() if v.is_floating_point() and 'running' not in k}
    assert m2['processes'] == 2 and m1['processes'] == 1
    # evaluation sharded over 2 processes covers the test set once
    assert m2['num_samples'] == m1['num_samples'] == 10
    # the losses of the first epoch agree to float32 rounding; AdamW's normalised steps amplify rounding differences of
    # small gradients (a gradient near 0 whose sign flips moves its weight the other way, by up to lr = 3e-3 a step), to
    # ~1e-4 in the weights after 14 steps on most runs and up to 2.6e-3 on some (two `make test` runs of 2026-12-02,
    # with the first epoch's losses still equal to 1e-6), so weights are compared at 5e-3, a quarter of the largest
    # distance a weight travels (~0.02), and the second epoch's loss, which those weights give, at 1e-3 (measured over
    # train.seed 0, 1, 2: relative differences of 5e-6 to 1.4e-4 with decay on the embeddings, 2e-5 to 7e-5 without; the
    # first epoch: below 1e-7)
    # (one fresh-clone CI run out of about twenty runs of this test measured 1.8e-4 in the first epoch; the two runs
    # with 2.6e-3 in a weight of backbone.stem.0 trained on another trajectory than every run we could start by hand,
    # epoch-1 mean loss 2.3812 against 2.3802, both processes alike: the cause of that variation was not found. A
    # failure prints the mismatch and both runs' per-step losses)
    def steps(m):
        return (f"{m}\nper-step loss, one process:\n{pd.read_csv(one / 'log_steps.csv').to_string()}"
                f"\ntwo processes:\n{pd.read_csv(two / 'log_steps.csv').to_string()}")
    torch.testing.assert_close(torch.tensor(l2['train_loss'].values[:1]), torch.tensor(l1['train_loss'].values[:1]),
                               rtol=1e-5, atol=1e-6, msg=steps)
    torch.testing.assert_close(torch.tensor(l2['train_loss'].values), torch.tensor(l1['train_loss'].values),
                               rtol=1e-3, atol=1e-6, msg=steps)
    # accuracy counts argmaxes: the first epoch's agree exactly; later, weights that agree to 1e-3 may flip a prediction
    # whose two top logits are that close (CI measured one of 28 training clips flipped in the second epoch), so one
    # clip is allowed
    assert l2['train_acc'].values[0] == l1['train_acc'].values[0]
    assert (abs(l2['train_acc'].values - l1['train_acc'].values) <= 1 / 28 + 1e-9).all()
    # BatchNorm running statistics average the activations of every step, so those weight differences shift them by a
    # few 1e-3 (measured: 3.4e-3 on a variance of 1.6 with the weights 1e-4 apart): they are compared at 2e-2
    for k, v in c1['model'].items():
        tol = 2e-2 if 'running' in k else 5e-3
        # where, how far, and the losses
        torch.testing.assert_close(c2['model'][k], v, rtol=tol, atol=tol, msg=lambda m, k=k: steps(f"{k}: {m}"))
    moved = max((c1['model'][k] - c0).abs().max().item() for k, c0 in init.items())
    assert moved > 3 * 5e-3                                 # the weights moved well beyond the tolerance
    # one of 10 test clips at most
    assert abs(m1['loss'] - m2['loss']) < 1e-3 and abs(m1['top1'] - m2['top1']) <= 1 / 10 + 1e-9
    assert len(pd.read_csv(two / 'predictions.csv')) == 10


def test_gpus_option_starts_torchrun_without_the_cli(synth, tmp_path):
    # `deform3d train --gpus 2` (deform3d.training.train.launch) starts two processes of deform3d.training.train under
    # torchrun (gloo on a CPU)
    out = tmp_path / 'two'
    r = run(cmd(synth, out, ['train.epochs=1', 'train.batch_size=4', 'data.num_workers=0', 'train.precision=fp32'])
            + ['--gpus', '2'])
    m = json.loads((out / 'metrics.json').read_text())
    assert m['processes'] == 2 and m['num_samples'] == 10 and len(pd.read_csv(out / 'predictions.csv')) == 10
    # printed once, by the launching process
    assert json.loads(r.stdout.strip().splitlines()[-1])['top1'] == m['top1']
    assert (out / 'launch_config.yaml').is_file() and load_checkpoint(out / 'checkpoints' / 'last.pt')['epoch'] == 1


def test_failing_workers_show_their_error_once(synth, tmp_path):
    # both processes of a two-process run fail at their first step (a NaN loss, found after the launch checks passed):
    # the user sees one line, the error itself, not one per process and not torchrun's traceback and report
    out = tmp_path / 'fail'
    r = subprocess.run(cmd(synth, out, ['train.epochs=1', 'train.batch_size=4', 'data.num_workers=0',
                                        'train.precision=fp32', 'train.inject_nan_at=0']) + ['--gpus', '2'],
                       capture_output=True, text=True, env=ENV)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert (lines[0].startswith('deform3d: error: non-finite training loss (nan) at epoch 1, step 1/')
            and str(out / 'torchrun.log') in lines[0])
    # what was left out is kept: both processes' errors and torchrun's report
    log = (out / 'torchrun.log').read_text()
    assert log.count('deform3d: error: non-finite training loss') == 2 and 'ChildFailedError' in log


def test_sigterm_mid_epoch_then_resume_is_bitwise(synth, tmp_path):
    # SIGTERM to the whole process group (as Slurm signals every process of a job step, the loader worker too) in the
    # middle of an epoch: the run writes a checkpoint at the next step boundary and exits with status 143; resumed, it
    # ends bitwise equal to the run left alone. On: gradient accumulation (2 micro-batches of 2 clips), a step
    # checkpoint every 3 steps (7 steps an epoch), the last 2 kept, the average of the weights, stochastic depth, random
    # crops and flips in a loader worker
    extra = ['train.epochs=2', 'train.batch_size=4', 'train.accumulate_steps=2', 'train.checkpoint_every=3',
             'train.keep_last=2', 'train.ema=0.9', 'train.log_every=2', 'data.num_workers=1', 'train.eval_every=1',
             'model.drop_path=0.2']
    a = tmp_path / 'alone'
    run(cmd(synth, a, extra))
    b, err, ck = stop_mid_epoch(lambda b: cmd(synth, b, extra), tmp_path, 'step_000000003.pt')
    assert 'stopped by SIGTERM' in err and 0 < ck['position']['step'] < 7
    assert not (b / 'metrics.json').exists()
    assert len(list((b / 'checkpoints').glob('step_*.pt'))) <= 2
    run(cmd(synth, b, extra) + ['--resume'])
    (ca, la, ma), (cb, lb, mb) = final_state(a), final_state(b)
    for k, v in ca['model'].items(): assert torch.equal(v, cb['model'][k]), k
    for k, v in ca['ema'].items(): assert torch.equal(v, cb['ema'][k]), k
    for s, t in zip(ca['optimizer']['state'].values(), cb['optimizer']['state'].values()):
        assert all(torch.equal(s[k], t[k]) for k in ('exp_avg', 'exp_avg_sq', 'step'))
    pd.testing.assert_frame_equal(la, lb, check_exact=True)
    assert {'test_ema_top1', 'test_top1'} <= set(la.columns)
    pd.testing.assert_frame_equal(pd.read_csv(a / 'log_steps.csv'), pd.read_csv(b / 'log_steps.csv'), check_exact=True)
    for k in ('top1', 'loss', 'ema_top1', 'ema_loss', 'per_class_accuracy'): assert ma[k] == mb[k], k
    # the last two step checkpoints (global steps 12 and 14, the end), last.pt and best.pt (by test top-1)
    names = sorted(p.name for p in (b / 'checkpoints').iterdir())
    assert names == ['best.pt', 'last.pt', 'step_000000012.pt', 'step_000000014.pt'], names
    best = max(range(2), key=lambda i: la['test_top1'][i])
    assert load_checkpoint(b / 'checkpoints' / 'best.pt')['epoch'] == best + 1


@pytest.mark.slow
def test_sigterm_under_torchrun_then_resume_is_bitwise(synth, tmp_path):
    # `deform3d train --gpus 2` (the launcher, torchrun and two gloo processes, one process group as Slurm signals a job
    # step) stopped by SIGTERM mid-epoch: both processes agree on the step, write one checkpoint, the launcher exits
    # with 143; resumed under torchrun, the run ends bitwise equal to the two-process run left alone
    extra = ['train.epochs=2', 'train.batch_size=4', 'train.checkpoint_every=2', 'data.num_workers=0',
             'train.eval_every=1', 'train.precision=fp32', 'model.drop_path=0.2']
    a = tmp_path / 'alone'
    run(cmd(synth, a, extra) + ['--gpus', '2'])
    b, err, ck = stop_mid_epoch(lambda b: cmd(synth, b, extra) + ['--gpus', '2'], tmp_path, 'step_000000002.pt')
    assert 'stopped by SIGTERM' in err and err.count('deform3d: error') == 0, err
    run(cmd(synth, b, extra) + ['--gpus', '2', '--resume'])
    (ca, la, ma), (cb, lb, mb) = final_state(a), final_state(b)
    for k, v in ca['model'].items(): assert torch.equal(v, cb['model'][k]), k
    pd.testing.assert_frame_equal(la, lb, check_exact=True)
    for k in ('top1', 'loss', 'per_class_accuracy'): assert ma[k] == mb[k], k
