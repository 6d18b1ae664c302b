"""Configuration: a frozen typed object; every mistake a technician can make is named by its key."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from firmware import config as cfg


def test_defaults_match_the_call_design() -> None:
    config = cfg.parse({})
    assert config.call.menu_timeout_s == 8 and config.call.entry_timeout_s == 10
    assert config.call.max_invalid == 3
    assert config.lockout.policy().max_mismatches == 3
    assert config.lockout.policy().window_s == 24 * 3600


def test_full_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "box.toml"
    path.write_text(
        '[box]\nname = "office"\nstate_dir = "/tmp/x"\ncentral_public_key = "/etc/c.pub"\n'
        "[call]\nmenu_timeout_s = 6\n[lockout]\nmax_mismatches = 5\nwindow_h = 12\n"
        '[[line]]\nname = "sim0"\nkind = "sim"\n',
        encoding="utf-8",
    )
    config = cfg.load(path)
    assert config.box.state_dir == Path("/tmp/x") and config.box.central_public_key == Path("/etc/c.pub")
    assert config.call.menu_timeout_s == 6.0 and isinstance(config.call.menu_timeout_s, float)
    assert config.lockout.policy().window_s == 12 * 3600
    assert config.lines[0].kind == "sim"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.call.menu_timeout_s = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"call": {"menu_timeout_s": "8"}}, "call.menu_timeout_s: must be a number"),
        ({"call": {"max_invalid": 2.5}}, "call.max_invalid: must be a whole number"),
        ({"call": {"menu_timeout_s": 0}}, "call.menu_timeout_s: must be between 1 and 60"),
        ({"call": {"menu_timout_s": 8}}, "call.menu_timout_s: unknown key; did you mean 'menu_timeout_s'?"),
        ({"lockout": {"max_mismatches": True}}, "lockout.max_mismatches: must be a whole number"),
        ({"box": {"state_dir": 5}}, "box.state_dir: must be a file or directory path"),
        ({"boxx": {}}, "boxx: unknown key; did you mean 'box'?"),
        ({"line": [{"name": "a", "kind": "fax"}]}, "line[0].kind: unknown kind 'fax'"),
        ({"line": [{"kind": "sim"}]}, "line[0].name: required"),
        ({"line": [{"name": "a", "kind": "sim"}, {"name": "a", "kind": "sim"}]}, "line: two lines share a name"),
        ({"line": {"name": "a"}}, "line: must be an array of tables"),
        ({"line": [{"name": "g", "kind": "gsm"}]}, "line[0].port: required"),
        ({"line": [{"name": "g", "kind": "gsm", "port": "/dev/x", "profile": "sim900"}]},
         "line[0].profile: must be one of ec25, sim7600, sim800"),
        ({"line": [{"name": "g", "kind": "gsm", "port": "/dev/x", "baudrate": 12}]},
         "line[0].baudrate: must be between 300 and 4e+06"),
        ({"line": [{"name": "s", "kind": "sip", "bind": "5060"}]}, "line[0].bind: must be HOST:PORT"),
        ({"line": [{"name": "s", "kind": "sip", "bind": "127.0.0.1:5070", "trusted_peers": "127.0.0.1"}]},
         "line[0].trusted_peers: must be a list of strings"),
        ({"line": [{"name": "v", "kind": "v253", "port": "/dev/x", "dtmf": "ears"}]},
         "line[0].dtmf: must be one of modem, detector"),
        ({"line": [{"name": "s", "kind": "sip", "bind": "127.0.0.1:5070", "port": "/dev/x"}]},
         "line[0].port: unknown key"),
    ],
)
def test_errors_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(cfg.ConfigError) as err:
        cfg.parse(raw)
    assert str(err.value).startswith(message)


def test_every_line_kind_parses_with_typed_fields() -> None:
    config = cfg.parse({"line": [
        {"name": "g", "kind": "gsm", "port": "spy:///dev/ttyUSB2", "profile": "sim7600", "pin": "1234"},
        {"name": "s", "kind": "sip", "bind": "127.0.0.1:5070", "trusted_peers": ["127.0.0.1"], "max_calls": 40},
        {"name": "v", "kind": "v253", "port": "/dev/ttyACM0", "profile": "usr5637"},
    ]})
    gsm, sip, v253 = config.lines
    assert isinstance(gsm, cfg.GsmLineConfig) and gsm.baudrate == 115200 and gsm.audio == "modem-files"
    assert isinstance(sip, cfg.SipLineConfig) and sip.trusted_peers == ("127.0.0.1",) and sip.max_calls == 40
    assert isinstance(v253, cfg.V253LineConfig) and v253.dtmf == "modem"
    assert sip.register is None


def test_sip_registration_reads_its_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "sip0.password"
    secret.write_text("s3cret\n", encoding="utf-8")
    config = cfg.parse({"line": [{"name": "s", "kind": "sip", "bind": "0.0.0.0:5060", "register": {
        "registrar": "sip:trunk.example", "user": "0241234567", "password_file": str(secret)}}]})
    register = config.lines[0].register  # type: ignore[union-attr]
    assert register is not None and register.user == "0241234567" and register.secret() == "s3cret"
    with pytest.raises(cfg.ConfigError, match=r"line\[0\]\.register\.user: required"):
        cfg.parse({"line": [{"name": "s", "kind": "sip", "bind": "0.0.0.0:5060", "register": {"registrar": "x"}}]})


def test_missing_and_broken_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(cfg.ConfigError, match="no such configuration file"):
        cfg.load(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[call\n", encoding="utf-8")
    with pytest.raises(cfg.ConfigError, match="not valid TOML"):
        cfg.load(bad)
