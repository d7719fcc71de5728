"""deform3d.paper: the papermill runner keeps going past failures, the tables are rebuilt from JSON records alone,
the transcribed reference tables parse, and the paper notebooks are papermill-ready."""
import hashlib, json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from deform3d.cli import reproduce_main
from deform3d.training.config import resolve_config_path
from deform3d.paper.targets import TARGETS, load_params, paper_notebook, paper_params_path, resolve_targets
from deform3d.paper.tables import build_tables, reference_frame
from deform3d.paper.records import write_metrics
from deform3d.paper.runner import notebook_defaults, plan_runs, run_targets
from deform3d.paper.experiments import experiment_config_path

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / 'paper_tables' / 'reference'
COMMON = ('dataset', 'data_root', 'config', 'epochs', 'gpus', 'batch_size', 'frames', 'out_dir', 'smoke')


def _nb(path: Path, source: str):
    "A notebook with a `parameters` cell (out_dir, smoke) and one code cell."
    params = nbformat.v4.new_code_cell("out_dir = None\nsmoke = True")
    params.metadata['tags'] = ['parameters']
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(source)])
    nb.metadata = {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
    nbformat.write(nb, path)


def test_runner_records_failures_without_stopping(tmp_path, capsys):
    "Real papermill runs: the failing notebook comes first, the next one still runs, both leave a record."
    nbs = tmp_path / 'nbs'
    nbs.mkdir()
    _nb(nbs / 'table5_modal_tokens.ipynb', "raise RuntimeError('deliberate failure 1234')")
    _nb(nbs / 'table4_attention_ablation.ipynb',
        "from deform3d.paper.records import write_metrics\n"
        "write_metrics(out_dir, 'table4', [dict(row='deformable', column='pennaction_top1', value=12.5)], "
        "notes='test')")
    plan = plan_runs(resolve_targets(['table5', 'table4']), smoke=True)
    recs = run_targets(plan, out_root=tmp_path / 'out', tables_dir=tmp_path / 'tables', nb_dir=nbs, log=lambda *a: None)
    assert [r['status'] for r in recs] == ['failed', 'ok']
    assert 'deliberate failure 1234' in recs[0]['error']
    assert recs[1]['metrics']['table4']['rows'][0]['value'] == 12.5
    for r in recs:
        # one output notebook per run
        assert (ROOT / r['output_notebook']).exists() and not Path(r['output_notebook']).is_absolute()
        saved = json.loads((tmp_path / 'tables' / 'runs' / f"{r['run_id']}.json").read_text())
        assert saved['status'] == r['status'] and saved['parameters']['smoke'] is True
        assert saved['packages']['torch'] and saved['hardware']['cpu_count'] >= 1 and saved['wall_time_s'] > 0
        assert 'commit' in saved['git']
    # the CLI exits non-zero after running everything when one notebook failed
    rc = reproduce_main(['table5', 'table4', '--smoke', '--nbs', str(nbs), '--out', str(tmp_path / 'out'),
                           '--tables', str(tmp_path / 'tables')])
    assert rc == 1 and (tmp_path / 'tables' / 'table4.md').exists() and not (tmp_path / 'tables' / 'table5.md').exists()
    # it ends by saying where the run folders and the tables are
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2] == f"run folders and output notebooks under {tmp_path / 'out'}"
    tables = tmp_path / 'tables'
    assert printed[-1].startswith(f"wrote 2 files under {tables} (records in {tables / 'runs'}): table4.md")


def _record(run_id, target, rows, *, started, setting='smoke', dataset='synthetic', status='ok', figures=None):
    return dict(run_id=run_id, targets=[target], notebook=TARGETS[target].notebook, dataset=dataset, setting=setting,
                parameters={'epochs': 1, 'out_dir': '/x'}, status=status, error=None if status == 'ok' else 'boom',
                started=started, wall_time_s=3.0, git={'commit': 'a' * 40, 'dirty': False},
                packages={'torch': '2.13.0'}, hardware={'cpu': 'test cpu', 'cpu_count': 2, 'gpus': []},
                metrics=None if status != 'ok' else {target: dict(rows=rows, figures=[], notes='synthetic record')},
                figures=figures or {})


