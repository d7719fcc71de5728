"""The package's floors, read from the source of every module: the model never imports the data or the training side,
the data never imports the model, the shared utilities import nothing of the package, nothing imports the command line,
imports are at the top of each module, there are no import cycles, and no module is over 400 lines."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / 'deform3d'
FLOORS = {                                   # floor -> (its modules, the floors it may import besides its own)
    'shared': ({'utils'}, set()),
    'model': ({'layers', 'heatmaps', 'backbone', 'deformable', 'stride', 'model', 'complexity', 'benchmark'}, {'shared'}),
    'data': ({'video', 'readers', 'transforms', 'data', 'synthetic_clips', 'synthetic', 'datasets', 'skeletons'}, {'shared'}),
    'training': ({'config', 'distributed', 'checkpoint', 'engine', 'tracking', 'train', 'evaluate'}, {'shared', 'model', 'data'}),
    'top': ({'cli', 'api', 'explain', 'paper.targets', 'paper.records', 'paper.tables', 'paper.runner', 'paper.experiments'},
            {'shared', 'model', 'data', 'training'}),
}
FLOOR_OF = {m: f for f, (mods, _) in FLOORS.items() for m in mods}


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob('*.py'):
        name = '.'.join(p.relative_to(PKG).with_suffix('').parts)
        if name.endswith('__init__') or name == '_modidx': continue
        out[name] = p
    return out


def imports(name: str, path: Path) -> list[tuple[str, bool]]:
    "(imported deform3d module, imported at the top level of the module) for every import of the package in `path`."
    tree, package = ast.parse(path.read_text()), name.rsplit('.', 1)[0] if '.' in name else ''
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:                                          # relative: from .x import y / from . import x
                base = package.split('.')[:len(package.split('.')) - node.level + 1] if package else []
                mod = '.'.join([*filter(None, base), *([node.module] if node.module else [])])
                targets = [mod] if node.module else [f'{mod}.{a.name}'.lstrip('.') for a in node.names]
            elif node.module == 'deform3d': targets = [a.name for a in node.names]
            elif node.module and node.module.startswith('deform3d.'): targets = [node.module[len('deform3d.'):]]
            else: continue
        elif isinstance(node, ast.Import):
            targets = [a.name[len('deform3d.'):] for a in node.names if a.name.startswith('deform3d.')]
        else: continue
        found += [(t, id(node) in top) for t in targets]
    return found


GRAPH = {m: {t for t, _ in imports(m, p)} for m, p in modules().items()}


def test_every_module_has_a_floor():
    assert set(GRAPH) == set(FLOOR_OF), f'modules without a floor: {set(GRAPH) - set(FLOOR_OF)}; gone: {set(FLOOR_OF) - set(GRAPH)}'


@pytest.mark.parametrize('module', sorted(FLOOR_OF))
def test_floors(module):
    floor = FLOOR_OF[module]
    allowed = {floor, *FLOORS[floor][1]}
    for target in GRAPH.get(module, ()):
        assert target in FLOOR_OF, f'{module} imports deform3d.{target}, which is not a module'
        assert target != 'cli', f'{module} imports the command line module'
        assert FLOOR_OF[target] in allowed, f'{module} ({floor}) imports {target} ({FLOOR_OF[target]})'


def test_imports_at_the_top():
    # cli imports each command's library inside the command, so that `deform3d --help` never imports torch (26_cli)
    late = [(m, t) for m, p in modules().items() for t, at_top in imports(m, p) if not at_top and m != 'cli']
    assert not late, f'imports of the package inside functions or branches (they hide the dependencies): {late}'


def test_no_cycles():
    state = {}
    def visit(m, path):
        if state.get(m) == 'done': return
        assert state.get(m) != 'open', 'import cycle: ' + ' -> '.join([*path, m])
        state[m] = 'open'
        for t in sorted(GRAPH.get(m, ())): visit(t, [*path, m])
        state[m] = 'done'
    for m in sorted(GRAPH): visit(m, [])


def test_module_sizes():
    big = {m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > 400}
    assert not big, f'modules over 400 lines (split them by concept): {big}'


def test_the_checker_sees_planted_violations(tmp_path):
    "The import reader finds relative, absolute and late imports (a checker that finds nothing would pass everything)."
    p = tmp_path / 'm.py'
    p.write_text('from .data import x\nimport deform3d.train\nfrom deform3d import cli\n'
                 'def f():\n    from deform3d.model import Deformer3D\nfrom . import utils\n')
    assert sorted(imports('model', p)) == [('cli', True), ('data', True), ('model', False), ('train', True), ('utils', True)]
    q = tmp_path / 'n.py'; q.write_text('from .records import y\nfrom ..config import z\n')
    assert sorted(imports('paper.tables', q)) == [('config', True), ('paper.records', True)]
