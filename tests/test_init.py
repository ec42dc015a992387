"""The package's front matter: its version is the one pyproject.toml declares."""

import tomllib

import overlap

from helpers import ROOT


def test_version_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert overlap.__version__ == project["version"]
    assert overlap.__doc__ and "fine-tuning examples" in overlap.__doc__