def test_tables_from_synthetic_records(tmp_path):
    runs = tmp_path / 'runs'
    runs.mkdir()
    row = lambda key, v: dict(row=key, column='pennaction_top1', value=v)
    recs = [_record('t5-old', 'table5', [row('cross', 10.0)], started='2026-01-01T00:00:00'),
            _record('t5-new', 'table5', [row('none', 40.0), row('single', 50.0), row('cross', 60.0)],
                    started='2026-01-02T00:00:00'),
            _record('t5-paper', 'table5', [row('cross', 99.0)], started='2026-01-03T00:00:00', setting='paper',
                    dataset='pennaction'),
            _record('t5-failed', 'table5', [], started='2026-01-04T00:00:00', status='failed'),
            _record('fig7b-1', 'fig7b', [dict(row='frames=4', column='top1', value=33.0, frames=4)],
                    started='2026-01-02T00:00:00')]
    for r in recs: (runs / f"{r['run_id']}.json").write_text(json.dumps(r))
    written = build_tables(tmp_path, REF)
    assert {p.name for p in written} == {'table5.csv', 'table5.md', 'fig7b.csv', 'fig7b.md'}
    df = pd.read_csv(tmp_path / 'table5.csv')
    smoke = df[df.setting == 'smoke'].set_index('row')
    assert list(smoke['reproduced']) == [40.0, 50.0, 60.0] and set(smoke['run']) == {'t5-new'}   # latest record wins
    assert smoke['paper'].isna().all() and smoke['difference'].isna().all()      # smoke rows are their own
    paper = df[df.setting == 'paper'].set_index('row')
    assert paper.loc['cross', 'reproduced'] == 99.0 and paper.loc['cross', 'run'] == 't5-paper'
    assert paper.loc['cross', 'paper'] == 99.7 and paper.loc['cross', 'difference'] == pytest.approx(99.0 - 99.7)
    assert df.loc[df.setting.isna(), 'reproduced'].isna().all()                 # 'none', 'single': no paper run yet
    md = (tmp_path / 'table5.md').read_text()
    assert 'Smoke setting' in md and 't5-new' in md and 't5-old' not in md and 't5-failed' not in md
    fig = pd.read_csv(tmp_path / 'fig7b.csv')
    assert fig['paper'].isna().all() and fig.loc[0, 'frames'] == 4
    assert 'no numbers' in (tmp_path / 'fig7b.md').read_text()


def test_reference_tables():
    counts = dict(table1=17, table2=4, table3=8, table4=5, table5=3, tableA=4)
    for name, n in counts.items():
        df = pd.read_csv(REF / f'{name}.csv', dtype={'row': str})
        assert len(df) == n, name
        assert df['row'].is_unique, name
    ours = pd.read_csv(REF / 'table1.csv').set_index('row').loc['ours']
    assert list(ours[['ntu60_xsub', 'ntu60_xview', 'ntu120_xsub', 'ntu120_xset']]) == [94.3, 97.9, 90.5, 91.4]
    t4 = pd.read_csv(REF / 'table4.csv')
    assert t4[['deformable', 'joint', 'temporal']].sum().tolist() == [4, 3, 3]    # check marks of Table 4
    assert pd.read_csv(REF / 'table2.csv').set_index('row').loc['ours', 'finegym_mean'] == 90.3
    for t in TARGETS.values():
        if t.reference: reference_frame(t, REF)                                # every value column exists


def test_paper_notebooks_are_papermill_ready():
    for t in TARGETS.values():
        nb = nbformat.read(paper_notebook(t), as_version=4)
        tagged = [c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])]
        assert len(tagged) == 1, t.notebook
        names = {l.split('=')[0].strip() for l in tagged[0].source.splitlines() if '=' in l and not l.startswith('#')}
        if t.name != 'tableA': assert set(COMMON) <= names, (t.notebook, set(COMMON) - names)
        assert not any('default_exp' in c.source for c in nb.cells), t.notebook
        assert all(not c.get('outputs') for c in nb.cells if c.cell_type == 'code'), f'{t.notebook} is not clean'
        for d in t.datasets:
            params = load_params(paper_params_path(t, d))
            assert params['smoke'] is False and set(params) <= names | {'smoke'}, (t.name, d, set(params) - names)
            if 'config' in params: resolve_config_path(experiment_config_path(params['config']))   # a shipped config


def test_unknown_table_is_an_error():
    with pytest.raises(ValueError, match='table9'): reproduce_main(['table9', '--smoke'])


def test_every_parameter_file_fits_its_notebook():
    "Each deform3d/paper_params/<target>_<dataset>.yaml names only parameters of its notebook and a config that exists."
    folder = paper_params_path(TARGETS['table3'], 'x').parent
    files = [p for p in folder.glob('*_*.yaml') if p.stem.split('_')[0] in TARGETS]
    assert len(files) >= 16
    for p in files:
        t = TARGETS[p.stem.split('_')[0]]
        names = set(notebook_defaults(paper_notebook(t)))
        params = load_params(p)
        assert set(params) <= names, (p.name, set(params) - names)
        if 'config' in params: resolve_config_path(experiment_config_path(params['config']))


