"""The HTML report: self-contained, escaped, drawn from the numbers, and working in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from overlap.io import read_dataset
from overlap.report import render_report, write_report
from overlap.pipeline.scan import scan_examples

from browser import Browser, find_chromium

from helpers import HOSTILE, ROOT


# ---------------------------------------------------------------- synthetic scores


def scores_frame(n_familiar: int = 6, n_novel: int = 14, *, semantic: bool = False,
                 dups: bool = True) -> pl.DataFrame:
    """A scores table shaped like scan's, with evidence for the familiar rows."""
    rows = []
    for i in range(n_familiar + n_novel):
        familiar = i < n_familiar
        ngram = 0.9 - 0.05 * i if familiar else 0.01
        fam = 0.99 - 0.01 * i if familiar else 0.02
        row = {
            "id": f"ex/{i:03d}", "row": i, "category": "wiki-qa" if familiar else ("chat" if i % 2 else "code"),
            "words": 40 + i, "ngram_containment": ngram, "ngram_doc_id": "wiki/Moon" if familiar else None,
            "ngram_doc_start": 10 if familiar else -1, "ngram_doc_end": 90 if familiar else -1,
            "ngram_match": "the moon is the only natural satellite of the earth" if familiar else None,
            "minhash_jaccard": 0.5 if familiar else 0.0, "minhash_doc_id": "wiki/Moon" if familiar else None,
            "minhash_doc_start": 0 if familiar else -1, "minhash_doc_end": 120 if familiar else -1,
            "minhash_match": "the moon is the only natural satellite of the earth and" if familiar else None,
            "familiarity": fam, "label": "familiar" if familiar else "novel",
            "prompt_familiarity": 0.02, "response_familiarity": fam,
            "dup_group": (n_familiar if dups and i in (n_familiar + 1, n_familiar + 2) else i), "flag": None,
        }
        if semantic:
            row.update({"semantic_similarity": 0.9 if familiar else 0.3, "semantic_doc_id": "wiki/Moon",
                        "semantic_match": "earth's only natural satellite"})
        rows.append(row)
    return pl.DataFrame(rows)


class Ex:
    def __init__(self, row: int, id: str, prompt: str, response: str, category: str | None = None):
        self.row, self.id, self.prompt, self.response, self.category = row, id, prompt, response, category
        self.text = f"{prompt}\n{response}"


def script_count(page: str) -> int:
    return len(re.findall(r"<script\b", page, flags=re.I))


# ---------------------------------------------------------------- the page


def test_report_is_self_contained():
    page = render_report(scores_frame())
    assert page.startswith("<!DOCTYPE html>")
    assert script_count(page) == 1  # the one inlined script
    assert not re.search(r"<link\b|@import|url\(|\bsrc\s*=", page, flags=re.I)
    # the only URL is the SVG namespace, which is a name, not a request
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_untrusted_text_is_escaped():
    frame = scores_frame().with_columns(
        pl.when(pl.col("row") == 0).then(pl.lit(HOSTILE)).otherwise(pl.col("id")).alias("id"),
        pl.when(pl.col("row") == 1).then(pl.lit(HOSTILE)).otherwise(pl.col("category")).alias("category"),
        pl.when(pl.col("row") == 2).then(pl.lit(HOSTILE)).otherwise(pl.col("ngram_match")).alias("ngram_match"),
    )
    examples = [Ex(i, frame["id"][i], HOSTILE, "the moon is the only natural satellite of the earth")
                for i in range(frame.height)]
    page = render_report(frame, dataset=examples, title=HOSTILE)
    assert script_count(page) == 1
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_headline_plots_tables_and_reading_come_from_the_numbers():
    page = render_report(scores_frame(6, 14), dataset=[Ex(i, f"ex/{i:03d}", "Where is the Moon?",
                                                          "The Moon is the only natural satellite of the Earth.")
                                                       for i in range(20)])
    for part in ('id="summary"', 'id="reading"', 'id="plots"', 'id="t-familiar"', 'id="t-novel"', 'id="t-dups"',
                 "Distribution of familiarity", "Labels by category", "Distribution of n-gram containment",
                 "Weight share by label"):
        assert part in page, part
    assert "30.0%" in page  # 6 of 20 familiar, in the headline card
    assert "Of 20 examples, <strong>6</strong> are familiar" in page
    assert "wiki-qa" in page and "<mark>" in page
    assert "No 2-D map" in page  # no map_x/map_y: said, not silently dropped
    # the reading differs when the numbers differ
    mostly_novel = render_report(scores_frame(1, 80))
    assert "Almost none of the set was found" in mostly_novel
    mostly_known = render_report(scores_frame(30, 5))
    assert "Most of the set is already known" in mostly_known


