"""The package's floors, read from the source of every module: each subpackage is a floor (`model`, `data`, `training`),
`utils` is the shared floor below them and everything else sits on top. The model never imports the data or the training
side, the data never imports the model, the shared utilities import nothing of the package, nothing imports the command
line, imports are at the top of each module, and there are no import cycles."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / 'deform3d'
BELOW = {'shared': set(), 'model': {'shared'}, 'data': {'shared'}, 'training': {'shared', 'model', 'data'},
         'top': {'shared', 'model', 'data', 'training'}}   # floor -> the floors it may import besides its own


def floor_of(module: str) -> str:
    "The floor of a dotted module name: its subpackage, `shared` for `utils`, `top` for the rest."
    if module == 'utils': return 'shared'
    head = module.split('.')[0]
    return head if head in ('model', 'data', 'training') else 'top'


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob('*.py'):
        name = '.'.join(p.relative_to(PKG).with_suffix('').parts)
        if name == '_modidx' or name == '__init__': continue
        name = name.removesuffix('.__init__')                       # a subpackage's own module: `deform3d.model`
        out[name] = p
    return out


def imports(name: str, path: Path) -> list[tuple[str, bool]]:
    "(imported deform3d module, imported at the top level of the module) for every import of the package in `path`."
    tree = ast.parse(path.read_text())
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]   # what `from .x` is relative to
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


def test_the_tree_shows_the_floors():
    "Every floor below the top is a subpackage (or `utils`), and the top holds no module that belongs below."
    found = {floor_of(m) for m in GRAPH}
    assert found == set(BELOW), f'floors found {sorted(found)}'
    top_level = {m for m in GRAPH if '.' not in m and floor_of(m) != 'top'}
    assert top_level == {'utils', 'model', 'data', 'training'}, sorted(GRAPH)


@pytest.mark.parametrize('module', sorted(GRAPH))
def test_floors(module):
    floor = floor_of(module)
    allowed = {floor, *BELOW[floor]}
    for target in GRAPH[module]:
        assert target in GRAPH, f'{module} imports deform3d.{target}, which is not a module'
        assert target != 'cli', f'{module} imports the command line module'
        assert floor_of(target) in allowed, f'{module} ({floor}) imports {target} ({floor_of(target)})'


def test_imports_at_the_top():
    # cli imports each command's library inside the command, so that `deform3d --help` never imports torch (43_cli)
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


def test_the_checker_sees_planted_violations(tmp_path):
    "The import reader finds relative, absolute and late imports (a checker that finds nothing would pass everything)."
    p = tmp_path / 'm.py'
    p.write_text('from ..data.base import x\nimport deform3d.training.train\nfrom deform3d import cli\n'
                 'def f():\n    from deform3d.model.deformer import Deformer3D\nfrom .. import utils\n')
    found = sorted(imports('model.stride', p))
    assert found == [('cli', True), ('data.base', True), ('model.deformer', False), ('training.train', True),
                     ('utils', True)]
    above = [t for t, _ in found if floor_of(t) not in {'model', *BELOW['model']}]
    assert above == ['cli', 'data.base', 'training.train']
    q = tmp_path / 'n.py'
    q.write_text('from .records import y\nfrom ..training.config import z\n')
    assert sorted(imports('paper.tables', q)) == [('paper.records', True), ('training.config', True)]
    init = tmp_path / '__init__.py'
    init.write_text('from .deformer import ModelConfig\n')
    assert imports('model', init) == [('model.deformer', True)]
