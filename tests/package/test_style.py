"""House style that ruff does not see: the one-line docstrings (a module's is its notebook's description) fit a reader's
glance. Line width and `;` are ruff's (pyproject [tool.ruff], `make lint`)."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / 'deform3d'
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


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_docstrings_fit(path):
    assert not long_docstrings(path.read_text()), long_docstrings(path.read_text())


def test_the_check_sees_planted_docstrings():
    wide = 'x' * (MAX_DOC + 1)
    assert long_docstrings(f'"{wide}"\ndef f():\n    "{wide}"\nclass C:\n    "short"\n') == [wide, f'f: {wide}']
    assert long_docstrings(f'"short\\n\\n{wide}"\ndef f():\n    """{wide}\n    more"""\n') == []
