"""The Engine value: kinds, defaults, registering a runner of one's own."""

import os

import pytest

from overlap import engines
from overlap.engines import Engine
from overlap.engines.local import LocalEngine


def test_of_and_defaults():
    assert Engine.of(None) == Engine() == Engine("local")
    assert Engine.of("ray") == Engine("ray")
    given = Engine("local", workers=3)
    assert Engine.of(given) is given
    assert Engine().pool_size() == os.cpu_count() and Engine().pooled().workers == os.cpu_count()
    assert Engine("ray").pool_size() is None and Engine("local", 2).pool_size() == 2
    assert {"local", "ray"} <= set(engines.kinds())
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        Engine("spark")


def test_start_builds_the_runner_with_workers_and_setup():
    runner = Engine("local", workers=1).start(setup=print)
    assert isinstance(runner, LocalEngine) and runner.workers == 1 and runner.setup is print


def test_a_registered_engine_runs_and_built_ins_stay():
    class Reversed:
        def __init__(self, workers, address, setup):
            self.args = (workers, address, setup)

        def map(self, fn, items):
            return [fn(x) for x in items][::-1]

    engines.register("backwards", Reversed)
    try:
        with pytest.raises(ValueError, match="already registered"):
            engines.register("backwards", Reversed)
        runner = Engine("backwards", workers=4, address="here").start()
        assert runner.args == (4, "here", None) and runner.map(str, [1, 2]) == ["2", "1"]
    finally:
        engines.unregister("backwards")
    assert "backwards" not in engines.kinds()
    with pytest.raises(ValueError, match="built in"):
        engines.unregister("local")
