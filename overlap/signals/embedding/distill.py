"""A static embedding model distilled from a sentence-transformers model: the fast path for big corpora.

MiniLM embeds about a dozen 200-word chunks a second per CPU core; a corpus of
billions of words needs something a hundred times cheaper. Following model2vec
(Tulkens and van Dongen, 2024), each vocabulary token is embedded once by the
full model (as the one-token sentence ``[CLS] token [SEP]``), the vectors are
reduced by PCA, and each token is weighted by smooth inverse frequency
``a / (a + p(token))`` (Arora et al., 2017) with ``p`` counted on a reference
corpus (default: the bundled one), so frequent function words do not dominate
the mean. A text's embedding is then the mean of its tokens' vectors: a lookup
and a sum, no transformer.

The result is an ordinary sentence-transformers folder (a ``StaticEmbedding``
module and ``Normalize``), so ``--model DIR`` uses it for building and scanning
like any other local model, with its own identity in the index. Nothing is
downloaded: the teacher is a local folder (default: the bundled MiniLM).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from overlap.signals.embedding import models
from overlap.io.writers import refuse_existing
from overlap.io.progress import Progress

DEFAULT_DIMS = 256
SIF_A = 1e-3
TOKEN_BATCH = 512


def token_vectors(teacher, batch: int = TOKEN_BATCH) -> np.ndarray:
    """The teacher's sentence embedding of every vocabulary token alone, ``(vocab, dim)`` float32."""
    import torch

    tokenizer = teacher.tokenizer
    vocab = len(tokenizer)
    cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    ids = np.arange(vocab, dtype=np.int64)[:, None]
    parts = [ids]
    if cls is not None:
        parts.insert(0, np.full((vocab, 1), cls))
    if sep is not None:
        parts.append(np.full((vocab, 1), sep))
    inputs = torch.from_numpy(np.concatenate(parts, axis=1))
    out = np.empty((vocab, models.model_dim(teacher)), dtype=np.float32)
    progress = Progress("embedding vocabulary tokens", vocab, "tokens")
    with torch.inference_mode():
        for lo in range(0, vocab, batch):
            chunk = inputs[lo : lo + batch]
            features = {"input_ids": chunk, "attention_mask": torch.ones_like(chunk)}
            if "token_type_ids" in tokenizer.model_input_names:
                features["token_type_ids"] = torch.zeros_like(chunk)
            out[lo : lo + len(chunk)] = teacher(features)["sentence_embedding"].float().numpy()
            progress.update(len(chunk))
    progress.close()
    return out


def token_probabilities(tokenizer, texts: Iterable[str], vocab: int) -> np.ndarray:
    """Relative frequency of each token id over ``texts`` (add-one smoothed, so no token has zero)."""
    counts = np.ones(vocab, dtype=np.float64)
    batch: list[str] = []
    progress = Progress("counting token frequencies", None, "texts")

    def flush() -> None:
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            np.add.at(counts, np.asarray(ids, dtype=np.int64), 1)
        progress.update(len(batch))
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) == 256:
            flush()
    if batch:
        flush()
    progress.close()
    return counts / counts.sum()


def pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    """``vectors`` centred and projected on their first ``dims`` principal axes (all of them if fewer)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    return (centred @ axes[: min(dims, axes.shape[0])].T).astype(np.float32)


def _reference_texts() -> Iterable[str]:
    from overlap.io import bundled as data
    from overlap.io.formats import iter_records

    for path in data.reference_sources():
        for _, record in iter_records(path):
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                yield record["text"]


def portable(folder: Path) -> None:
    """Make a saved static model load with any sentence-transformers since 3.0, and keep it small.

    Recent versions record their internal module paths in ``modules.json``;
    the public ``sentence_transformers.models`` names load everywhere. The
    generated model card is dropped.
    """
    modules_file = folder / "modules.json"
    modules = json.loads(modules_file.read_text())
    for module in modules:
        module["type"] = "sentence_transformers.models." + module["type"].rsplit(".", 1)[-1]
    modules_file.write_text(json.dumps(modules, indent=2))
    (folder / "README.md").unlink(missing_ok=True)


def distill(
    out: str | os.PathLike,
    *,
    teacher: str | None = None,
    dims: int = DEFAULT_DIMS,
    corpus: Iterable[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Distil a static model from ``teacher`` (a local folder or model name; None: the bundled MiniLM) into ``out``.

    ``corpus`` supplies the texts whose token frequencies set the SIF weights
    (default: the bundled reference corpus). The folder is written whole or not
    at all; an existing ``out`` is refused (FileExistsError) unless ``overwrite``. Returns ``out``.
    """
    out = Path(out)
    refuse_existing(out, overwrite, folder=True)
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, StaticEmbedding

    teacher = teacher or "minilm"
    model = models.load_model(teacher)
    tokenizer = model.tokenizer
    vectors = pca(token_vectors(model), dims)
    p = token_probabilities(tokenizer, corpus if corpus is not None else _reference_texts(), len(vectors))
    weights = vectors * (SIF_A / (SIF_A + p))[:, None].astype(np.float32)
    # float16 rows: half the bytes (the shipped default model), cosines change by under 1e-4;
    # models.load_model computes in float32.
    static = StaticEmbedding(tokenizer, embedding_weights=weights.astype(np.float16))
    student = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        student.save(str(staging))
        portable(staging)
        identity = models.model_identity(teacher)
        (staging / "overlap-distill.json").write_text(json.dumps(
            {"teacher": identity.name, "teacher_sha256": identity.sha256, "dims": int(weights.shape[1]),
             "sif_a": SIF_A, "method": "token embeddings by the teacher, PCA, SIF weights"}, indent=1))
        staging.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
