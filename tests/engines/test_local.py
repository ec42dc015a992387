"""The local engine maps in order, in this process with one worker, in spawned (or forked) processes with more."""

import os
import sys

import pytest

from overlap.engines import local
from overlap.engines.local import LocalEngine

STATE = {"set": "at import"}


def test_one_worker_runs_here_in_order_and_skips_setup():
    calls = []
    engine = LocalEngine(setup=calls.append)
    assert engine.workers == 1
    assert list(engine.map(lambda x: (x * x, os.getpid()), range(5))) == [(x * x, os.getpid()) for x in range(5)]
    assert calls == []  # setup is for worker processes only


def test_processes_keep_input_order():
    engine = LocalEngine(workers=2)
    assert list(engine.map(abs, [-3, 2, -1, 0, -7])) == [3, 2, 1, 0, 7]
    assert list(engine.map(abs, [])) == []


def _pid_after_setup(_item):
    return os.getpid()


def test_warmed_workers_are_the_ones_map_uses():
    """``warm`` starts the pool ahead of ``map`` (stream mode: workers load their kernels while the dataset's
    tables are built); the map then runs on those processes, in order, and a later map starts afresh."""
    engine = LocalEngine(workers=2)
    engine.warm(3)
    assert engine._pool is not None
    assert list(engine.map(abs, [-3, 2, -1])) == [3, 2, 1]
    assert engine._pool is None
    pids = set(engine.map(_pid_after_setup, range(4)))
    assert os.getpid() not in pids
    engine.warm(1)  # one item: nothing to start, the map runs here
    assert engine._pool is None
    assert list(engine.map(_pid_after_setup, [0])) == [os.getpid()]


def test_a_warmed_pool_never_mapped_is_let_go():
    engine = LocalEngine(workers=2)
    engine.warm(2)
    pool = engine._pool[1]
    del engine
    assert pool._shutdown_thread


def _state(_item):
    return STATE["set"], os.getpid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_forked_workers_inherit_this_process_and_still_keep_order(monkeypatch):
    for name in local.FORK_UNSAFE:  # loaded by other tests in this process
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(STATE, "set", "in this process")
    engine = LocalEngine(workers=2)
    assert engine.start_method == "spawn" and engine.allow_fork() and engine.start_method == "fork"
    got = list(engine.map(_state, range(4)))
    assert [s for s, _ in got] == ["in this process"] * 4 and os.getpid() not in {p for _, p in got}
    spawned = list(LocalEngine(workers=2).map(_state, range(2)))
    assert [s for s, _ in spawned] == ["at import"] * 2


def test_no_fork_where_torch_or_tokenizers_is_loaded(monkeypatch):
    monkeypatch.setitem(sys.modules, local.FORK_UNSAFE[0], sys)
    engine = LocalEngine(workers=2)
    assert not engine.allow_fork() and engine.start_method == "spawn"
