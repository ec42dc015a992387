import importlib.util
import math
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from helpers import ROOT, tiny_model as _tiny_model  # noqa: E402


def test_finetune_benchmark_end_to_end(tmp_path):
    spec = importlib.util.spec_from_file_location("ft_run", ROOT / "benchmarks/finetune/run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _tiny_model(tmp_path / "m")
    out = tmp_path / "results.md"
    args = ["--model", str(tmp_path / "m"), "--steps", "2", "--seeds", "2", "--n-ref", "20",
            "--n-general", "4", "--max-len", "32", "--device", "cpu", "--out", str(out),
            "--log", str(tmp_path / "runs.jsonl")]
    table = mod.main(args)
    text = out.read_text()
    assert text == table
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 6
    # a rerun reuses every logged run and reproduces the table exactly
    assert mod.main(args) == table
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 6
    for m in ("overlap", "permuted"):
        line = next(l for l in text.splitlines() if l.startswith(f"| {m} − uniform (paired by seed) |"))
        assert len(re.findall(r"-?\d+\.\d+", line)) == 10
    for m in ("uniform", "overlap", "permuted"):
        line = next(l for l in text.splitlines() if l.startswith(f"| {m} |"))
        nums = [float(x) for x in re.findall(r"-?\d+\.\d+", line)]
        assert len(nums) == 10 and all(math.isfinite(x) for x in nums)
