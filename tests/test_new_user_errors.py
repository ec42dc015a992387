"""What a new user hits on their own data (issue 17): each failure is one line and exit 1, before any work.

Points 1-6 of the issue; the step after reweighting (point 7) is in test_trainer.py and test_hf_datasets.py.
"""

from __future__ import annotations

import json
import shutil

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from overlap import api
from overlap.io import bundled as data
from overlap.cli import main
from overlap.io import InputError, read_table
from overlap.io.provenance import DatasetMismatch, dataset_digest, read_provenance


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _fails_in_one_line(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture()
def alpaca(tmp_path, reference_docs):
    """An Alpaca file of the user's own (30 records, no ids) and its scores against the bundled lexical index."""
    words = reference_docs["pydoc-topics.jsonl.gz"][7]["text"].split()
    records = [{"instruction": f"Explain step {i} of making tea.", "input": "",
                "output": " ".join(words[i * 10: i * 10 + 40]) if i % 3 == 0 else f"Steep leaf batch {i} for "
                f"{i + 2} minutes in water at {70 + i} degrees, then strain."} for i in range(30)]
    path = tmp_path / "alpaca.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture()
def scanned(tmp_path, alpaca, lexical_index):
    scores = tmp_path / "alpaca_scores.parquet"
    api.scan(alpaca, lexical_index, out=scores)
    return alpaca, scores


# --- 1. reweight --dataset must be the scanned file ----------------------------------------------------------


def test_scores_keep_the_path_and_digest_of_the_scanned_file(scanned):
    alpaca, scores = scanned
    source = read_provenance(scores)
    assert source is not None and source.path == str(alpaca.resolve()) and source.records == 30
    import hashlib
    assert source.sha256 == dataset_digest(alpaca) == hashlib.sha256(alpaca.read_bytes()).hexdigest()


def test_resampling_another_file_is_refused_not_written(runner, tmp_path, scanned):
    _, scores = scanned
    out = tmp_path / "w5.jsonl"
    result = runner.invoke(main, ["reweight", str(scores), "--out", str(out),
                                  "--dataset", str(data.sample_dataset()), "--resample", "5"])
    _fails_in_one_line(result, "is not the dataset scanned into", "SHA-256")
    assert not out.exists()


def test_a_shorter_file_with_the_same_ids_is_refused_not_an_index_error(runner, tmp_path, scanned):
    alpaca, scores = scanned
    shorter = tmp_path / "shorter.jsonl"
    shorter.write_text("".join(alpaca.read_text().splitlines(keepends=True)[:10]))
    result = runner.invoke(main, ["reweight", str(scores), "--out", str(tmp_path / "r.jsonl"),
                                  "--dataset", str(shorter), "--resample", "40"])
    _fails_in_one_line(result, "is not the dataset scanned into")


def test_without_a_digest_the_ids_are_still_checked(runner, tmp_path, scanned, alpaca, lexical_index):
    jsonl_scores = tmp_path / "scores.jsonl"
    api.scan(alpaca, lexical_index, out=jsonl_scores)
    shorter = tmp_path / "shorter.jsonl"
    shorter.write_text("".join(alpaca.read_text().splitlines(keepends=True)[:10]))
    with pytest.raises(DatasetMismatch, match="the scores have row 10"):
        api.reweight(jsonl_scores, tmp_path / "r.jsonl", dataset=shorter, resample=5)
    faq = runner.invoke(main, ["reweight", str(jsonl_scores), "--out", str(tmp_path / "r2.jsonl"),
                               "--dataset", str(data.sample_dataset()), "--resample", "5"])
    _fails_in_one_line(faq, "row 0 has id 'faq/0001' there but '0' in the scores")


def test_a_copy_of_the_scanned_file_is_accepted_and_its_records_resampled(tmp_path, scanned):
    alpaca, scores = scanned
    copy = tmp_path / "moved" / "copy.jsonl"
    copy.parent.mkdir()
    shutil.copy(alpaca, copy)
    out = tmp_path / "resampled.jsonl"
    _, summary = api.reweight(scores, out, dataset=copy, resample=45, seed=3)
    lines = out.read_text().splitlines()
    assert len(lines) == 45 and set(lines) <= set(alpaca.read_text().splitlines())
    assert summary.resampling.written == 45 and summary.resampling.distinct <= 30


def test_report_refuses_a_dataset_that_was_not_scanned(runner, tmp_path, scanned):
    alpaca, scores = scanned
    edited = tmp_path / "edited.jsonl"
    edited.write_text(alpaca.read_text().replace("tea", "coffee"))
    result = runner.invoke(main, ["report", str(scores), "--out", str(tmp_path / "r.html"), "--dataset", str(edited)])
    _fails_in_one_line(result, "edited.jsonl is not the dataset scanned into")
    weights = tmp_path / "w.parquet"
    api.reweight(scores, weights)
    assert read_provenance(weights) == read_provenance(scores)  # the weights keep the record
    assert runner.invoke(main, ["report", str(weights), "--out", str(tmp_path / "ok.html"),
                                "--dataset", str(alpaca)]).exit_code == 0


# --- 2. an empty dataset ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,content", [("empty.jsonl", ""), ("blank.jsonl", "\n\n  \n"), ("array.json", "[]"),
                                          ("header.csv", "instruction,output\n")])
