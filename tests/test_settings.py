"""Every setting is documented in the README, and settings parse from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import Settings, _kept_secret

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_readme():
    text = README.read_text(encoding="utf-8")
    missing = [
        f"COURTLINK_{name.upper()}"
        for name in Settings.model_fields
        if f"`COURTLINK_{name.upper()}`" not in text
    ]
    assert missing == [], f"settings missing from README.md: {missing}"


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURTLINK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURTLINK_ICE_SERVERS", '[{"urls": "turn:127.0.0.1:3478"}]')
    monkeypatch.setenv("COURTLINK_PUBLIC_URL", "https://court.example")
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path
    assert settings.ice_servers == [{"urls": "turn:127.0.0.1:3478"}]
    assert settings.secure_cookies
    assert settings.effective_database_url.endswith("courtlink.sqlite3")


def test_empty_ice_servers_means_none(monkeypatch):
    monkeypatch.setenv("COURTLINK_ICE_SERVERS", "")
    assert Settings(_env_file=None).ice_servers == []


def test_without_a_secret_key_the_data_directory_keeps_one(monkeypatch, tmp_path):
    """Invite links signed by one process (``courtlink demo``) work in the next (``serve``)."""
    monkeypatch.delenv("COURTLINK_SECRET_KEY", raising=False)
    key = Settings(_env_file=None, data_dir=tmp_path).signing_secret()
    kept = tmp_path / "keys" / "secret_key"
    assert len(key) >= 40 and kept.stat().st_mode & 0o077 == 0
    _kept_secret.cache_clear()  # as another process: read back from the file
    assert Settings(_env_file=None, data_dir=tmp_path).signing_secret() == key
    assert Settings(_env_file=None, data_dir=tmp_path, secret_key="set").signing_secret() == "set"


def test_help_phone_is_read_from_the_environment_and_empty_by_default(monkeypatch):
    """The court's help line on the party pages: none unless set; only a phone number."""
    monkeypatch.delenv("COURTLINK_HELP_PHONE", raising=False)
    assert Settings(_env_file=None).help_phone == ""
    monkeypatch.setenv("COURTLINK_HELP_PHONE", " +86 (353) 555-0100 ")
    settings = Settings(_env_file=None)
    assert settings.help_phone == "+86 (353) 555-0100"
    assert settings.help_phone_uri == "tel:+86-353-555-0100"
    monkeypatch.setenv("COURTLINK_HELP_PHONE", "javascript:alert(1)")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
