import importlib.util
import math
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

ROOT = Path(__file__).resolve().parent.parent


def _tiny_model(d: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for w in "the a of and to in is python for on it that with as was by".split():
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")
    tok.save_pretrained(d)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                      pad_token_id=0, eos_token_id=2, bos_token_id=2)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(d)


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