@pytest.mark.parametrize("suffix", ["parquet", "jsonl", "csv"])
def test_an_empty_dataset_is_one_line_and_exit_1(runner, tmp_path, lexical_index, name, content, suffix):
    path = tmp_path / name
    path.write_text(content)
    out = tmp_path / f"s.{suffix}"
    result = runner.invoke(main, ["scan", str(path), "--index", str(lexical_index), "--out", str(out)])
    _fails_in_one_line(result, f"{name}: no examples to scan: it holds no records")
    assert not out.exists()


def test_an_empty_dataset_raises_in_python_and_all_rejected_keeps_the_rejects(runner, tmp_path, lexical_index):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="no examples to scan"):
        api.scan(empty, lexical_index)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a"}\n{"oops\n')
    out = tmp_path / "s.parquet"
    result = runner.invoke(main, ["scan", str(bad), "--index", str(lexical_index), "--out", str(out),
                                  "--on-error", "skip"])
    _fails_in_one_line(result, "all 2 records were rejected", "s.parquet.rejects.jsonl")
    assert len((tmp_path / "s.parquet.rejects.jsonl").read_text().splitlines()) == 2 and not out.exists()


# --- 3. the malformed-JSON message is whole --------------------------------------------------------------------


def test_malformed_json_message_says_where_the_string_starts(runner, tmp_path, lexical_index):
    bad = tmp_path / "bad.jsonl"
    good = json.dumps({"instruction": "Say hi.", "output": "Hello there, friend of the garden."})
    bad.write_text(good + "\n" + '{"instruction": "x", "output": "this string never ends\n' + good + "\n")
    result = runner.invoke(main, ["scan", str(bad), "--index", str(lexical_index), "--out", str(tmp_path / "s.csv")])
    _fails_in_one_line(result, "line 2: malformed JSON at column 32: Unterminated string starting at column 32")
    skipped = runner.invoke(main, ["scan", str(bad), "--index", str(lexical_index), "--out", str(tmp_path / "s.csv"),
                                   "--on-error", "skip"])
    assert skipped.exit_code == 0, skipped.output
    reject = json.loads((tmp_path / "s.csv.rejects.jsonl").read_text())
    assert reject["reason"].endswith("Unterminated string starting at column 32")


def test_a_broken_json_array_names_line_and_column(tmp_path):
    from overlap.io import read_dataset

    path = tmp_path / "a.json"
    path.write_text('[\n {"text": "one"},\n {"text": "two')
    with pytest.raises(InputError, match=r"line 3: malformed JSON array at column 11: "
                                          r"Unterminated string starting at column 11$"):
        read_dataset(path)