def test_missing_columns_degrade_gracefully():
    minimal = pl.DataFrame({"id": ["a", "b", "c"], "ngram_containment": [0.9, 0.0, None]})
    page = render_report(minimal)
    assert "n-gram containment" in page and "semantic" not in page.split("<main")[1].split("</main>")[0].lower()
    assert "No near-duplicate groups" in page
    assert "By category" not in page
    empty = render_report(scores_frame().head(0))
    assert "The scores table is empty" in empty


def test_semantic_signal_and_map_when_present():
    frame = scores_frame(semantic=True)
    rng = np.random.default_rng(0)
    frame = frame.with_columns(pl.Series("map_x", rng.normal(size=frame.height)),
                               pl.Series("map_y", rng.normal(size=frame.height)))
    page = render_report(frame)
    assert "Distribution of semantic similarity" in page
    assert "2-D map of example embeddings" in page
    plot = page.split('aria-label="2-D map of example embeddings"')[1].split("</svg>")[0]
    assert plot.count("<circle") == frame.height


def test_weights_file_joined_by_row(tmp_path):
    frame = scores_frame(6, 14)
    weights = pl.DataFrame({"row": list(range(20))[::-1],
                            "weight": [2.0 if r >= 6 else 0.2 for r in range(20)][::-1]})
    path = tmp_path / "weights.parquet"
    weights.write_parquet(path)
    page = render_report(frame, weights=path)
    assert "Weight share by label" in page and "(preview)" not in page
    novel_share = 14 * 2.0 / (14 * 2.0 + 6 * 0.2)
    assert f"to <strong>{novel_share:.1%}</strong>" in page
    preview = render_report(frame)
    assert "preview <code>overlap reweight</code>" in preview
    none = render_report(frame, preview_weights=False)
    assert "Weight share by label" not in none and "No weights were given" in none


def test_tables_are_capped(tmp_path):
    page = render_report(scores_frame(3, 50), max_rows=5)
    novel = page.split('id="t-novel"')[1].split("</table>")[0]
    assert novel.count("<tbody") == 5
    assert "Capped at 5 rows" in page
    out = write_report(scores_frame(), tmp_path / "deep" / "report.html")
    assert out == tmp_path / "deep" / "report.html" and out.read_text().startswith("<!DOCTYPE html>")


def test_an_existing_report_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("keep me")
    with pytest.raises(FileExistsError, match="report.html already exists; pass --overwrite to replace it"):
        write_report(scores_frame(), out)
    assert out.read_text() == "keep me"
    assert write_report(scores_frame(), out, overwrite=True) == out
    assert out.read_text().startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------- a real scan


@pytest.fixture(scope="module")
def real_report(lexical_index, reference_docs, tmp_path_factory) -> tuple[Path, pl.DataFrame]:
    """Scan sample examples plus verbatim corpus passages; write the report with a map and weights."""
    out = tmp_path_factory.mktemp("report")
    records = [json.loads(line) for line in (ROOT / "corpora/finetune/sample.jsonl").open()][:60]
    docs = [d for d in reference_docs["wikipedia.jsonl.gz"] if len(d["text"].split()) > 400][:12]
    for i, doc in enumerate(docs):
        words = doc["text"].split()
        records.append({"id": f"planted/{i}", "source": "planted", "messages": [
            {"role": "user", "content": f"Tell me about {doc.get('title', doc['id'])} {HOSTILE}"},
            {"role": "assistant", "content": " ".join(words[100:100 + 60 + 5 * i])}]})
    dataset = out / "data.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records))
    examples, _ = read_dataset(dataset)
    scores = scan_examples(examples, lexical_index)
    rng = np.random.default_rng(1)
    familiar = (scores["label"] == "familiar").to_numpy()
    scores = scores.with_columns(pl.Series("map_x", rng.normal(size=scores.height) + 4 * familiar),
                                 pl.Series("map_y", rng.normal(size=scores.height)))
    path = write_report(scores, out / "report.html", dataset=dataset, title="Report test")
    return path, scores


def test_real_scan_shows_matched_corpus_text(real_report):
    path, scores = real_report
    assert (scores["label"] == "familiar").sum() >= 10
    page = path.read_text()
    familiar = page.split('id="t-familiar"')[1].split("</table>")[0]
    assert familiar.count("<mark>") >= 20  # both sides of each familiar example's evidence
    assert "wiki/" in familiar
    assert script_count(page) == 1
    assert path.stat().st_size < 3_000_000


