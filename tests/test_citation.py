"""CITATION.cff and CHANGELOG.md agree with the package version."""

import re
from pathlib import Path

import orbitshare

ROOT = Path(__file__).resolve().parents[1]


def test_citation_version_is_the_package_version():
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", text, re.M)
    (version,) = re.findall(r'^version: "([^"]+)"$', text, re.M)
    assert version == orbitshare.__version__
    assert re.search(r"^license: BSD-3-Clause$", text, re.M)


def test_changelog_has_the_package_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{orbitshare.__version__}] - " in text
    assert "## [Unreleased]" in text
