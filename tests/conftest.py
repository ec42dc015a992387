"""Shared fixtures (the lexical index of the bundled reference corpus, built once per session); helpers are in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.pipeline.build import build_index

from helpers import load_docs


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lexical_index(tmp_path_factory) -> Path:
    """Index (n-gram + MinHash) of the bundled reference corpus."""
    out = tmp_path_factory.mktemp("lexical-index")
    build_index(data.reference_sources(), out, signals="ngram,minhash")
    return out


@pytest.fixture(scope="session")
def reference_docs() -> dict[str, list[dict]]:
    """Every bundled reference document, by file: its index holds them all (those held out to
    calibrate it too)."""
    return {p.name: load_docs(p) for p in data.reference_sources()}


@pytest.fixture(scope="module")
def ray_cluster(request):
    """A real local Ray cluster (the machine's two CPUs) for a test module, shut down at its end.

    Tasks may run functions of the test module, which Ray workers cannot import by name, so the
    module is pickled by value.
    """
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(request.module)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    if started:
        ray.shutdown()
