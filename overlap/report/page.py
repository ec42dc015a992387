"""The HTML page: headline figures, the reading, plots, and sortable, filterable tables.

One self-contained document: the style sheet and the small script are inlined,
plots are inline SVG, and nothing refers to any other file or host. Every value
from the data goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import polars as pl

from overlap import signals as registry
from overlap.scoring import score, summary
from overlap.report import validity
from overlap.report import evidence, reading, svg
from overlap.report.model import ReportData
from overlap.scoring.score import LABELS

MAP_POINTS = 4000  # most dots drawn on the 2-D map (a deterministic sample beyond that)
MAX_CATEGORIES = 24  # categories drawn by name in plots; the rest are summed as "(other)"
MIN_FAMILIAR_ROWS = 10  # the familiar table is topped up with the closest novel rows to this many


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _threshold(x: float | None) -> str:
    """A signal's familiar threshold; one that rounds to 0.00 means any value above zero."""
    if x is not None and 0 < x < 0.005:
        return "any value above 0"
    return _num(x, 2)


def _sortval(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return repr(float(x)) if isinstance(x, (int, float)) else str(x)


def pill(label: str) -> str:
    return f'<span class="pill {e(label)}">{e(label)}</span>'


def fam_cell(value: Any, label: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    colour = svg.COLOURS.get(label, svg.MUTED)
    return (f'<span class="meter"><i style="width:{max(2.0, float(value) * 100):.0f}%;background:{colour}">'
            f'</i></span>{float(value):.3f}')


# ---------------------------------------------------------------- tables


@dataclass
class Col:
    header: str
    kind: str = "text"  # "num" sorts numerically
    tip: str = ""


def table(table_id: str, cols: Sequence[Col], rows: Sequence[tuple[list[tuple[str, str]], str, dict[str, str]]],
          *, filters: Sequence[tuple[str, str, Sequence[str]]] = (), caption: str = "",
          empty: str = "Nothing to show.") -> str:
    """A sortable, filterable table.

    Each row is (cells, evidence HTML or "", data attributes for the filters);
    a cell is (HTML, sort value or "" to sort by its text). Each example is its
    own ``<tbody>`` holding its row and, hidden until the row is clicked, its
    evidence, so sorting and filtering move the two together.
    """
    out = []
    if caption:
        out.append(f'<p class="caption">{caption}</p>')
    if not rows:
        out.append(f'<p class="none">{e(empty)}</p>')
        return "".join(out)
    selects = []
    for key, name, values in filters:
        options = "".join(f'<option value="{e(v)}">{e(v)}</option>' for v in values)
        selects.append(f'<label>{e(name)} <select data-key="{e(key)}"><option value="">all</option>'
                       f"{options}</select></label>")
    if selects or len(rows) > 12:
        out.append(f'<div class="filters" data-table="{e(table_id)}"><input type="search" '
                   f'placeholder="Filter: id, category, text…" aria-label="filter rows">{"".join(selects)}'
                   f'<span class="count">{len(rows):,} rows</span></div>')
    head = "".join(f'<th data-type="{c.kind}"{f" title={chr(34)}{e(c.tip)}{chr(34)}" if c.tip else ""}>'
                   f"{e(c.header)}</th>" for c in cols)
    body = []
    for cells, detail, attrs in rows:
        data = "".join(f' data-{k}="{e(v)}"' for k, v in attrs.items())
        tds = "".join(f'<td class="nw" data-v="{e(v)}">{h}</td>' if v != "" else f"<td>{h}</td>"
                      for h, v in cells)
        cls = ' class="main has-ev"' if detail else ' class="main"'
        ev = f'<tr class="ev" hidden><td colspan="{len(cols)}">{detail}</td></tr>' if detail else ""
        body.append(f"<tbody{data}><tr{cls}>{tds}</tr>{ev}</tbody>")
    out.append(f'<div class="tablewrap"><table class="sortable" id="{e(table_id)}"><thead><tr>{head}</tr>'
               f'</thead>{"".join(body)}</table></div>')
    return "".join(out)


def _texts(example: Any) -> list[tuple[str, str]]:
    """(part name, text) to show for an example: prompt and response when it has both."""
    if example is None:
        return []
    prompt, response = getattr(example, "prompt", ""), getattr(example, "response", "")
    if prompt and response and f"{prompt}\n{response}" == example.text:
        return [("prompt", prompt), ("response", response)]
    return [("text", example.text)]


def evidence_html(row: dict[str, Any], data: ReportData, *, closest: bool = False) -> str:
    """The example (from the dataset) beside each signal's matched corpus text, shared words marked."""
    example = data.examples.get(int(row["row"])) if data.examples is not None else None
    matches = []
    for sig in data.signals:
        match = row.get(f"{sig.prefix}_match")
        if not match:
            continue
        start, end = row.get(f"{sig.prefix}_doc_start"), row.get(f"{sig.prefix}_doc_end")
        where = f" · chars {start:,}–{end:,}" if isinstance(start, int) and start >= 0 and end is not None else ""
        head = (f'<span class="sig">{e(sig.name)} {_num(row.get(sig.column))}</span> · '
                f'<code>{e(row.get(f"{sig.prefix}_doc_id") or "?")}</code>{e(where)}')
        if row.get(f"{sig.prefix}_source"):
            head += f' · <span class="muted">in {e(row[f"{sig.prefix}_source"])}</span>'
        # What the signal measured beside its score, and the measured values among its details
        # (exposure: document counts, the longest span; offsets and ids are whole numbers or text).
        declared = registry.owner(sig.column)
        measured = [(m.removeprefix(f"{sig.prefix}_").replace("_", " "), row.get(m))
                    for m in (*declared.measures, *declared.details) if isinstance(row.get(m), float)]
        if measured:
            head += '<br><span class="muted">' + e(" · ".join(f"{m} {_num(v)}" for m, v in measured)) + "</span>"
        matches.append((head, str(match), evidence.tokens(str(match))))
    parts = _texts(example)
    left = []
    if parts:
        for name, text in parts:
            toks = evidence.tokens(text)
            marks = evidence.union_marks(toks, [m[2] for m in matches])
            share = evidence.marked_share(marks)
            note = f' <span class="muted">{share:.0%} of words shared</span>' if any(marks) else ""
            left.append(f'<div class="part">{e(name)}{note}</div>'
                        f'<div class="txt">{evidence.highlight(text, toks, marks)}</div>')
    elif data.examples is None:
        left.append('<p class="muted">Example text not shown: give the dataset too '
                    "(<code>overlap report SCORES --dataset DATA</code>) to read it beside the evidence.</p>")
    else:
        left.append('<p class="muted">This row is not in the dataset given.</p>')
    right = []
    whole = evidence.tokens(example.text) if example is not None else None
    for head, match, toks in matches:
        marks = evidence.shared_marks(whole, toks)[1] if whole is not None else None
        right.append(f'<div class="part">{head}</div><div class="txt corpus">'
                     f"{evidence.highlight(match, toks, marks)}</div>")
    if not right:
        right.append('<p class="muted">No corpus text matched this example.</p>')
    title = "Closest corpus text" if closest else "Matched corpus text"
    extra = ""
    if row.get("flag"):
        extra = f'<p class="muted">flag: {e(row["flag"])}</p>'
    return (f'<div class="evidence"><div class="side"><h4>Example <code>{e(row["id"])}</code></h4>'
            f'{"".join(left)}{extra}</div><div class="side"><h4>{title}</h4>{"".join(right)}</div></div>')


def example_columns(data: ReportData) -> list[Col]:
    cols = [Col("#", "num"), Col("id"), ]
    if "category" in data.frame.columns:
        cols.append(Col("category"))
    cols += [Col("familiarity", "num", "combined score in [0, 1]"), Col("label")]
    cols += [Col(s.short, "num", s.name) for s in data.signals]
    if "prompt_familiarity" in data.frame.columns:
        cols.append(Col("prompt", "num", "familiarity of the prompt alone"))
    if "response_familiarity" in data.frame.columns:
        cols.append(Col("response", "num", "familiarity of the response alone"))
    cols.append(Col("words", "num"))
    cols.append(Col("copies", "num", "size of its near-duplicate group in the dataset"))
    if data.weights is not None:
        cols.append(Col("weight", "num", "weight after reweighting"))
    cols.append(Col("document", tip="corpus document of the strongest evidence"))
    return cols


def example_rows(frame: pl.DataFrame, data: ReportData, *, closest: bool) -> list:
    rows = []
    has_cat = "category" in frame.columns
    for rank, r in enumerate(frame.iter_rows(named=True), start=1):
        cells = [(str(rank), str(rank)), (f'<span class="id">{e(r["id"])}</span>', "")]
        if has_cat:
            cells.append((e(r["category"] or ""), ""))
        cells += [(fam_cell(r["familiarity"], r["label"]), _sortval(r["familiarity"])),
                  (pill(r["label"]), r["label"])]
        cells += [(_num(r.get(s.column)), _sortval(r.get(s.column))) for s in data.signals]
        for side in ("prompt_familiarity", "response_familiarity"):
            if side in frame.columns:
                cells.append((_num(r[side]), _sortval(r[side])))
        cells.append((f"{r['words']:,}" if r.get("words") is not None else "–", _sortval(r.get("words"))))
        cells.append((str(r["dup_size"]), str(r["dup_size"])))
        if data.weights is not None:
            cells.append((_num(r.get("weight"), 2), _sortval(r.get("weight"))))
        doc = next((r.get(f"{s.prefix}_doc_id") for s in sorted(data.signals, key=lambda s: s.column != r["driver"])
                    if r.get(f"{s.prefix}_doc_id")), None)
        cells.append((f"<code>{e(doc)}</code>" if doc else '<span class="muted">none</span>', ""))
        attrs = {"label": r["label"]}
        if has_cat:
            attrs["category"] = r["category"] or "(none)"
        rows.append((cells, evidence_html(r, data, closest=closest), attrs))
    return rows


def _filters(frame: pl.DataFrame) -> list[tuple[str, str, list[str]]]:
    out = [("label", "label", [k for k in LABELS if k in set(frame["label"].to_list())])]
    if "category" in frame.columns:
        out.append(("category", "category",
                    sorted({c if c is not None else "(none)" for c in frame["category"].to_list()})))
    return out


def most_familiar(data: ReportData, max_rows: int) -> tuple[str, str]:
    live = data.frame.filter(pl.col("label") != "empty").sort(["familiarity", "row"], descending=[True, False],
                                                              nulls_last=True)
    known = live.filter(pl.col("label").is_in(["familiar", "borderline"]))
    if known.height >= MIN_FAMILIAR_ROWS:
        shown = known.head(max_rows)
        note = (f"The {shown.height:,} most familiar examples" + (
            f" of {known.height:,} familiar or borderline" if known.height > shown.height else
            ", every familiar and borderline one"))
    else:
        shown = live.head(max(MIN_FAMILIAR_ROWS, known.height))
        note = (f"Only {known.height:,} example{'s' if known.height != 1 else ''} reach the borderline band; "
                f"the {shown.height:,} closest to the corpus are shown")
    note += ". Click a row to see the example beside the corpus text it matched, shared word 5-grams marked."
    if known.height > shown.height:
        note += f" Capped at {max_rows:,} rows to keep the file small."
    return note, table("t-familiar", example_columns(data), example_rows(shown, data, closest=False),
                       filters=_filters(shown), empty="No scored example.")


def most_novel(data: ReportData, max_rows: int) -> tuple[str, str]:
    frame = data.frame.filter(pl.col("label") == "novel")
    raw = [pl.col(s.column).fill_null(0.0) for s in data.signals]
    frame = frame.with_columns(
        (pl.sum_horizontal(raw) if raw else pl.lit(0.0)).alias("_raw"),
        pl.col("familiarity").round(6).alias("_f"),
    )
    # among equally novel rows, take categories in turn so one large source does not fill the table
    key = pl.col("category").cast(pl.String).fill_null("") if "category" in frame.columns else pl.lit("")
    frame = frame.sort(["_f", "_raw", "dup_size", "row"]).with_columns(
        pl.int_range(pl.len()).over(["_f", key]).alias("_turn")
    ).sort(["_f", "_raw", "_turn", "row"])
    shown = frame.head(max_rows).drop("_raw", "_f", "_turn")
    note = (f"The {shown.height:,} least familiar of {frame.height:,} novel examples"
            if frame.height > shown.height else f"All {shown.height:,} novel examples")
    note += (", least familiar first; equally novel rows take categories in turn. These are the edge cases "
             "fine-tuning exists for.")
    if frame.height > shown.height:
        note += f" Capped at {max_rows:,} rows."
    return note, table("t-novel", example_columns(data), example_rows(shown, data, closest=True),
                       filters=_filters(shown), empty="No novel example.")


def duplicates(data: ReportData, max_rows: int) -> tuple[str, str]:
    groups = data.dup_groups
    if "dup_group" not in data.frame.columns or groups.height == 0:
        return "No near-duplicate groups inside the dataset.", ""
    in_groups = int(groups["size"].sum())
    note = (f"{groups.height:,} groups hold {in_groups:,} examples ({in_groups / max(1, data.n):.1%} of the set); "
            f"each row is a group, named by its first example. Click a row for its members.")
    if groups.height > max_rows:
        note += f" The {max_rows:,} largest are shown."
    has_cat = "categories" in groups.columns
    cols = [Col("#", "num"), Col("representative"), Col("copies", "num")]
    if has_cat:
        cols.append(Col("categories"))
    cols += [Col("labels"), Col("mean familiarity", "num")]
    weight = data.weights.after if data.weights is not None else None
    group_of = data.frame["dup_group"].to_numpy()
    if weight is not None:
        cols.append(Col("group weight", "num", "the group's summed weight after reweighting (before: its size)"))
    rows = []
    for rank, g in enumerate(groups.head(max_rows).iter_rows(named=True), start=1):
        labels = _tally(g["labels"])
        cells = [(str(rank), str(rank)), (f'<span class="id">{e(g["rep_id"])}</span>', ""),
                 (f"{g['size']:,}", str(g["size"]))]
        attrs = {"label": max(set(g["labels"]), key=g["labels"].count)}
        if has_cat:
            cats = _tally(g["categories"])
            cells.append((e(", ".join(f"{k} ×{v}" if v > 1 else k for k, v in cats)), ""))
        cells += [(" ".join(f"{pill(k)}{' ×' + str(v) if v > 1 else ''}" for k, v in labels), ""),
                  (_num(g["mean_familiarity"]), _sortval(g["mean_familiarity"]))]
        if weight is not None:
            total = float(weight[group_of == g["dup_group"]].sum())
            cells.append((f"{total:.2f}", repr(total)))
        members = g["members"]
        shown = ", ".join(f"<code>{e(m)}</code>" for m in members[:60])
        more = f" and {len(members) - 60:,} more" if len(members) > 60 else ""
        text = ""
        if data.examples is not None and int(g["dup_group"]) in data.examples:
            ex = data.examples[int(g["dup_group"])]
            text = (f'<div class="part">representative text</div>'
                    f'<div class="txt">{evidence.highlight(ex.text, limit=800)}</div>')
        detail = f'<div class="members"><div class="part">members</div>{shown}{more}{text}</div>'
        rows.append((cells, detail, attrs))
    return note, table("t-dups", cols, rows, filters=[("label", "label", [k for k in LABELS
                                                                          if any(r[2]["label"] == k for r in rows)])])


def _tally(values: Sequence[Any]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for v in values:
        key = "(none)" if v is None else str(v)
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# ---------------------------------------------------------------- headline


def headline(data: ReportData) -> str:
    cards = [f'<div class="card"><div class="big">{data.n:,}</div><div class="what">examples</div>'
             f'<div class="sub">{data.frame["dup_group"].n_unique():,} distinct after near-duplicates</div></div>']
    for name in LABELS:
        k = data.counts[name]
        if name == "empty" and not k:
            continue
        sub = {"familiar": f"familiarity ≥ {score.FAMILIAR_AT:g}",
               "borderline": f"{score.BORDERLINE_AT:.2f} ≤ familiarity < {score.FAMILIAR_AT:g}",
               "novel": f"familiarity < {score.BORDERLINE_AT:.2f}", "empty": "no words to score"}[name]
        cards.append(f'<div class="card {name}"><div class="big">{svg.pct(data.share(name))}</div>'
                     f'<div class="what">{name} <span class="muted">({k:,})</span></div>'
                     f'<div class="sub">{e(sub)}</div></div>')
    bar = "".join(f'<i class="{name}" style="flex-grow:{data.counts[name]}" title="{name}: {data.counts[name]:,}">'
                  f"</i>" for name in LABELS if data.counts[name])
    out = [f'<div class="cards">{"".join(cards)}</div><div class="sharebar">{bar}</div>']
    out.append(signal_table(data))
    if data.categories is not None:
        out.append(category_table(data))
    out.append(source_table(data))
    return "".join(out)


def source_table(data: ReportData) -> str:
    """Familiar and borderline examples by the corpus source (file) of the evidence that drove them."""
    table_ = summary.by_source(data.frame, data.calibration)
    if table_ is None or not table_.height:
        return ""
    cols = [Col("source"), Col("familiar", "num"), Col("share of familiar", "num"), Col("borderline", "num"),
            Col("mean familiarity", "num")]
    rows = [([(f"<strong>{e(r['source'])}</strong>", ""), (f"{r['familiar']:,}", str(r["familiar"])),
              (svg.pct(r["share"]), repr(r["share"])), (f"{r['borderline']:,}", str(r["borderline"])),
              (_num(r["mean"]), _sortval(r["mean"]))], "", {}) for r in table_.iter_rows(named=True)]
    return ('<h3>By corpus source</h3><p class="caption">Where the evidence of the signal that decided each '
            "familiar or borderline example is: the corpus file.</p>" + table("t-sources", cols, rows))


def signal_table(data: ReportData) -> str:
    if not data.signals:
        return '<p class="none">The scores table has no signal columns.</p>'
    rows = []
    for s in data.signals:
        share = s.over / s.scored if s.scored else 0.0
        rows.append(
            f"<tr><td>{e(s.name)}</td><td>{_threshold(s.threshold)}</td><td>{s.over:,}</td><td>{svg.pct(share)}</td>"
            f"<td>{_num(s.mean)}</td><td>{s.drives:,}</td></tr>")
    return ('<h3>By signal</h3><div class="tablewrap"><table class="plain"><thead><tr><th>signal</th>'
            '<th title="value at which the signal alone makes an example familiar">threshold</th>'
            "<th>examples at or over it</th><th>share</th><th>mean</th>"
            '<th title="familiar examples whose strongest evidence is this signal">decides familiar</th></tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def category_table(data: ReportData) -> str:
    cats = data.categories
    weights = "weight_after" in cats.columns
    cols = [Col("category"), Col("examples", "num"), Col("familiar", "num"), Col("borderline", "num"),
            Col("novel", "num"), Col("mean familiarity", "num"),
            Col("share of all novel", "num", "this category's part of all novel examples")]
    if weights:
        cols += [Col("weight before", "num"), Col("weight after", "num")]
    rows = []
    for r in cats.iter_rows(named=True):
        live = max(1, r["n"] - r["empty"])
        cells = [(f"<strong>{e(r['category'])}</strong>", ""), (f"{r['n']:,}", str(r["n"]))]
        for name in ("familiar", "borderline", "novel"):
            share = r[name] / live
            cells.append((f"{svg.pct(share)} <span class=\"muted\">({r[name]:,})</span>", repr(share)))
        cells += [(_num(r["mean_familiarity"]), _sortval(r["mean_familiarity"])),
                  (svg.pct(r["novel_of_all"]), repr(r["novel_of_all"]))]
        if weights:
            cells += [(svg.pct(r["weight_before"]), repr(r["weight_before"])),
                      (svg.pct(r["weight_after"]), repr(r["weight_after"]))]
        rows.append((cells, "", {}))
    return "<h3>By category</h3>" + table("t-categories", cols, rows)


# ---------------------------------------------------------------- plots


def _hist(values: np.ndarray, labels: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for name in LABELS:
        v = values[(labels == name) & ~np.isnan(values)]
        out[name] = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)[0].astype(float)
    return out


def _top_categories(data: ReportData) -> pl.DataFrame:
    cats = data.categories
    if cats.height <= MAX_CATEGORIES:
        return cats
    head, tail = cats.head(MAX_CATEGORIES - 1), cats.slice(MAX_CATEGORIES - 1)
    numeric = [c for c in tail.columns if c != "category" and c != "mean_familiarity"]
    other = tail.select([pl.col(c).sum() for c in numeric]).with_columns(
        pl.lit(f"(other {tail.height})").alias("category"), pl.lit(None, dtype=pl.Float64).alias("mean_familiarity"))
    return pl.concat([head, other.select(head.columns)], how="vertical_relaxed")


def plots(data: ReportData) -> list[tuple[str, str, str]]:
    """(title, caption, SVG) for each plot the data allows."""
    out = []
    labels = data.frame["label"].to_numpy().astype(str)
    edges = np.linspace(0, 1, 21)
    fam = data.frame["familiarity"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    out.append(("Familiarity", "Combined familiarity of each example, coloured by label.",
                svg.histogram(_hist(fam, labels, edges), edges, title="Distribution of familiarity",
                              xlabel="familiarity",
                              markers=[(score.BORDERLINE_AT, "borderline"), (score.FAMILIAR_AT, "familiar")])))
    if data.categories is not None:
        cats = _top_categories(data).sort("familiar", "borderline", descending=True)
        rows = [(str(r["category"]), {k: float(r[k]) for k in LABELS}, f"n={r['n']:,}")
                for r in cats.iter_rows(named=True)]
        out.append(("Familiarity by category", "Share of each label within each category.",
                    svg.share_bars(rows, title="Labels by category")))
    for s in data.signals:
        marks = [(s.threshold, "threshold")] if s.threshold is not None else []
        caption = f"{s.scored:,} examples scored; {s.over:,} at or over the threshold."
        out.append((s.name[:1].upper() + s.name[1:], caption,
                    svg.histogram(_hist(s.values, labels, edges), edges, title=f"Distribution of {s.name}",
                                  xlabel=s.name, markers=marks)))
    if data.weights is not None:
        w = data.weights
        rows = [("before (uniform)", {k: v[0] for k, v in w.by_label.items()}, ""),
                ("after reweighting", {k: v[1] for k, v in w.by_label.items()}, "")]
        title = "Weight share by label" + (" (preview)" if w.source == "preview" else "")
        caption = ("Share of the total training weight carried by each label."
                   + (" No weights were given: default reweighting." if w.source == "preview" else ""))
        out.append((title, caption, svg.share_bars(rows, title="Weight share by label, before and after")))
        if data.categories is not None and "weight_after" in data.categories.columns:
            cats = _top_categories(data).sort("weight_after", descending=True)
            rows = [(str(r["category"]), float(r["weight_before"]), float(r["weight_after"]))
                    for r in cats.iter_rows(named=True)]
            out.append(("Weight share by category", "Share of the total weight per category, before and after.",
                        svg.dumbbell(rows, title="Weight share by category, before and after")))
    if "map_x" in data.frame.columns and "map_y" in data.frame.columns:
        frame = data.frame.filter(pl.col("map_x").is_not_null() & pl.col("map_y").is_not_null()
                                  & pl.col("map_x").is_finite() & pl.col("map_y").is_finite())
        caption = "2-D projection of the examples' embeddings; nearby dots are similar in meaning."
        if frame.height > MAP_POINTS:
            frame = frame.sample(MAP_POINTS, seed=0)
            caption += f" A sample of {MAP_POINTS:,} of {data.n:,} examples."
        cat = frame["category"].to_list() if "category" in frame.columns else [None] * frame.height
        tips = [f"{i} · {c + ' · ' if c else ''}{l} {f:.2f}" if f is not None else f"{i} · {l}"
                for i, c, l, f in zip(frame["id"].to_list(), cat, frame["label"].to_list(),
                                      frame["familiarity"].to_list())]
        out.append(("Map of the dataset", caption,
                    svg.scatter(frame["map_x"].cast(pl.Float64).to_numpy(),
                                frame["map_y"].cast(pl.Float64).to_numpy(),
                                frame["label"].to_list(), tips, title="2-D map of example embeddings")))
    return out


# ---------------------------------------------------------------- page

CSS = """
:root{--ink:#1f2933;--muted:#6b7785;--line:#e4e8ee;--bg:#f6f7f9;--card:#fff;
--familiar:#e8590c;--borderline:#f0b400;--novel:#1c6fc9;--empty:#b8bec6;--mark:#ffd8a8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
header{background:#fff;border-bottom:1px solid var(--line)}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
header .wrap{padding-top:22px;padding-bottom:0}
h1{font-size:26px;margin:0 0 2px;letter-spacing:-.01em}
.meta{color:var(--muted);font-size:13.5px;margin-bottom:12px}
nav{display:flex;gap:22px;font-size:14px;overflow-x:auto}
nav a{color:var(--muted);text-decoration:none;padding:8px 0 10px;border-bottom:2px solid transparent;
white-space:nowrap}
nav a:hover{color:var(--ink);border-color:var(--ink)}
section{margin:30px 0}
h2{font-size:20px;margin:0 0 12px;letter-spacing:-.01em}
h3{font-size:15.5px;margin:22px 0 8px}
h4{font-size:13px;margin:0 0 6px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
background:#eef1f5;padding:1px 4px;border-radius:3px;word-break:break-all}
.muted{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;
border-top:4px solid #8896a5}
.card.familiar{border-top-color:var(--familiar)}.card.borderline{border-top-color:var(--borderline)}
.card.novel{border-top-color:var(--novel)}.card.empty{border-top-color:var(--empty)}
.big{font-size:30px;font-weight:650;letter-spacing:-.02em;line-height:1.1}
.what{font-weight:600;margin-top:2px}.sub{color:var(--muted);font-size:12.5px}
.sharebar{display:flex;height:12px;border-radius:6px;overflow:hidden;margin:14px 0 4px;background:#e9ecf0}
.sharebar i{display:block;min-width:3px}
i.familiar{background:var(--familiar)}i.borderline{background:var(--borderline)}
i.novel{background:var(--novel)}i.empty{background:var(--empty)}
.reading{background:#fff;border:1px solid var(--line);border-left:4px solid var(--ink);border-radius:10px;
padding:6px 22px 10px}
.reading h3{margin:14px 0 2px;font-size:14px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.reading p{margin:0 0 8px;max-width:90ch}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}
figure h3{margin:0 0 2px}
figcaption{color:var(--muted);font-size:12.5px;margin-bottom:8px}
svg.plot{display:block;width:100%;height:auto;font-family:inherit}
.note{color:var(--muted);font-size:13px}
.tablewrap{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:7px 8px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f9fafb;font-weight:600;white-space:nowrap;position:sticky;top:0;z-index:1}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{background:#eef1f5}
table.sortable th::after{content:"\\2195";color:#b0b8c2;margin-left:4px;font-size:11px}
table.sortable th[aria-sort=ascending]::after{content:"\\25B2";color:var(--ink)}
table.sortable th[aria-sort=descending]::after{content:"\\25BC";color:var(--ink)}
td[data-v]{font-variant-numeric:tabular-nums}
tr.main.has-ev{cursor:pointer}
tr.main.has-ev:hover td{background:#f5f8fc}
tr.main.open td{background:#eef4fb}
tr.main.has-ev td:first-child::before{content:"\\25B8";color:var(--muted);margin-right:6px;display:inline-block}
tr.main.open td:first-child::before{transform:rotate(90deg)}
tr.ev td{background:#fbfcfd;padding:12px 14px}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px;
white-space:nowrap}
h4 code{text-transform:none;letter-spacing:0;font-size:12px}
.pill{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;
background:#8896a5;line-height:19px}
.pill.familiar{background:var(--familiar)}.pill.borderline{background:var(--borderline);color:#3d2e00}
.pill.novel{background:var(--novel)}.pill.empty{background:var(--empty);color:var(--ink)}
td.nw{white-space:nowrap}
.meter{display:inline-block;width:38px;height:7px;background:#e9ecf0;border-radius:4px;margin-right:7px;
vertical-align:middle;overflow:hidden}
.meter i{display:block;height:100%}
.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:6px 0 10px;font-size:13.5px}
.filters input{flex:1 1 260px;max-width:420px;padding:7px 10px;border:1px solid #cfd6de;border-radius:7px;
font:inherit}
.filters select{padding:6px 8px;border:1px solid #cfd6de;border-radius:7px;font:inherit;background:#fff}
.filters .count{color:var(--muted);margin-left:auto}
.caption{margin:0 0 6px;color:var(--muted);font-size:13.5px;max-width:100ch}
.none{color:var(--muted);font-style:italic}
.evidence{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.side{min-width:0}
.part{font-size:12px;color:var(--muted);margin:8px 0 3px;font-weight:600}
.part .muted{font-weight:400}
.txt{white-space:pre-wrap;word-wrap:break-word;background:#fff;border:1px solid var(--line);border-radius:7px;
padding:8px 10px;font-size:13.5px;max-height:360px;overflow:auto}
.txt.corpus{background:#fffdf8}
mark{background:var(--mark);color:inherit;border-radius:2px;padding:0 1px}
.cut{color:var(--muted)}
.sig{font-weight:600;color:var(--ink)}
.members code{margin:0 2px 4px 0;display:inline-block}
table.plain td:not(:first-child),table.plain th:not(:first-child){text-align:right}
footer{color:var(--muted);font-size:12.5px;border-top:1px solid var(--line);margin-top:40px;padding:16px 0 30px}
@media (max-width:760px){.evidence{grid-template-columns:1fr}.grid{grid-template-columns:1fr}}
"""

JS = """
(function(){
"use strict";
function key(body, i, num){
  var td = body.rows[0].cells[i];
  var v = td.hasAttribute("data-v") ? td.getAttribute("data-v") : td.textContent.trim();
  if (num) { var f = parseFloat(v); return isNaN(f) ? -Infinity : f; }
  return v.toLowerCase();
}
document.querySelectorAll("table.sortable").forEach(function(table){
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function(th, i){
    th.tabIndex = 0;
    function sort(){
      var num = th.getAttribute("data-type") === "num";
      var cur = th.getAttribute("aria-sort");
      var asc = cur ? cur === "descending" : !num;
      Array.prototype.forEach.call(heads, function(h){ h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var bodies = Array.prototype.slice.call(table.tBodies);
      var keyed = bodies.map(function(b, j){ return [key(b, i, num), j, b]; });
      keyed.sort(function(a, b){
        if (a[0] < b[0]) return asc ? -1 : 1;
        if (a[0] > b[0]) return asc ? 1 : -1;
        return a[1] - b[1];
      });
      keyed.forEach(function(k){ table.appendChild(k[2]); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function(ev){
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sort(); }
    });
  });
  table.addEventListener("click", function(ev){
    var tr = ev.target.closest("tr.main.has-ev");
    if (!tr || ev.target.closest("a")) return;
    var detail = tr.nextElementSibling;
    if (!detail) return;
    detail.hidden = !detail.hidden;
    tr.classList.toggle("open", !detail.hidden);
  });
});
document.querySelectorAll(".filters").forEach(function(bar){
  var table = document.getElementById(bar.getAttribute("data-table"));
  if (!table) return;
  var input = bar.querySelector("input");
  var selects = bar.querySelectorAll("select");
  var count = bar.querySelector(".count");
  var total = table.tBodies.length;
  var texts = new Map();
  function apply(){
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies, function(b){
      if (!texts.has(b)) texts.set(b, b.textContent.toLowerCase());
      var ok = !q || texts.get(b).indexOf(q) >= 0;
      selects.forEach(function(s){
        if (s.value && b.getAttribute("data-" + s.getAttribute("data-key")) !== s.value) ok = false;
      });
      b.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown === total ? total + " rows" : shown + " of " + total + " rows";
  }
  input.addEventListener("input", apply);
  selects.forEach(function(s){ s.addEventListener("change", apply); });
});
})();
"""


def render(data: ReportData, *, max_rows: int = 200, source: str | None = None,
           dataset_name: str | None = None) -> str:
    """The whole report as one HTML document."""
    signals = ", ".join(s.short for s in data.signals) or "none"
    meta = [f"{data.n:,} examples", f"signals: {signals}"]
    if source:
        meta.append(f"scores: {source}")
    if dataset_name:
        meta.append(f"dataset: {dataset_name}")
    if data.examples is None:
        meta.append("example text not included")
    paragraphs = "".join(f"<h3>{e(h)}</h3><p>{p}</p>" for h, p in reading.paragraphs(data))
    figures = "".join(f'<figure><h3>{e(t)}</h3><figcaption>{e(c)}</figcaption>{s}</figure>'
                      for t, c, s in plots(data))
    map_note = ""
    if "map_x" not in data.frame.columns:
        map_note = ('<p class="note">No 2-D map of the dataset: the scores carry no embedding projection '
                    "(<code>map_x</code>, <code>map_y</code>); scan with the embedding signal to get one.</p>")
    fam_note, fam_table = most_familiar(data, max_rows)
    nov_note, nov_table = most_novel(data, max_rows)
    dup_note, dup_table = duplicates(data, max_rows)
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in data.notes)
    nav = "".join(f'<a href="#{k}">{v}</a>' for k, v in (
        ("summary", "Summary"), ("validity", "Validity"), ("reading", "Reading"), ("plots", "Plots"),
        ("familiar", "Most familiar"),
        ("novel", "Most novel"), ("duplicates", "Near-duplicates")))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="overlap">
<title>{e(data.title)}</title>
<style>{CSS}</style>
</head>
<body>
<header><div class="wrap"><h1>{e(data.title)}</h1><div class="meta">{e(" · ".join(meta))}</div>
<nav>{nav}</nav></div></header>
<main class="wrap">
<section id="summary"><h2>Summary</h2>{headline(data)}{notes}</section>
<section id="validity"><h2>Validity of the labels on this index</h2>{validity.section(data.calibration)}</section>
<section id="reading"><h2>Reading</h2><div class="reading">{paragraphs}</div></section>
<section id="plots"><h2>Plots</h2><div class="grid">{figures}</div>{map_note}</section>
<section id="familiar"><h2>Most familiar examples</h2>{_caption(fam_note)}{fam_table}</section>
<section id="novel"><h2>Most novel examples</h2>{_caption(nov_note)}{nov_table}</section>
<section id="duplicates"><h2>Near-duplicate groups</h2>{_caption(dup_note)}{dup_table}</section>
</main>
<footer><div class="wrap">Made by overlap. Familiar means found in the reference corpus of the index, a stand-in
for the base model's pretraining data; novel means not found there. Labels: familiar at familiarity
≥ {score.FAMILIAR_AT:g}, borderline from {score.BORDERLINE_AT:g}. This file is self-contained and makes no network
requests.</div></footer>
<script>{JS}</script>
</body>
</html>
"""


def _caption(note: str) -> str:
    return f'<p class="caption">{e(note)}</p>' if note else ""
