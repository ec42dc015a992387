"""A short written reading of the result, drawn from the numbers of a :class:`ReportData`.

Three paragraphs: what share of the set the base model has likely seen and on
what evidence; where the novel edge cases are; what the reweighting changed.
Each sentence is chosen by the numbers (a sentence about categories only when
there are categories, about duplicates only when there are some), so the
reading says something different for each dataset. Returns escaped HTML.
"""

from __future__ import annotations

import html

import numpy as np
import polars as pl

from overlap import signals as registry
from overlap.report.model import ReportData
from overlap.scoring.score import FAMILIAR_AT, LABELS


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(x: float) -> str:
    if x == 0:
        return "0%"
    if x == 1:
        return "100%"
    if x < 0.001:
        return "under 0.1%"
    if x > 0.999 and x < 1:
        return "over 99.9%"
    return f"{x:.1%}" if x < 0.1 or x > 0.9 else f"{x:.0%}"


def _count(k: int, noun: str, plural: str | None = None) -> str:
    return f"{k:,} {noun if k == 1 else (plural or noun + 's')}"


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _b(s: str) -> str:
    return f"<strong>{s}</strong>"


def known(data: ReportData) -> str:
    """What share is already known, and on what evidence."""
    n, live = data.n, data.live
    if n == 0:
        return "The scores table is empty: there is nothing to read."
    fam, bord, nov, empty = (data.counts[k] for k in LABELS)
    share = fam / live if live else 0.0
    parts = [
        f"Of {_count(n, 'example')}, {_b(f'{fam:,}')} {'is' if fam == 1 else 'are'} familiar "
        f"({_b(_pct(data.share('familiar')))}), {bord:,} borderline and {_b(f'{nov:,}')} novel "
        f"({_b(_pct(data.share('novel')))})"
        + (f"; {_count(empty, 'example')} had no words to score." if empty else ".")
    ]
    if live == 0:
        return parts[0]
    if share == 0:
        parts.append("Nothing in the set was found in the reference corpus: as far as this index can tell, "
                     "the base model has not seen it, and every example is new signal.")
    elif share < 0.02:
        parts.append("Almost none of the set was found in the reference corpus, so little of the training "
                     "budget would go to text the base model already knows.")
    elif share < 0.2:
        parts.append("A minority of the set is already known to the base model; the rest is new to it.")
    elif share < 0.5:
        parts.append(f"A substantial part of the set is already known: about one example in "
                     f"{max(2, round(1 / share))} repeats text from the reference corpus.")
    else:
        parts.append("Most of the set is already known to the base model: fine-tuning on it as it is mostly "
                     "raises the model's confidence on text it has seen, and the novel examples get a small "
                     "share of the gradient.")
    if fam:
        drivers = [(s.drives, s) for s in data.signals if s.drives]
        drivers.sort(key=lambda t: -t[0])
        said = [f"{s.short} evidence for {_count(k, 'example')}" for k, s in drivers]
        if said:
            parts.append(f"The familiar verdicts rest on {_list(said)}.")
        frame = data.frame.filter(pl.col("label") == "familiar")
        verbatim = registry.with_role("verbatim")
        ng = data.signal(verbatim.column) if verbatim else None
        if ng is not None and ng.scored:
            med = frame[ng.column].median()
            one = frame.height == 1
            what = "Its n-gram containment is" if one else "Their median n-gram containment is"
            if med is not None and med >= 0.8:
                parts.append(f"{what} {med:.2f}: " + ("it is a verbatim copy of corpus text." if one else
                                                      "most are verbatim copies of corpus text."))
            elif med is not None and med >= 0.3:
                parts.append(f"{what} {med:.2f}: long stretches are copied, with some text of "
                             f"{'its' if one else 'their'} own around them.")
            elif med is not None:
                parts.append(f"{what} only {med:.2f}: " + ("it shares" if one else "they share")
                             + " phrasing or facts with the corpus rather than whole passages.")
        docs = _top_docs(frame)
        if docs:
            said = [f"<code>{_e(d)}</code> ({_count(k, 'example')})" for d, k in docs]
            noun = "document is" if len(docs) == 1 else "documents are"
            parts.append(f"The most matched corpus {noun} {_list(said)}.")
    sides = _sides(data)
    if sides:
        parts.append(sides)
    return " ".join(parts)


