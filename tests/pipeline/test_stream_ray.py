"""Stream mode on Ray: corpus files are the tasks, and the scores table is the local one, value for value."""

from __future__ import annotations


import pytest

from overlap.io import bundled as data
from overlap.io import InputError, read_dataset
from overlap.engines import Engine
from overlap.pipeline.stream import scan_corpus

from helpers import write_bad_corpus

ray = pytest.importorskip("ray")


pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_stream_on_ray_equals_local(tmp_path):
    examples, _ = read_dataset(data.sample_dataset())
    sources = data.reference_sources()
    local, _ = scan_corpus(examples, sources, signals="ngram,minhash", engine=Engine("local", 1))
    on_ray, _ = scan_corpus(examples, sources, signals="ngram,minhash", engine="ray")
    assert on_ray.equals(local)
    assert local["ngram_match"].drop_nulls().len() > 20  # evidence crossed the task boundary


def test_bad_corpus_record_on_ray_is_the_input_error(tmp_path):
    corpus = write_bad_corpus(tmp_path, 2)
    examples, _ = read_dataset(data.sample_dataset())
    with pytest.raises(InputError) as on_ray:
        scan_corpus(examples[:5], corpus, signals="ngram", engine="ray")
    assert str(on_ray.value).endswith("line 2, field 'text': expected a string, got int")
