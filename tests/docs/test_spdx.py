# SPDX-License-Identifier: BSD-3-Clause
"""Every tracked source file carries the license's SPDX line in its header
(LICENSE is BSD 3-Clause), so a file copied out of the tree keeps its terms."""
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE_SUFFIXES = {".cpp", ".hpp", ".cu", ".cuh", ".h", ".c", ".inc", ".py", ".sh", ".cmake"}
TAG = "SPDX-License-Identifier: BSD-3-Clause"


def tracked_sources():
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        import pytest
        pytest.skip("not a git checkout")
    for name in out.splitlines():
        p = ROOT / name
        if name.startswith(("tests/data/", "data/", "fuzz/regressions/")) or not p.is_file():
            continue
        if p.suffix in SOURCE_SUFFIXES or p.name == "CMakeLists.txt" or name == ".ci/run":
            yield name, p


def test_every_source_file_has_the_spdx_line():
    files = list(tracked_sources())
    assert len(files) > 200, "the file list is implausibly short"
    missing = [n for n, p in files if TAG not in "".join(p.read_text(errors="replace").splitlines(True)[:5])]
    assert not missing, f"no '{TAG}' in the first 5 lines of: {missing}"


def test_license_is_bsd_3_clause():
    text = (ROOT / "LICENSE").read_text()
    assert "Redistribution and use in source and binary forms" in text
    assert "3. Neither the name of the copyright holder" in text
