"""Word order and ``familiar_content``: real items keep the flag, their shuffles lose it.

Usage::

    python benchmarks/validity/word_order.py [--seed 1] [--per-kind 60] [--index DIR] [--rules 0.6:3,0.4:2 ...]

Builds the validity benchmark's labelled set (``labelled_set.build``), scans every item and the same
item with its space-separated words in random order against the index (default: the bundled one),
and counts, per kind, the items and shuffles over the index's ``familiar_content`` cut, and how many
of them the word-order check (``overlap.scoring.score.ORDER_RULES``) stops: with every rule, with
the first rule alone (the check before the second was added), and with each candidate set of rules
given by ``--rules`` (``share:z`` pairs, comma-separated), side by side on the same scan.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled_set import build  # noqa: E402

from overlap import api  # noqa: E402
from overlap.index.manifest import read_manifest  # noqa: E402
from overlap.io import Example  # noqa: E402
from overlap.pipeline.scan import scan_examples  # noqa: E402
from overlap.scoring import score  # noqa: E402


def stopped(text: str, chunk: str | None, rules: tuple[tuple[float, float], ...]) -> bool:
    """Whether ``rules`` stop ``text`` (its share of the chunk's words and their order, ``score.word_order``)."""
    share, z = score.word_order(text, chunk)
    return any(share >= least_share and z < least_z for least_share, least_z in rules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=None, help="index directory (default: the bundled corpus)")
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rules", nargs="*", default=[], help="candidate rule sets, e.g. 0.6:3,0.4:2")
    args = parser.parse_args(argv)
    candidates = {spec: tuple(tuple(float(x) for x in rule.split(":")) for rule in spec.split(","))
                  for spec in args.rules}
    index = Path(args.index) if args.index else api.default_index()
    items = build(index, args.per_kind, args.seed)
    rng = random.Random(args.seed)
    examples = []
    for item in items:
        words = item.example.text.split()
        rng.shuffle(words)
        examples += [item.example, Example(row=0, id=item.example.id + "/shuffled", prompt="", response="",
                                           text=" ".join(words), category=item.kind)]
    examples = [Example(row=i, id=e.id, prompt=e.prompt, response=e.response, text=e.text, category=e.category)
                for i, e in enumerate(examples)]
    scores = scan_examples(examples, index)
    cut = score.content_threshold(read_manifest(index).calibration)
    semantic = scores["semantic_similarity"].fill_null(np.nan).to_numpy()
    matches = scores["semantic_match"].to_list()
    rows = []
    for kind in dict.fromkeys(i.kind for i in items):
        for shuffled in (False, True):
            at = [k for k, e in enumerate(examples) if e.category == kind and e.id.endswith("/shuffled") == shuffled]
            over = [k for k in at if semantic[k] >= cut]
            rows.append({"kind": kind + (" shuffled" if shuffled else ""), "items": len(at), "over the cut": len(over),
                         "stopped": sum(stopped(examples[k].text, matches[k], score.ORDER_RULES) for k in over),
                         "stopped by the first rule alone": sum(stopped(examples[k].text, matches[k],
                                                                        score.ORDER_RULES[:1]) for k in over),
                         **{f"stopped by {spec}": sum(stopped(examples[k].text, matches[k], rules) for k in over)
                            for spec, rules in candidates.items()}})
    table = pl.DataFrame(rows)
    print(f"familiar_content cut {cut:.4f}; rules (share of the chunk's words, z of word order): {score.ORDER_RULES}")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=240, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="MARKDOWN"):
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
