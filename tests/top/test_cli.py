"""The `deform3d` commands end to end on a tiny synthetic set (synth -> train -> eval -> predict), the NaN guard, and
config errors reported before any work starts."""
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
import torch

from deform3d.cli import main
from deform3d.training.checkpoint import load_checkpoint

# A model and a run small enough for a few seconds on 2 CPU cores.
TINY = ['model.num_frames=4', 'model.img_size=32', 'model.width=4', 'model.depth=1', 'model.num_heads=2',
        'model.kernel_size=3', 'model.mlp_ratio=1.0', 'train.batch_size=4', 'train.epochs=2', 'train.warmup_epochs=0.5',
        'train.eval_every=1', 'data.num_workers=0', 'train.threads=1']


def run(*args, check=True):
    "`deform3d ARGS` in a subprocess (the console script's module)."
    r = subprocess.run([sys.executable, '-m', 'deform3d.cli', *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    if check and r.returncode != 0:
        raise AssertionError(f'deform3d {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}')
    return r


def sets(root, extra=()):
    return [x for kv in [f'data.root={root}', *TINY, *extra] for x in ('--set', kv)]


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp('cli') / 'syn'
    r = run('synth', root, '--clips', 40, '--seed', 3, '--frames', 8, '--size', 32)
    assert 'wrote 40 clips' in r.stdout
    return root


@pytest.fixture(scope='module')
def trained(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp('run')
    r = run('train', 'demo', *sets(synth), '--out', out, '--quiet')
    return out, json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def test_train_writes_run(trained, synth):
    out, printed, stderr = trained
    # the command ends by saying where its outputs are, and what is there
    listed = ', '.join(sorted(p.name + '/' * p.is_dir() for p in out.iterdir()))
    assert stderr.strip().splitlines()[-1] == f'deform3d train: outputs in {out}/: ' + listed
    assert {'log_steps.csv', 'metrics.json', 'checkpoints'} <= {p.name for p in out.iterdir()}
    for f in ('checkpoints/last.pt', 'log.csv', 'metrics.json', 'curves.png', 'confusion.png', 'predictions.csv',
              'per_class.csv', 'config.yaml'):
        assert (out / f).is_file(), f
    m = json.loads((out / 'metrics.json').read_text())
    assert {'top1', 'top5', 'mean_class_accuracy', 'loss'} <= set(m) and m['top1'] == printed['top1']
    log = pd.read_csv(out / 'log.csv')
    assert log['epoch'].tolist() == [1, 2] and log['test_top1'].notna().all()
    preds = pd.read_csv(out / 'predictions.csv')
    # the CSV agrees with the metric
    assert len(preds) == m['num_samples'] and abs(preds['correct'].mean() - m['top1']) < 1e-6
    ck = load_checkpoint(out / 'checkpoints' / 'last.pt')                   # weights_only=True
    assert ck['epoch'] == 2 and len(ck['classes']) == 10 and ck['config']['model']['width'] == 4


def test_eval_matches_train(trained, synth, tmp_path):
    out, _, _ = trained
    ckpt = out / 'checkpoints' / 'last.pt'
    r = run('eval', 'demo', '--checkpoint', ckpt, *sets(synth), '--out', tmp_path, '--quiet')
    assert r.stderr.strip().splitlines()[-1] == (f'deform3d eval: outputs in {tmp_path}/: '
                                                 'confusion.png, metrics.json, per_class.csv, predictions.csv')
    m, m0 = json.loads((tmp_path / 'metrics.json').read_text()), json.loads((out / 'metrics.json').read_text())
    assert abs(m['top1'] - m0['top1']) < 1e-6 and abs(m['loss'] - m0['loss']) < 1e-4     # same weights, same test set
    r2 = run('eval', 'demo', '--checkpoint', ckpt, *sets(synth), '--clips', 3, '--out', tmp_path / 'k3', '--quiet')
    m3 = json.loads((tmp_path / 'k3' / 'metrics.json').read_text())
    assert m3['clips'] == 3 and m3['num_samples'] == m['num_samples']


def test_predict(trained, synth):
    out, _, _ = trained
    name = pd.read_csv(out / 'predictions.csv')['name'][0]
    r = run('predict', out / 'checkpoints' / 'last.pt', synth / 'videos' / f'{name}.mp4',
            '--skeleton', synth / 'annotations.pkl', '--topk', 3, '--json')
    res = json.loads(r.stdout)
    assert r.stderr.strip().splitlines()[-1].endswith('are printed above (stdout); no files written')
    assert len(res) == 3 and all(a['probability'] >= b['probability'] for a, b in zip(res, res[1:]))
    classes = json.loads((synth / 'meta.json').read_text())['classes']
    assert all(x['class'] in classes for x in res)
    # the same clip through `eval` gives the same top class
    row = pd.read_csv(out / 'predictions.csv').iloc[0]
    assert res[0]['class'] == row['pred_name'] and abs(res[0]['probability'] - row['prob']) < 1e-4


def test_nan_guard(synth, tmp_path):
    # 30 training clips, batch 4 -> 7 steps per epoch; global step 8 is step 2 of epoch 2
    nan_at_8 = sets(synth, ['train.inject_nan_at=8', 'train.epochs=3'])
    r = run('train', 'demo', *nan_at_8, '--out', tmp_path, '--quiet', check=False)
    assert r.returncode == 1
    assert 'non-finite training loss' in r.stderr and 'epoch 2, step 2/7' in r.stderr
    assert load_checkpoint(tmp_path / 'checkpoints' / 'last.pt')['epoch'] == 1      # the last good checkpoint is kept
    assert not (tmp_path / 'metrics.json').exists()


@pytest.mark.parametrize('extra, message', [
    (['train.lr_peak=1'], "unknown config key 'train.lr_peak'"),
    (['model.depht=2'], "unknown config key 'model.depht'"),
    (['train.epochs=two'], "'train.epochs': expected int"),
    (['train.batch_size=4.5'], "'train.batch_size': expected int"),
    (['data.augment=3'], "'data.augment': expected bool"),
    (['model.num_heads=3'], 'divisible by num_heads'),
    (['data.root=null'], 'data.root is required'),
    (['data.root=/no/such/folder'], "data.root '/no/such/folder' does not exist"),
    (['train.precision=fp8'], 'train.precision'),
])
def test_config_errors(extra, message, tmp_path, capsys):
    # in-process: the error must come before any data is read or model built (nothing is written)
    rc = main(['train', 'demo', *sets(tmp_path, extra), '--out', str(tmp_path / 'run')])
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()


def test_shipped_configs(tmp_path, capsys):
    from deform3d.training.config import shipped_configs, load_config
    names = shipped_configs()
    assert {'demo', 'ntu60_xsub', 'ntu60_xview', 'ntu120_xsub', 'ntu120_xset', 'finegym', 'pennaction'} <= set(names)
    cpu = {'demo', 'penn_poses_cpu', 'rendered_penn_cpu', 'custom'}   # CPU-sized configs; the others: the paper's
    assert cpu <= set(names)
    for n in names:
        # the custom configs count their classes under data.root (model.num_classes: null): a count given here instead
        cfg = load_config(n, ['model.num_classes=2'] * n.startswith('custom'))
        assert cfg.data.root is None or n == 'demo'                # the data root is left to the user
        if n not in cpu:
            assert cfg.train.epochs == 90 and cfg.train.warmup_epochs == 5 and cfg.model.img_size == (224, 224)
        else:
            assert cfg.train.precision == 'fp32' and cfg.model.width <= 16
    assert main(['train', 'ntu60_xsub']) == 2 and 'data.root is required' in capsys.readouterr().err
    assert main(['config', 'ntu120_xset', '--set', 'train.lr=1e-3']) == 0 and 'lr: 0.001' in capsys.readouterr().out
