# SPDX-License-Identifier: BSD-3-Clause
"""README.md stays what a newcomer reads in five minutes: at most 250 lines,
the two commands exactly as CI runs them, every relative link pointing at a
file that exists, and every command's documentation page linked."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_short():
    assert len(README.splitlines()) <= 250


def test_the_two_commands():
    assert "bash experiments/quickstart.sh" in README
    assert "bash tests/run_all.sh" in README
    assert (ROOT / "experiments/quickstart.sh").is_file()
    assert (ROOT / "tests/run_all.sh").is_file()
    # .ci/run runs the README's test command
    assert "bash tests/run_all.sh" in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_relative_links_exist():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    relative = [l for l in links if not re.match(r"[a-z]+:", l)]
    assert relative, "no links found"
    missing = [l for l in relative if not (ROOT / l).exists()]
    assert not missing, missing


def test_every_command_page_is_linked():
    for page in ["simulate", "sweep", "merge", "bench", "train"]:
        assert f"docs/guide/{page}.md" in README, page
    assert "docs/reference/config.md" in README
    assert "## From Python" in README


def test_paths_in_code_spans_exist():
    """Files named in backticks (experiments/..., bench/..., analysis/...) exist."""
    for path in re.findall(r"`((?:experiments|bench|analysis|docs|scripts|tests)/[\w./-]+\.\w+)`", README):
        assert (ROOT / path).exists(), path
