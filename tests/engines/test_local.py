"""The local engine maps in order, in this process with one worker, in spawned processes with more."""

import os

from overlap.engines.local import LocalEngine


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
