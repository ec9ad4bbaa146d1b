"""What a user reads names no section of a specification the repository does not ship:
the README, every command's help and the settings file `init` writes; and a bad log level
in the settings file is one message whatever the command."""

from __future__ import annotations

import re
from pathlib import Path

from clikit import init_project, storyreel

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(r"SPEC\s*§")


def _commands(help_text: str) -> list[str]:
    listed = help_text[help_text.index("Commands:"):].splitlines()[1:]
    return [line.split()[0] for line in listed if line.startswith("  ") and line.split()]


def test_readme_help_and_settings_cite_no_spec_sections(tmp_path: Path):
    assert not SECTION.search(README.read_text(encoding="utf-8"))
    top = storyreel("--help")
    commands = _commands(top.stdout)
    assert {"init", "main", "status", "dashboard", "run", "render", "token"} <= set(commands)
    helps = [top.stdout] + [storyreel(name, "--help").stdout for name in commands]
    helps += [storyreel("token", name, "--help").stdout for name in _commands(storyreel("token", "--help").stdout)]
    for text in helps:
        assert text.startswith("Usage:") and not SECTION.search(text), text
    root = init_project(tmp_path / "farm")
    assert not SECTION.search((root / "storyreel.toml").read_text(encoding="utf-8"))


def test_an_unknown_log_level_in_the_settings_is_one_message(tmp_path: Path):
    root = init_project(tmp_path / "farm")
    toml = root / "storyreel.toml"
    toml.write_text(re.sub(r'(?m)^log_level = .*$', 'log_level = "LOUD"', toml.read_text()))
    for args in (("main", root, "--once"), ("status", root)):
        done = storyreel(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip() == (f'storyreel: bad setting in {toml}: log_level = "LOUD": '
                                       "expected DEBUG, INFO, WARN or ERROR")
