"""The step after reweighting: weights as a sampler, per-example loss weights, a weighted HF Trainer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from overlap import api
from overlap.io import bundled as data
from overlap.weights.trainer import load_weights, weighted_lm_loss, weighted_sampler, weighted_trainer

from helpers import ROOT


@pytest.fixture(scope="module")
def weights_file(lexical_index, tmp_path_factory) -> Path:
    """`overlap reweight` of the bundled sample (its 200 templated chats share weight)."""
    folder = tmp_path_factory.mktemp("weights")
    api.scan(data.sample_dataset(), lexical_index, out=folder / "scores.parquet")
    api.reweight(folder / "scores.parquet", folder / "weighted.parquet")
    return folder / "weighted.parquet"


def test_weights_load_in_the_order_of_the_ids_asked_for(weights_file):
    table = api.read_table(weights_file)
    ids = table["id"].to_list()[::-1][:100]
    weights = load_weights(weights_file, ids=ids)
    assert weights.tolist() == table["weight"].to_list()[::-1][:100]
    assert load_weights(weights_file).mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="1 of 2 ids have no weight, the first 'not-scanned'"):
        load_weights(weights_file, ids=[ids[0], "not-scanned"])


def test_the_sampler_draws_in_proportion_to_the_weights_and_repeats_per_seed(weights_file):
    weights = load_weights(weights_file)
    draws = np.array(list(weighted_sampler(weights, num_samples=200_000, seed=1)))
    counts = np.bincount(draws, minlength=len(weights))
    assert counts[weights == 0].sum() == 0
    expected = weights / weights.sum() * len(draws)
    heavy = expected > 100
    assert np.abs(counts[heavy] - expected[heavy]).max() < 5 * np.sqrt(expected[heavy].max())
    assert list(weighted_sampler(weights, seed=4)) == list(weighted_sampler(weights, seed=4))
    assert len(list(weighted_sampler(weights))) == len(weights)
    with pytest.raises(ValueError, match="nothing to sample"):
        weighted_sampler([0.0, 0.0])


def test_weighted_loss_scales_each_examples_mean_token_loss():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11, requires_grad=True)
    labels = torch.randint(0, 11, (3, 5))
    labels[1, :3] = -100  # a prompt that is not trained on
    weights = torch.tensor([2.0, 1.0, 0.0])
    loss = weighted_lm_loss(logits, labels, weights)
    per_example = [torch.nn.functional.cross_entropy(logits[i, :-1], labels[i, 1:], ignore_index=-100)
                   for i in range(3)]
    assert loss.item() == pytest.approx(((2 * per_example[0] + per_example[1]) / 3).item(), rel=1e-6)
    loss.backward()
    assert logits.grad[2].abs().sum() == 0 and logits.grad[0].abs().sum() > 0
    ones = weighted_lm_loss(logits, labels, torch.ones(3))
    assert ones.item() == pytest.approx(torch.stack(per_example).mean().item(), rel=1e-6)


def _tiny_model():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=16, n_embd=16, n_layer=1, n_head=2))


@pytest.mark.slow  # importing the Trainer alone takes 10-30 s on two cores
def test_a_weighted_hf_trainer_draws_only_weighted_examples_and_trains(tmp_path):
    from transformers import TrainingArguments

    rows = [{"input_ids": [i % 32] * 8, "labels": [i % 32] * 8} for i in range(20)]
    weights = np.zeros(20)
    weights[[3, 7]] = [1.0, 3.0]
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=2,
                             report_to=[], save_strategy="no", use_cpu=True, logging_strategy="no")
    trainer = weighted_trainer()(model=_tiny_model(), args=args, train_dataset=rows, sample_weights=weights)
    assert set(trainer._get_train_sampler()) <= {3, 7}
    assert np.isfinite(trainer.train().training_loss)
    with pytest.raises(ValueError, match="3 sample weights for a training set of 20 examples"):
        weighted_trainer()(model=_tiny_model(), args=args, train_dataset=rows,
                           sample_weights=[1, 1, 1])._get_train_sampler()


@pytest.mark.slow
def test_the_readme_training_example_runs(weights_file, tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- training example -->\s*```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "weighted.parquet").symlink_to(weights_file)
    (tmp_path / "corpora").symlink_to(ROOT / "corpora")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    losses = re.findall(r"loss ([0-9.]+)", capsys.readouterr().out)
    assert len(losses) == 2 and all(0 < float(x) < 20 for x in losses)