# --- 4. every output path and option is checked before any work ------------------------------------------------


@pytest.fixture()
def no_reading(monkeypatch):
    """Fail the test if the dataset or the scores are read at all."""
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the options were checked")
    monkeypatch.setattr(api, "read_dataset", refuse)
    monkeypatch.setattr(api, "read_table", refuse)


@pytest.mark.parametrize("extra,needle", [
    (["--out", "{tmp}/s.txt"], "unsupported table format '.txt'"),
    (["--out", "{tmp}/s.parquet", "--report", "{tmp}/r.pdf"], "the report is HTML"),
    (["--out", "{tmp}/s.parquet", "--index", "{tmp}"], "not an overlap index (no manifest.json)"),
    (["--out", "{tmp}/existing.parquet"], "existing.parquet already exists; pass --overwrite to replace it"),
    (["--out", "{tmp}/s.parquet", "--on-error", "skip"], "s.parquet.rejects.jsonl already exists"),
])
def test_scan_checks_outputs_before_reading(runner, tmp_path, alpaca, no_reading, extra, needle):
    (tmp_path / "existing.parquet").write_text("x")
    (tmp_path / "s.parquet.rejects.jsonl").write_text("old")
    args = ["scan", str(alpaca), *[a.format(tmp=tmp_path) for a in extra]]
    _fails_in_one_line(runner.invoke(main, args), needle)


@pytest.mark.parametrize("extra,needle", [
    (["--out", "{tmp}/w.txt"], "unsupported table format '.txt'"),
    (["--out", "{tmp}/r.parquet", "--dataset", "{alpaca}", "--resample", "5"], "must end in .jsonl"),
    (["--out", "{tmp}/r.jsonl", "--resample", "5"], "resampling needs --dataset"),
    (["--out", "{tmp}/r.jsonl", "--dataset", "{alpaca}", "--resample", "-1"], "--resample must be 0 or more"),
    (["--out", "{tmp}/r.jsonl", "--dataset", "{alpaca}", "--resample", "5", "--resample-factor", "2"], "not both"),
    (["--out", "{tmp}/w.parquet", "--target-novel-share", "1.5"], "target_novel_share"),
])
def test_reweight_checks_outputs_and_options_before_reading(runner, tmp_path, alpaca, no_reading, extra, needle):
    scores = tmp_path / "scores.parquet"
    pl.DataFrame({"id": ["0"], "row": [0]}).write_parquet(scores)
    args = ["reweight", str(scores), *[a.format(tmp=tmp_path, alpaca=alpaca) for a in extra]]
    _fails_in_one_line(runner.invoke(main, args), needle)


# --- 5. one voice across commands ------------------------------------------------------------------------------


def test_existing_outputs_get_the_same_message_from_every_command(runner, tmp_path, scanned):
    alpaca, scores = scanned
    taken = tmp_path / "taken.parquet"
    taken.write_text("x")
    taken_jsonl = tmp_path / "taken.jsonl"
    taken_jsonl.write_text("x")
    for args in (["scan", str(alpaca), "--out", str(taken)],
                 ["reweight", str(scores), "--out", str(taken)],
                 ["reweight", str(scores), "--out", str(taken_jsonl), "--dataset", str(alpaca), "--resample", "3"]):
        result = runner.invoke(main, args)
        _fails_in_one_line(result, "already exists; pass --overwrite to replace it")
        assert "overwrite=True" not in result.output


@pytest.mark.parametrize("command", [
    ["scan", "{missing}", "--out", "{tmp}/s.parquet"],
    ["reweight", "{missing}", "--out", "{tmp}/w.parquet"],
    ["reweight", "{scores}", "--out", "{tmp}/w.parquet", "--dataset", "{missing}"],
    ["report", "{missing}", "--out", "{tmp}/r.html"],
    ["report", "{scores}", "--out", "{tmp}/r.html", "--weights", "{missing}"],
    ["index", "info", "{missing}"],
])
def test_a_missing_input_exits_1_with_one_line(runner, tmp_path, scanned, command):
    _, scores = scanned
    missing = tmp_path / "nope.jsonl"
    args = [a.format(missing=missing, tmp=tmp_path, scores=scores) for a in command]
    _fails_in_one_line(runner.invoke(main, args), "nope.jsonl")


