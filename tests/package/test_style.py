"""House style that ruff does not see: the package's lines fit 120 characters but for the `__all__` line nbdev
writes, and the one-line docstrings (a module's is its notebook's description) fit a reader's glance. The tests' line
width and `;` everywhere are ruff's (pyproject [tool.ruff], `make lint`)."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / 'deform3d'
MAX_LINE = 120                                  # characters of a line (timm's rule)
MAX_DOC = 100                                   # characters of a one-line docstring, and of a module's first line
MODULES = sorted(p for p in PKG.rglob('*.py') if p.name != '_modidx.py')


def long_docstrings(source: str) -> list[str]:
    "The one-line docstrings in `source` (and the module docstring's first line) longer than `MAX_DOC`."
    tree = ast.parse(source)
    module = (ast.get_docstring(tree) or '').split('\n')[0]
    found = [module] if len(module) > MAX_DOC else []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): continue
        doc = ast.get_docstring(node, clean=False)
        if doc and '\n' not in doc.strip() and len(doc.strip()) > MAX_DOC: found.append(f'{node.name}: {doc.strip()}')
    return found


def wide_lines(source: str) -> list[int]:
    "Line numbers of `source` wider than `MAX_LINE`, except the first line of nbdev's generated `__all__`."
    lines = source.splitlines()
    auto = [n for n, line in enumerate(lines, 1) if line == '# %% auto #0']       # the cell nbdev writes `__all__` in
    generated = {n + 1 for n in auto if n < len(lines) and lines[n].startswith('__all__')}
    return [n for n, line in enumerate(lines, 1) if len(line) > MAX_LINE and n not in generated]


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_lines_fit(path):
    wide = wide_lines(path.read_text())
    assert not wide, f'{path.name}: lines over {MAX_LINE} characters: {wide}'


def test_the_check_sees_planted_lines():
    wide = 'x = ' + '1' * MAX_LINE
    assert wide_lines(f'# %% auto #0\n__all__ = {"a" * MAX_LINE}\n{wide}\n__all__ = {"b" * MAX_LINE}\n') == [3, 4]


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_docstrings_fit(path):
    assert not long_docstrings(path.read_text()), long_docstrings(path.read_text())


def test_the_check_sees_planted_docstrings():
    wide = 'x' * (MAX_DOC + 1)
    assert long_docstrings(f'"{wide}"\ndef f():\n    "{wide}"\nclass C:\n    "short"\n') == [wide, f'f: {wide}']
    assert long_docstrings(f'"short\\n\\n{wide}"\ndef f():\n    """{wide}\n    more"""\n') == []
