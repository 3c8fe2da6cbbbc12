"""Tests for the run configuration, environment secrets and adapter selection: one-line ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.config import PocConfig, load_config, secret_from_env
from poc_harness.contract.adapter import adapter_class
from poc_harness.errors import ConfigError
from poc_harness.redaction import REDACTOR
from poc_harness.sandbox.profiles import PROFILES


def write(tmp_path: Path, text: str, name: str = "poc.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(info: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(info.value)
    assert message
    assert "\n" not in message
    assert "\r" not in message
    return message


# --- load_config: file problems ----------------------------------------------------------


def test_missing_file_names_it_and_says_not_found(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = config_error(info)
    assert str(path) in message
    assert "not found" in message


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[harness]\nrecords = = 5\n[[[\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = config_error(info)
    assert str(path) in message
    assert "not valid TOML" in message


def test_unknown_harness_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[harness]\nrecrods = 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = config_error(info)
    assert "recrods" in message
    assert "unknown key" in message
    assert str(path) in message


def test_unknown_top_level_table_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[harnes]\nrecords = 50\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = config_error(info)
    assert "harnes" in message
    assert "unknown key" in message


def test_wrong_type_names_the_dotted_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[harness]\nrecords = "many"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = config_error(info)
    assert "harness.records" in message
    assert "many" in message
    assert str(path) in message


def test_unknown_locale_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, '[harness]\nlocale = "de_DE"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "harness.locale" in config_error(info)


def test_records_below_20_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "[harness]\nrecords = 19\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "harness.records" in config_error(info)


def test_records_of_20_accepted(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "[harness]\nrecords = 20\n")).harness.records == 20


# --- load_config: defaults, discovery and overrides ----------------------------------------


def test_no_file_and_no_poc_toml_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.harness.records == 200
    assert config.harness.locale == "fa_IR"
    assert config.vendors == {}
    assert config.source == "(defaults)"


def test_poc_toml_in_cwd_is_used_when_no_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, '[harness]\nrecords = 40\nlocale = "en_US"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.harness.records == 40
    assert config.harness.locale == "en_US"
    assert config.source == "poc.toml"


def test_cli_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[harness]\nrecords = 500\nlocale = "en_US"\nseed = 7\n')
    config = load_config(path, {"records": 300, "locale": "fa_IR", "seed": None})
    assert config.harness.records == 300
    assert config.harness.locale == "fa_IR"
    assert config.harness.seed == 7  # a None override means "not given"


def test_cli_overrides_apply_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(None, {"records": 25}).harness.records == 25


def test_invalid_cli_override_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[harness]\nrecords = 500\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"records": 3})
    assert "harness.records" in config_error(info)


# --- vendor tables ---------------------------------------------------------------------------


def test_vendor_table_with_profile_suffix() -> None:
    assert PocConfig().vendor_table("sandbox:no_auto_assign") == ("sandbox", {"profile": "no_auto_assign"})


def test_vendor_table_plain_name() -> None:
    assert PocConfig().vendor_table("sandbox") == ("sandbox", {})


def test_vendor_table_empty_name_is_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        PocConfig().vendor_table(":healthy")
    assert "--vendor" in config_error(info)


def test_vendor_table_maps_named_vendor_to_its_adapter(tmp_path: Path) -> None:
    path = write(tmp_path, '[vendors.acme]\nadapter = "sandbox"\nprofile = "no_silence_alert"\n')
    config = load_config(path)
    adapter, table = config.vendor_table("acme")
    assert adapter == "sandbox"
    assert table == {"profile": "no_silence_alert"}
    assert adapter_class(adapter) is SandboxAdapter
    built = adapter_class(adapter).from_table("acme", table)
    try:
        assert isinstance(built, SandboxAdapter)
        assert built.profile == "no_silence_alert"
    finally:
        built.close()


def test_vendor_table_profile_suffix_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[vendors.acme]\nadapter = "sandbox"\nprofile = "healthy"\n')
    assert load_config(path).vendor_table("acme:no_stage_history") == (
        "sandbox",
        {"profile": "no_stage_history"},
    )


def test_vendor_table_does_not_mutate_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, '[vendors.acme]\nadapter = "sandbox"\n')
    config = load_config(path)
    config.vendor_table("acme:healthy")
    assert config.vendors == {"acme": {"adapter": "sandbox"}}


# --- secrets from the environment ----------------------------------------------------------


def test_secret_from_missing_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POC_TEST_MISSING_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        secret_from_env("POC_TEST_MISSING_TOKEN", "the test CRM's token")
    assert "POC_TEST_MISSING_TOKEN" in config_error(info)


def test_secret_from_empty_env_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POC_TEST_EMPTY_TOKEN", "")
    with pytest.raises(ConfigError) as info:
        secret_from_env("POC_TEST_EMPTY_TOKEN", "the test CRM's token")
    assert "POC_TEST_EMPTY_TOKEN" in config_error(info)


def test_secret_from_env_is_hidden_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "env-secret-value-8c1d2e3f"
    monkeypatch.setenv("POC_TEST_TOKEN", value)
    secret = secret_from_env("POC_TEST_TOKEN", "the test CRM's token")
    assert isinstance(secret, SecretStr)
    assert secret.get_secret_value() == value
    assert value not in str(secret)
    assert value not in repr(secret)
    redacted = REDACTOR(f"request failed with token {value} at /clock")
    assert value not in redacted
    assert "***" in redacted


# --- adapter discovery and adapter options ---------------------------------------------------


def test_unknown_adapter_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        adapter_class("nope")
    message = config_error(info)
    assert "nope" in message
    assert "sandbox" in message


def test_sandbox_adapter_is_registered() -> None:
    assert adapter_class("sandbox") is SandboxAdapter
    assert SandboxAdapter.Options is SandboxOptions


def test_sandbox_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        SandboxAdapter.from_table("x", {"bogus": 1})
    message = config_error(info)
    assert "bogus" in message
    assert "[vendors.x]" in message
    assert "profile" in message  # lists the options the adapter does accept


def test_sandbox_wrong_option_type_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        SandboxAdapter.from_table("x", {"timeout": "soon"})
    assert "timeout" in config_error(info)


def test_sandbox_unknown_profile_lists_known_profiles() -> None:
    with pytest.raises(ConfigError) as info:
        SandboxAdapter.from_table("x", {"profile": "nope"})
    message = config_error(info)
    assert "nope" in message
    for profile in PROFILES:
        assert profile in message


def test_sandbox_base_url_without_token_env() -> None:
    with pytest.raises(ConfigError) as info:
        SandboxAdapter.from_table("x", {"base_url": "http://127.0.0.1:9"})
    assert "token_env" in config_error(info)


def test_sandbox_token_env_unset_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POC_TEST_SANDBOX_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        SandboxAdapter.from_table(
            "x", {"base_url": "http://127.0.0.1:9", "token_env": "POC_TEST_SANDBOX_TOKEN"}
        )
    assert "POC_TEST_SANDBOX_TOKEN" in config_error(info)


def test_sandbox_with_base_url_and_token_builds_and_registers_token(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "sandbox-token-5e6f7a8b"
    monkeypatch.setenv("POC_TEST_SANDBOX_TOKEN2", token)
    adapter = SandboxAdapter.from_table(
        "x", {"base_url": "http://127.0.0.1:9", "token_env": "POC_TEST_SANDBOX_TOKEN2"}
    )
    try:
        assert adapter.persistent is True
        assert token not in REDACTOR(f"Bearer {token}")
    finally:
        adapter.close()
