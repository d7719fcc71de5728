"""Several nodes: `deform3d train --nnodes N --node-rank R --master-addr HOST --master-port P` reaches torchrun with
torchrun's static-rendezvous arguments (checked without launching: the command is captured), each node's config file is
the config, and bad node arguments are one error line before anything is written or started."""
import json, subprocess, sys
from pathlib import Path

import pytest

import deform3d.training.distributed
import deform3d.training.train
from deform3d.cli import main
from deform3d.training.config import load_config, to_dict


@pytest.fixture
def captured(monkeypatch):
    calls, real_popen = [], subprocess.Popen
    def fake_popen(cmd, *a, **kw):
        calls.append(list(cmd))
        if '--node_rank=0' in cmd or '--standalone' in cmd:      # rank 0 lives on node 0: it writes the metrics there
            out = Path(cmd[cmd.index('deform3d.training.train') + 2])
            (out / 'metrics.json').write_text(
                json.dumps({'top1': .5, 'top5': 1., 'mean_class_accuracy': .5, 'loss': 1.}))
        # a process that succeeds at once, in torchrun's place
        return real_popen([sys.executable, '-c', 'pass'], *a, **kw)
    monkeypatch.setattr(deform3d.training.distributed.subprocess, 'Popen', fake_popen)
    # no devices or data here: only the plumbing
    monkeypatch.setattr(deform3d.training.train, 'check_launch', lambda cfg, gpus: None)
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    return calls


@pytest.mark.parametrize('nnodes,rank,gpus', [(2, 1, 1), (4, 3, 8)])
def test_node_arguments_reach_torchrun(captured, tmp_path, capsys, nnodes, rank, gpus):
    out = tmp_path / 'run'
    sets = ['--set', f'data.root={tmp_path}', '--set', 'train.epochs=7']
    assert main(['train', 'demo', *sets, '--out', str(out), '--quiet', '--gpus', str(gpus), '--nnodes', str(nnodes),
                 '--node-rank', str(rank), '--master-addr', 'node0.cluster', '--master-port', '29611']) == 0
    cfg_file = out / f'launch_config.node{rank}.yaml'
    assert captured == [[sys.executable, '-m', 'torch.distributed.run', f'--nnodes={nnodes}', f'--node_rank={rank}',
                         '--master_addr=node0.cluster', '--master_port=29611', f'--nproc_per_node={gpus}',
                         '-m', 'deform3d.training.train', str(cfg_file), str(out), '--quiet']]
    assert to_dict(load_config(cfg_file)) == to_dict(load_config('demo', [f'data.root={tmp_path}', 'train.epochs=7']))
    assert capsys.readouterr().out == ''            # node > 0: the metrics are node 0's to print


@pytest.mark.parametrize('nodes', [[], ['--nnodes', '2', '--node-rank', '0', '--master-addr', 'node0']])
def test_node_zero_prints_the_metrics_and_one_node_stays_standalone(captured, tmp_path, capsys, nodes):
    assert main(['train', 'demo', '--set', f'data.root={tmp_path}', '--out', str(tmp_path / 'r'),
                 '--gpus', '2', *nodes]) == 0
    assert json.loads(capsys.readouterr().out)['top1'] == .5
    assert ('--standalone' in captured[0]) == (not nodes) and '--nproc_per_node=2' in captured[0]


@pytest.mark.parametrize('args,message', [
    (['--nnodes', '2'], 'torchrun: 2 nodes need the address of node 0 (--master-addr HOST)'),
    (['--nnodes', '2', '--node-rank', '2', '--master-addr', 'h'], 'torchrun: node rank 2 is not in 0..1'),
    (['--nnodes', '2', '--master-addr', 'h', '--master-port', '70000'],
     'torchrun: master port 70000 is not a TCP port'),
])
def test_bad_node_arguments_are_one_line(captured, tmp_path, capsys, args, message):
    assert main(['train', 'demo', '--set', f'data.root={tmp_path}', '--out', str(tmp_path / 'r'), *args]) == 1
    assert capsys.readouterr().err == f'deform3d: error: {message}\n'
    assert captured == [] and not (tmp_path / 'r').exists()
