"""The [central] table: where sync goes, which region the box serves, which key signs its snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

import firmware.config as config_module
from firmware.config import CentralConfig, ConfigError, parse

GOOD = {"url": "https://central.example.vn/resetline", "region": "HN-01",
        "signing_public_key": "/etc/resetline/central-signing.pub"}


def test_a_central_table_parses_typed() -> None:
    central = parse({"central": GOOD}).central
    assert central == CentralConfig(GOOD["url"], "HN-01", Path(GOOD["signing_public_key"]), 30.0)


def test_without_a_central_table_there_is_none() -> None:
    assert parse({}).central is None


@pytest.mark.parametrize("change,message", [
    ({"url": "http://central.example.vn"}, "central.url: must be https://"),
    ({"url": "ftp://127.0.0.1/"}, "central.url: must be https://"),
    ({"url": "https://"}, "central.url: has no host"),
    ({"region": "HN 01"}, "central.region: 1-64 letters"),
    ({"region": "../etc"}, "central.region"),
    ({"timeout_s": 0}, "central.timeout_s: must be between 1 and 600"),
    ({"signing_public_key": 5}, "central.signing_public_key: must be a file or directory path"),
    ({"regoin": "HN"}, "central.regoin: unknown key; did you mean 'region'?"),
])
def test_central_errors_name_the_key(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace(".", r"\.").replace("(", r"\(")):
        parse({"central": {**GOOD, **change}})


@pytest.mark.parametrize("missing", ["url", "region", "signing_public_key"])
def test_central_needs_its_three_keys(missing: str) -> None:
    with pytest.raises(ConfigError, match=f"central.{missing}: required"):
        parse({"central": {k: v for k, v in GOOD.items() if k != missing}})


def test_plain_http_is_allowed_to_loopback_only() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:8080/x"):
        assert parse({"central": {**GOOD, "url": url}}).central is not None


def test_the_module_docstring_example_parses_with_its_central_table() -> None:
    import tomllib
    doc = config_module.__doc__ or ""
    example = doc.split("```toml", 1)[1].split("```", 1)[0]
    central = parse(tomllib.loads(example)).central
    assert central is not None and central.region == "HN-01"