def _top_docs(familiar: pl.DataFrame, k: int = 3) -> list[tuple[str, int]]:
    for column in (f"{s.evidence}_doc_id" for s in registry.all_signals()):
        if column in familiar.columns and familiar[column].drop_nulls().len():
            counts = (familiar[column].drop_nulls().value_counts(sort=True).head(k))
            rows = [(str(r[column]), int(r["count"])) for r in counts.iter_rows(named=True)]
            return [r for r in rows if r[1] > 1] or rows[:1]
    return []


def _sides(data: ReportData) -> str:
    frame = data.frame
    if "prompt_familiarity" not in frame.columns or "response_familiarity" not in frame.columns:
        return ""
    p = frame["prompt_familiarity"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    r = frame["response_familiarity"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    known_q = int(((p >= FAMILIAR_AT) & (r < FAMILIAR_AT)).sum())
    known_a = int(((r >= FAMILIAR_AT) & (p < FAMILIAR_AT)).sum())
    out = []
    if known_q:
        out.append(f"{_b(_count(known_q, 'example'))} ask a question found in the corpus but answer it with "
                   "new text (familiar prompt, novel response): the answer is still worth learning"
                   if known_q > 1 else
                   f"{_b('1 example')} asks a question found in the corpus but answers it with new text "
                   "(familiar prompt, novel response): the answer is still worth learning")
    if known_a:
        out.append(f"{_count(known_a, 'example')} pair a new prompt with a familiar response"
                   if known_a > 1 else "1 example pairs a new prompt with a familiar response")
    if not out:
        return ""
    return "; ".join(out) + "."


def edges(data: ReportData) -> str:
    """Where the novel edge cases are."""
    nov = data.counts["novel"]
    if data.live == 0:
        return ""
    if nov == 0:
        return ("No example is novel: every scored example was found in the corpus, so fine-tuning on this "
                "set teaches the model little it has not seen; look for new data before spending GPU hours.")
    parts = []
    cats = data.categories
    if cats is not None and cats.height > 1:
        ranked = cats.filter(pl.col("novel") > 0).sort("novel", descending=True)
        top = [f"{_b(_e(r['category']))} ({r['novel']:,}, {_pct(r['novel_of_all'])} of them)"
               for r in ranked.head(2).iter_rows(named=True)]
        parts.append(f"The novel examples sit mostly in {_list(top)}.")
        live_cats = cats.with_columns((pl.col("n") - pl.col("empty")).alias("live")).filter(pl.col("live") > 0)
        live_cats = live_cats.with_columns((pl.col("familiar") / pl.col("live")).alias("fam_share"),
                                           (pl.col("novel") / pl.col("live")).alias("nov_share"))
        all_new = live_cats.filter(pl.col("nov_share") >= 0.999)
        mostly_known = live_cats.filter(pl.col("fam_share") >= 0.5).sort("fam_share", descending=True)
        if all_new.height and all_new.height < live_cats.height:
            names = [_e(c) for c in all_new["category"].to_list()[:5]]
            more = f" and {all_new.height - 5} more" if all_new.height > 5 else ""
            parts.append(f"{_list(names)}{more} {'is' if all_new.height == 1 else 'are'} entirely novel.")
        if mostly_known.height:
            said = [f"{_e(r['category'])} ({_pct(r['fam_share'])} familiar)"
                    for r in mostly_known.head(3).iter_rows(named=True)]
            parts.append(f"By contrast {_list(said)} {'is' if len(said) == 1 else 'are'} mostly known "
                         "to the model.")
        small = live_cats.filter((pl.col("novel") > 0) & (pl.col("novel") < 20)).sort("novel")
        if small.height:
            said = [f"{_e(r['category'])} ({r['novel']:,})" for r in small.head(3).iter_rows(named=True)]
            parts.append(f"Thin novel edges, where a handful of examples carry a whole category's new "
                         f"material and are easily under-fit: {_list(said)}.")
    frame = data.frame
    novel = frame.filter(pl.col("label") == "novel")
    dups = novel.filter(pl.col("dup_size") > 1)
    if dups.height:
        distinct = novel["dup_group"].n_unique()
        verb = "is a near-duplicate" if dups.height == 1 else "are near-duplicates"
        parts.append(f"{_count(dups.height, 'novel example')} {verb} "
                     f"of other examples in the set, so the novel examples hold {_b(f'{distinct:,}')} distinct "
                     "texts: repeats of one template are less of an edge than they look.")
    bord = data.counts["borderline"]
    if bord:
        parts.append(f"{_count(bord, 'example')} {'sits' if bord == 1 else 'sit'} in the borderline band "
                     "(some overlap, below the familiar threshold): worth checking by eye in the tables below.")
    if "words" in frame.columns and novel.height >= 10:
        words = novel["words"].cast(pl.Float64)
        short = int((words < 8).sum())
        if short >= max(3, 0.1 * novel.height):
            parts.append(f"{_count(short, 'novel example')} {'has' if short == 1 else 'have'} fewer than 8 "
                         "words: short texts rarely match a corpus verbatim, so their novelty is the weakest "
                         "evidence in the set.")
    return " ".join(parts)


def reweighting(data: ReportData) -> str:
    """What the reweighting changed."""
    w = data.weights
    if w is None:
        return ("No weights were given, so this report does not show a reweighting; "
                "<code>overlap reweight SCORES --out weights.parquet</code> computes one.")
    parts = []
    if w.source == "preview":
        parts.append("No weights were given; the figures here preview <code>overlap reweight</code> with its "
                     "default settings.")
    before_n, after_n = w.by_label.get("novel", (0.0, 0.0))
    before_f, after_f = w.by_label.get("familiar", (0.0, 0.0))
    if abs(after_n - before_n) < 0.005 and abs(after_f - before_f) < 0.005:
        parts.append(f"Reweighting left the label shares almost as they were: novel examples carry "
                     f"{_b(_pct(after_n))} of the weight before and after.")
    else:
        parts.append(f"Reweighting moves the novel examples' share of the weight from {_b(_pct(before_n))} to "
                     f"{_b(_pct(after_n))}"
                     + (f" and the familiar examples' from {_pct(before_f)} to {_pct(after_f)}." if before_f
                        else "."))
    live = w.before > 0
    if live.any():
        hi, lo = float(w.after[live].max()), float(w.after[live].min())
        top = w.largest[0] if w.largest else None
        parts.append(f"Weights run from {lo:.2f} to {hi:.2f}"
                     + (f" (largest: <code>{_e(top[0])}</code>, {top[1]})" if top else "") + ".")
        parts.append(f"Counting near-duplicates together, the effective number of examples goes from "
                     f"{w.effective_before:,.0f} to {w.effective_after:,.0f}"
                     + (": the price of concentrating the signal on fewer examples."
                        if w.effective_after < 0.8 * w.effective_before else "."))
    cats = data.categories
    if cats is not None and cats.height > 1 and "weight_after" in cats.columns:
        moved = cats.with_columns((pl.col("weight_after") - pl.col("weight_before")).alias("delta"))
        up = moved.sort("delta", descending=True).row(0, named=True)
        down = moved.sort("delta").row(0, named=True)
        if up["delta"] > 0.005:
            sentence = (f"{_e(up['category'])} gains the most ({_pct(up['weight_before'])} → "
                        f"{_pct(up['weight_after'])} of the weight)")
            if down["delta"] < -0.005:
                sentence += (f", {_e(down['category'])} loses the most ({_pct(down['weight_before'])} → "
                             f"{_pct(down['weight_after'])})")
                rows = data.frame.with_columns(pl.col("category").cast(pl.String).fill_null("(none)"))
                mine = rows.filter(pl.col("category") == down["category"])
                dup_share = float((mine["dup_size"] > 1).mean()) if mine.height else 0.0
                if dup_share >= 0.3:
                    sentence += (f", mostly because {_pct(dup_share)} of its examples are near-duplicates, "
                                 "which now share one example's weight per group")
            parts.append(sentence + ".")
    dup = data.dup_groups
    if dup.height:
        biggest = dup.row(0, named=True)
        rows = data.frame["dup_group"].to_numpy() == biggest["dup_group"]
        total, mean = float(w.after[rows].sum()), float(w.after[live].mean()) if live.any() else 1.0
        ratio = total / mean if mean else 0.0
        parts.append(f"The largest near-duplicate group, {biggest['size']:,} copies of "
                     f"<code>{_e(biggest['rep_id'])}</code>, now weighs as much as {ratio:.1f} average "
                     f"example{'' if round(ratio, 1) == 1 else 's'} (it was {biggest['size']:,}).")
    return " ".join(parts)


def paragraphs(data: ReportData) -> list[tuple[str, str]]:
    """(heading, HTML) for each non-empty paragraph of the reading."""
    out = [("What is already known", known(data)), ("Where the novel edge cases are", edges(data)),
           ("What the reweighting changed", reweighting(data))]
    return [(h, p) for h, p in out if p]
