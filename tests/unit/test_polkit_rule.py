"""systemd/50-resetline.rules, evaluated by node against a stand-in of polkit's rule API: user `resetline` may
reboot and start the UART console, nothing else; the file keeps to ES5 (bookworm's polkitd 122 runs duktape)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "systemd" / "50-resetline.rules"

HARNESS = """
var rules = [];
var polkit = {Result: {YES: "yes", NO: "no", NOT_HANDLED: null}, addRule: function (f) { rules.push(f); }};
%s
var cases = %s;
var answers = cases.map(function (c) {
    var action = {id: c[1], lookup: function (key) { return c[2][key]; }};
    return rules[0](action, {user: c[0]});
});
console.log(JSON.stringify({rules: rules.length, answers: answers}));
"""

CASES = [
    (("resetline", "org.freedesktop.login1.reboot", {}), "yes"),
    (("resetline", "org.freedesktop.login1.reboot-multiple-sessions", {}), "yes"),
    (("resetline", "org.freedesktop.systemd1.manage-units",
      {"unit": "resetline-console@serial0.service", "verb": "start"}), "yes"),
    (("resetline", "org.freedesktop.systemd1.manage-units",
      {"unit": "resetline-console@serial0.service", "verb": "stop"}), None),
    (("resetline", "org.freedesktop.systemd1.manage-units", {"unit": "ssh.service", "verb": "start"}), None),
    (("resetline", "org.freedesktop.systemd1.manage-units",
      {"unit": "resetline-console@ttyUSB0.service", "verb": "start"}), None),
    (("resetline", "org.freedesktop.login1.power-off", {}), None),
    (("resetline", "org.freedesktop.login1.reboot-ignore-inhibit", {}), None),
    (("resetline", "org.freedesktop.systemd1.manage-unit-files", {}), None),
    (("pi", "org.freedesktop.login1.reboot", {}), None),
    (("pi", "org.freedesktop.systemd1.manage-units",
      {"unit": "resetline-console@serial0.service", "verb": "start"}), None),
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_only_reboot_and_the_uart_console_for_resetline() -> None:
    script = HARNESS % (RULES.read_text(encoding="utf-8"), json.dumps([list(case) for case, _ in CASES]))
    run = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["rules"] == 1
    assert result["answers"] == [expected for _, expected in CASES]


def test_rule_file_keeps_to_es5_for_duktape() -> None:
    code = "\n".join(line for line in RULES.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("//"))
    assert not re.search(r"\b(const|let|class)\b|=>|`", code)
