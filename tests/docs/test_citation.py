# SPDX-License-Identifier: BSD-3-Clause
"""CITATION.cff: valid YAML with what CFF 1.2.0 requires, and the facts that
must agree with the rest of the repository (version with CMakeLists.txt,
license with LICENSE, the paper under references)."""
import datetime
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load():
    with open(ROOT / "CITATION.cff", encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_required_keys_of_cff_1_2_0():
    cff = load()
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):
        assert cff.get(key), key
    for a in cff["authors"]:
        assert a.get("name") or a.get("family-names"), a


def test_version_matches_cmake_and_date_is_a_date():
    cff = load()
    cmake = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    version = re.search(r"project\(dynshare VERSION (\S+)", cmake).group(1)
    assert str(cff["version"]) == version
    datetime.date.fromisoformat(str(cff["date-released"]))


def test_license_is_the_license_file():
    cff = load()
    assert cff["license"] == "BSD-3-Clause"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, the dynshare developers" in text


def test_the_paper_is_referenced():
    refs = load()["references"]
    paper = [r for r in refs if r["title"] == "Towards Biologically Plausible Convolutional Networks"]
    assert len(paper) == 1
    p = paper[0]
    assert p["type"] == "conference-paper"
    assert p["collection-title"] == "Advances in Neural Information Processing Systems 34"
    assert [a["family-names"] for a in p["authors"]] == ["Pogodin", "Mehta", "Lillicrap", "Latham"]
    assert p["year"] == 2021
