"""``adapter = "package.module:Class"`` in a ``[vendors.<name>]`` table: an adapter not packaged yet, imported
from the current directory, and one clear ``ConfigError`` line for every way the name can be wrong."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sandbox import SandboxAdapter
from poc_harness.config import load_config
from poc_harness.contract.adapter import adapter_class, build_adapter
from poc_harness.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

ACME = '''
"""A vendor's adapter still in the buyer's folder, not packaged."""
from adapters.sandbox import SandboxAdapter
from poc_harness.contract.adapter import CRMAdapter


class AcmeAdapter(SandboxAdapter):
    name = "acme"


class NotAnAdapter:
    pass


class HalfAdapter(CRMAdapter):
    name = "half"


def helper() -> None:
    pass
'''

MODULES = ("acme_crm", "acme_pkg", "acme_pkg.adapters", "acme_broken", "acme_needs_dependency")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The buyer's folder, the current directory, holding the unpackaged adapters (and not on sys.path)."""
    (tmp_path / "acme_crm.py").write_text(ACME)
    (tmp_path / "acme_pkg").mkdir()
    (tmp_path / "acme_pkg" / "__init__.py").write_text("")
    (tmp_path / "acme_pkg" / "adapters.py").write_text(ACME)
    (tmp_path / "acme_broken.py").write_text("raise RuntimeError('the vendor sandbox URL is unset')\n")
    (tmp_path / "acme_needs_dependency.py").write_text("import acme_vendor_sdk_not_installed\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    importlib.invalidate_caches()
    yield tmp_path
    for name in MODULES:
        sys.modules.pop(name, None)


def _config(folder: Path, spec: str) -> Path:
    path = folder / "poc.toml"
    path.write_text(f'[vendors.acme]\nadapter = "{spec}"\nprofile = "no_silence_alert"\n')
    return path


@pytest.mark.parametrize("spec", ["acme_crm:AcmeAdapter", "acme_pkg.adapters:AcmeAdapter"])
def test_a_class_in_the_current_folder_is_the_vendors_adapter(folder: Path, spec: str) -> None:
    built = build_adapter(load_config(_config(folder, spec)), "acme")
    try:
        assert type(built).__name__ == "AcmeAdapter"
        assert isinstance(built, SandboxAdapter)
        assert built.profile == "no_silence_alert"  # the table's other keys are the adapter's options
    finally:
        built.close()
    assert str(folder) in sys.path


def test_an_installed_adapter_name_still_resolves_without_importing_the_others() -> None:
    assert adapter_class("sandbox") is SandboxAdapter


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("acme_missing:AcmeAdapter", "module 'acme_missing' not found"),
        ("acme_pkg.missing:AcmeAdapter", "module 'acme_pkg.missing' not found"),
        ("acme_crm:AcmeAdaptor", "has no 'AcmeAdaptor' (adapter classes there: AcmeAdapter)"),
        ("acme_crm:NotAnAdapter", "'NotAnAdapter' is not a CRMAdapter subclass"),
        ("acme_crm:helper", "'helper' is not a CRMAdapter subclass"),
        ("acme_crm:HalfAdapter", "'HalfAdapter' does not implement check_connection"),
        ("acme_crm:", "not 'package.module:Class'"),
        (":AcmeAdapter", "not 'package.module:Class'"),
        ("acme_broken:AcmeAdapter", "(RuntimeError: the vendor sandbox URL is unset): fix that module"),
        ("acme_needs_dependency:X", "needs module 'acme_vendor_sdk_not_installed': install it"),
    ],
)
def test_a_wrong_class_name_is_one_line_naming_the_key(folder: Path, spec: str, says: str) -> None:
    path = _config(folder, spec)
    with pytest.raises(ConfigError) as info:
        build_adapter(load_config(path), "acme")
    message = str(info.value)
    assert message.startswith(f'{path}: [vendors.acme] adapter = "{spec}": '), message
    assert says in message
    assert "\n" not in message


def test_the_error_for_an_unknown_name_shows_how_to_name_a_class() -> None:
    with pytest.raises(ConfigError) as info:
        adapter_class("acme")
    assert "known adapters are" in str(info.value)
    assert 'adapter = "package.module:Class"' in str(info.value)


def test_a_trial_runs_an_unpackaged_adapter_from_the_buyers_folder(folder: Path) -> None:
    """End to end, as a buyer runs it: the ``pytest`` command (the plugin through its entry point, not a
    conftest) in the folder holding ``poc.toml`` and the adapter, the checkout's scenarios collected."""
    (folder / "poc.toml").write_text(
        f'[harness]\nledger = "{folder / "ledger.sqlite"}"\nreports_dir = "{folder / "reports"}"\n'
        '[vendors.acme]\nadapter = "acme_crm:AcmeAdapter"\n'
    )
    pytest_command = Path(sys.executable).parent / "pytest"
    done = subprocess.run(
        [str(pytest_command), str(ROOT / "scenarios"), "--vendor=acme", "--collect-only"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_lead_to_contract.py" in done.stdout
