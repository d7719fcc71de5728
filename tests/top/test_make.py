"""`make test` run twice does not reinstall the package the second time: the sync check (nbdev-export rewrites
pyproject.toml with the same bytes, and a newer pyproject.toml than the install stamp means "reinstall") leaves the
install up to date."""
import shutil, subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def make(*args):
    return subprocess.run(['make', '-C', str(ROOT), *args], capture_output=True, text=True)


def test_sync_check_keeps_the_install_up_to_date():
    if shutil.which('make') is None or shutil.which('git') is None: pytest.skip('make or git is not installed')
    if not (ROOT / '.venv' / '.installed').is_file(): pytest.skip('no make-built .venv here (run make install)')
    if make('-q', 'install').returncode != 0:
        pytest.skip('the install is older than pyproject.toml: run make install first')
    before, stamp = (ROOT / 'pyproject.toml').read_bytes(), (ROOT / '.venv' / '.installed').stat().st_mtime_ns
    r = make('-s', 'check-sync')
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ROOT / 'pyproject.toml').read_bytes() == before
    assert (ROOT / '.venv' / '.installed').stat().st_mtime_ns == stamp, 'the sync check reinstalled the package'
    q = make('-q', 'install')               # 0: up to date, the next make test installs nothing
    assert q.returncode == 0, 'after the sync check, make would reinstall the package: ' + make('-n', 'install').stdout