def test_report_in_headless_chromium(real_report, tmp_path):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI installs it")
    path, scores = real_report
    with Browser(width=1280, height=900) as browser:
        browser.open(path)
        # plots rendered: every SVG has a size and drawn marks
        plots = browser.eval("Array.from(document.querySelectorAll('svg.plot')).map(function(s){"
                             "var r=s.getBoundingClientRect();"
                             "return [r.width, r.height, s.querySelectorAll('rect,circle,line').length];})")
        assert len(plots) >= 6
        assert all(w > 100 and h > 50 and marks > 3 for w, h, marks in plots), plots
        canvases = browser.eval("Array.from(document.querySelectorAll('canvas')).map(function(c){"
                                "return c.width * c.height;})")
        assert all(area > 0 for area in canvases)

        # sorting: a real click on a header reorders the rows, a second click reverses them
        def column(table: str, index: int) -> list[str]:
            return browser.eval(f"Array.from(document.querySelectorAll('#{table} > tbody')).map(function(b){{"
                                f"var c=b.rows[0].cells[{index}];"
                                "return c.hasAttribute('data-v') ? c.getAttribute('data-v') : c.textContent;})")

        headers = browser.eval("Array.from(document.querySelectorAll('#t-novel thead th')).map(function(t){"
                               "return t.textContent;})")
        words = headers.index("words")
        before = [float(v) for v in column("t-novel", words)]
        browser.click(f"#t-novel thead th:nth-child({words + 1})")
        after = [float(v) for v in column("t-novel", words)]
        assert after == sorted(before, reverse=True) and after != before
        browser.click(f"#t-novel thead th:nth-child({words + 1})")
        assert [float(v) for v in column("t-novel", words)] == sorted(before)
        browser.click("#t-novel thead th:nth-child(2)")  # id: text sorts ascending first
        ids = [v.strip() for v in column("t-novel", 1)]
        assert ids == sorted(ids, key=str.lower)

        # filtering by typed text
        total = len(column("t-familiar", 1))
        browser.type_text('.filters[data-table="t-familiar"] input', "planted/1")
        shown = browser.eval("Array.from(document.querySelectorAll('#t-familiar > tbody:not([hidden])'))"
                             ".map(function(b){return b.rows[0].cells[1].textContent;})")
        assert 0 < len(shown) < total and all("planted/1" in s for s in shown)

        # a click on a familiar row opens its evidence, with the shared words marked
        browser.click("#t-familiar > tbody:not([hidden]) tr.main")
        opened = browser.eval("(function(){var e=document.querySelector('#t-familiar tr.ev:not([hidden])');"
                              "return e ? [e.getBoundingClientRect().height, e.querySelectorAll('mark').length]"
                              " : null;})()")
        assert opened and opened[0] > 50 and opened[1] >= 2

        shot = tmp_path / "report.png"
        png = browser.screenshot(shot, height=2400)
        stats = browser.image_stats(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
        assert stats["width"] == 1280 and stats["height"] == 2400
        assert stats["colours"] > 50 and stats["ink"] > 0.05, stats

        assert browser.errors() == []
        foreign = [u for u in browser.requests() if not u.startswith(("data:", "about:"))
                   and u != path.resolve().as_uri()]
        assert foreign == []


def test_report_shows_the_index_validity_card(lexical_index, tmp_path):
    """The card of the scanned index, from `overlap report --index`, and its signal thresholds."""
    from click.testing import CliRunner

    from overlap.cli import main
    from overlap.index.manifest import read_manifest
    from overlap.scoring.score import single_threshold

    scores = scores_frame()
    scores.write_parquet(tmp_path / "s.parquet")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(tmp_path / "s.parquet"), "--out", str(out),
                                       "--index", str(lexical_index)])
    assert result.exit_code == 0, result.output
    section = out.read_text().split('id="validity"')[1].split("</section>")[0]
    card = read_manifest(lexical_index).calibration["card"]
    assert f"{card['auroc']['edit25']:.3f}" in section and f"{card['false_familiar']:.1%}" in section
    assert "windows, 25% of words replaced" in section
    own = single_threshold("ngram_containment", read_manifest(lexical_index).calibration)
    signals = out.read_text().split("<h3>By signal</h3>")[1].split("</table>")[0]
    assert f"<td>{own:.2f}</td>" in signals
    bare = render_report(scores)
    assert "pass <code>--index</code>" in bare.split('id="validity"')[1].split("</section>")[0]