def test_table3_paper_row_holds_no_smoke_or_variant_run(tmp_path):
    "The fault of the committed table 3: a smoke run in the paper's own row ('Ours | 99.70 | 10.00 | -89.70')."
    (tmp_path / 'runs').mkdir()
    row = lambda key, col, v: dict(row=key, column=col, value=v)
    recs = [_record('t3-smoke', 'table3', [row('ours', 'pennaction_top1', 10.0)], started='2026-01-01T00:00:00'),
            _record('t3-var', 'table3', [row('ours', 'pennaction_top1', 97.3)], started='2026-01-02T00:00:00',
                    setting='variant', dataset='penn-poses'),
            _record('t3-other', 'table3', [row('ours', 'pennaction_top1', 55.0)], started='2026-01-03T00:00:00',
                    setting='paper', dataset='ntu60-xsub')]           # a 'paper' record of data that is not Penn Action
    for r in recs: (tmp_path / 'runs' / f"{r['run_id']}.json").write_text(json.dumps(r))
    build_tables(tmp_path, REF)
    df = pd.read_csv(tmp_path / 'table3.csv', dtype={'row': str})
    ours = df[df['row'] == 'ours']
    assert list(ours['run'].fillna('')) == ['', 't3-smoke', 't3-var', 't3-other']
    assert ours['paper'].tolist()[0] == 99.7 and pd.isna(ours['reproduced'].tolist()[0])    # the paper row: empty
    assert ours['paper'].iloc[1:].isna().all() and ours['difference'].isna().all()
    md = (tmp_path / 'table3.md').read_text()
    assert '-89.70' not in md and not [l for l in md.splitlines() if '99.70' in l and '10.00' in l]
    assert '| ours | Ours | R+P | False | pennaction_top1 | 99.70 |  |  |' in md
    assert '| ours (smoke) | Ours |' in md and '| ours (variant) | Ours |' in md
    assert '| ours (paper setting on ntu60-xsub) |' in md and "No run at the paper's setting" in md
    # a run at the paper's setting on the paper's data fills it
    r = _record('t3-paper', 'table3', [row('ours', 'pennaction_top1', 99.1)], started='2026-01-04T00:00:00',
                setting='paper', dataset='pennaction')
    (tmp_path / 'runs' / 't3-paper.json').write_text(json.dumps(r))
    build_tables(tmp_path, REF)
    ours = pd.read_csv(tmp_path / 'table3.csv', dtype={'row': str}).query("row == 'ours'").iloc[0]
    assert (ours['run'], ours['reproduced'], ours['difference']) == ('t3-paper', 99.1, pytest.approx(99.1 - 99.7))
    assert "No run at the paper's setting" not in (tmp_path / 'table3.md').read_text()


@pytest.mark.parametrize('dirty', [True, False])
def test_record_carries_its_diff(tmp_path, monkeypatch, dirty):
    "A run from a tree that differs from its commit keeps the diff beside its record; the table's provenance names it."
    import deform3d.paper.runner as runner
    diff = 'diff --git a/deform3d/m.py b/deform3d/m.py\n-x = 1\n+x = 2\n'
    monkeypatch.setattr(runner, 'git_info', lambda: dict(commit='d' * 40, dirty=dirty, diff=diff if dirty else None,
                                                          untracked=[]))
    def execute(notebook, output, parameters, cwd, timeout):
        write_metrics(parameters['out_dir'], 'table5', [dict(row='cross', column='pennaction_top1', value=1.0)])
    rec = runner.run_one(TARGETS['table5'], {}, dataset='synthetic', smoke=True, out_root=tmp_path / 'out',
                         tables_dir=tmp_path, execute=execute)
    path = tmp_path / 'runs' / f"{rec['run_id']}.diff"
    saved = json.loads((tmp_path / 'runs' / f"{rec['run_id']}.json").read_text())
    assert 'diff' not in saved['git'] and saved['git']['dirty'] is dirty
    build_tables(tmp_path, REF)
    prov = next(l for l in (tmp_path / 'table5.md').read_text().splitlines() if l.startswith(f"- `{rec['run_id']}`"))
    if dirty:
        assert path.read_text() == diff and saved['git']['diff_file'] == path.name
        assert saved['git']['diff_sha256'] == hashlib.sha256(diff.encode()).hexdigest()
        assert f"commit {'d' * 12} (with uncommitted changes: diff `runs/{path.name}`, {len(diff)} bytes" in prov
    else:
        assert not path.exists() and 'diff_file' not in saved['git']
        assert f"commit {'d' * 12}, started" in prov


def test_old_dirty_records_say_their_diff_was_not_recorded():
    "The committed records made from a dirty tree before diffs were kept say so in the tables."
    for p in (ROOT / 'paper_tables' / 'runs').glob('*.json'):
        rec = json.loads(p.read_text())
        if not rec['git'].get('dirty') or 'diff_sha256' in rec['git']: continue
        md = (ROOT / 'paper_tables' / f"{rec['targets'][0]}.md").read_text()
        line = next((l for l in md.splitlines() if l.startswith(f"- `{rec['run_id']}`")), None)
        assert line is None or 'ran with uncommitted changes, diff not recorded' in line, line
    for p in (ROOT / 'paper_tables').glob('*.md'):
        assert '(with uncommitted changes)' not in p.read_text(), p.name