def test_an_interrupted_build_still_gets_the_resume_hint(runner, tmp_path, alpaca):
    folder = tmp_path / "half-built"
    folder.mkdir()
    (folder / "build-plan.json").write_text("{}")
    result = runner.invoke(main, ["scan", str(alpaca), "--index", str(folder), "--out", str(tmp_path / "s.parquet")])
    _fails_in_one_line(result, "did not finish", "--resume")


# --- 6. summaries that explain themselves ----------------------------------------------------------------------


def test_reweight_summary_says_effective_size_counts_near_duplicate_groups(runner, tmp_path, lexical_index):
    result = runner.invoke(main, ["scan", str(data.sample_dataset()), "--index", str(lexical_index),
                                  "--out", str(tmp_path / "s.parquet")])
    assert result.exit_code == 0, result.output
    weighted = runner.invoke(main, ["reweight", str(tmp_path / "s.parquet"), "--out", str(tmp_path / "w.parquet")])
    assert weighted.exit_code == 0, weighted.output
    assert "Effective sample size (near-duplicate groups counted once) goes from" in weighted.output
    assert "of 1,019 examples" in weighted.output and "so a group counts as one example" in weighted.output


def test_resample_summary_says_what_was_written_repeated_and_dropped(runner, tmp_path, scanned):
    alpaca, scores = scanned
    result = runner.invoke(main, ["reweight", str(scores), "--out", str(tmp_path / "r.jsonl"),
                                  "--dataset", str(alpaca), "--resample", "60", "--target-novel-share", "0.9"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line)["instruction"] for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    counts = pl.Series(out).value_counts()["count"]
    repeated, most = int((counts > 1).sum()), int(counts.max())
    assert (f"Resampled: 60 records written from 30 scored rows. {len(set(out))} distinct rows appear, "
            f"{repeated} of them more than once (at most {most} times)") in result.output
    assert f"{30 - len(set(out))} rows are left out" in result.output and "shuffled (seed 0)" in result.output


def test_report_never_shows_a_zero_threshold(tmp_path, scanned):
    _, scores = scanned
    from overlap.scoring import score

    # The fit keeps zero overlap below the threshold (tests/test_score.py), so it is never 0.00.
    assert score.single_threshold("minhash_jaccard") >= 0.005
    html = api.report(scores, tmp_path / "r.html").read_text()
    table = html[html.index("<h3>By signal</h3>"):]
    table = table[:table.index("</table>")]
    assert "<td>0.00</td>" not in table


def test_rerunning_an_identical_build_says_nothing_was_added(runner, tmp_path):
    source = str(data.corpora_dir() / "reference" / "pydoc-topics.jsonl.gz")
    args = ["index", "build", source, "--out", str(tmp_path / "idx"), "--signals", "ngram"]
    assert runner.invoke(main, args).exit_code == 0
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "nothing to add: every source is already in" in again.output


def test_text_columns_without_values_are_typed_strings_in_parquet(scanned):
    _, scores = scanned
    schema = pq.read_schema(scores)
    assert read_table(scores)["category"].null_count() == 30
    assert str(schema.field("category").type) == "large_string" and str(schema.field("flag").type) == "large_string"


def test_report_replaces_an_existing_file_only_with_overwrite(runner, tmp_path, scanned):
    _, scores = scanned
    out = tmp_path / "again.html"
    out.write_text("keep me")
    refused = runner.invoke(main, ["report", str(scores), "--out", str(out)])
    assert refused.exit_code == 1 and "already exists; pass --overwrite to replace it" in refused.output
    assert out.read_text() == "keep me"
    assert runner.invoke(main, ["report", str(scores), "--out", str(out), "--overwrite"]).exit_code == 0
    assert out.read_text().startswith("<!")
