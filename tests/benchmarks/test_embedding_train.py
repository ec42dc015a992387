"""benchmarks/embedding_train.py: the trained static model keeps the shipped format and moves toward its targets."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("embedding_train", ROOT / "benchmarks" / "embedding_train.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["embedding_train"] = module
    spec.loader.exec_module(module)
    return module


def test_train_writes_a_static_model_of_the_same_shape(tmp_path, capsys):
    pytest.importorskip("torch")
    from overlap.signals.embedding import models
    from overlap.signals.embedding.static_model import StaticModel, is_static

    train = _module()
    rng = np.random.default_rng(0)
    words = "file line pattern match output input option directory sort count byte text".split()
    rows = [{"source": "toy", "group": f"g{i}", "text": " ".join(rng.choice(words, 12))} for i in range(300)]
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    teacher = rng.normal(size=(len(rows), 384)).astype(np.float16)
    np.save(tmp_path / "teacher-0000.npy", teacher)
    out = tmp_path / "model"
    sys.argv = ["embedding_train.py", "train", "--work", str(tmp_path), "--out", str(out), "--epochs", "3",
                "--no-bundled", "--threads", "1", "--lr", "1e-2"]
    train.main()
    log = capsys.readouterr().out
    assert "held-out before" in log and "epoch 3" in log
    assert is_static(out)
    shipped = StaticModel(models.default_model_path())
    trained = StaticModel(out)
    assert trained.weights.shape == shipped.weights.shape
    assert trained.encode(["sort the lines of a file"]).shape == (1, shipped.dim)
    meta = json.loads((out / "overlap-distill.json").read_text())
    assert meta["train"]["epochs"] == 3 and meta["train"]["texts_train"] > 0
