"""Gather every offline reference text this machine holds into a corpus of a style overlap was never fitted on.

Usage::

    python benchmarks/validity/gather.py --out /tmp/big        # corpus.jsonl + unseen.jsonl
    python benchmarks/validity/gather.py --out /tmp/deb --sources changelogs --unseen-share 0.33

Sources (each used where installed; see /work/shared/SOURCES.md): manual pages
(``/usr/share/man``, troff markup stripped), the Debian ``python3.11-doc`` reST
sources, WordNet glosses (``wordnet-base``), fortune cookies (``fortunes``) and the
language-reference topics of ``pydoc_data`` (gensim's Wikipedia and news samples
are left out: the bundled corpus is made of them). One document per page, file,
gloss block or fortune. ``--sources changelogs`` gathers another style instead: the
Debian changelogs under ``/usr/share/doc``, each package's first ``CHANGELOG_WORDS`` words. A deterministic 2% of documents (by id hash; ``--unseen-share``) goes to
``unseen.jsonl`` instead: text of the corpus's style that an index built from
``corpus.jsonl`` never read, for measuring false familiar.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path
from typing import Iterator

from overlap.text import reference as ref

UNSEEN_SALT = b"overlap-unseen\0"
UNSEEN_SHARE = 0.02
MIN_WORDS = 20
CHANGELOG_WORDS = 600  # of a package's changelog: one long history would make a corpus of its own
TROFF_ESCAPE = re.compile(r"\\(\(..|\*\(..|\*.|f\(..|f.|s[-+]?\d|[-&e|^ ]|.)")


def _man_text(raw: str) -> str:
    """Readable text of a troff manual page: requests dropped, escapes replaced."""
    lines = []
    for line in raw.splitlines():
        if line.startswith((".", "'")):
            line = re.sub(r"^\.(SH|SS|B|I|BR|IR|RB|BI|IB|TP|IP|Nm|Nd|Fl|Ar|Xr)\s+", "", line)
            if line.startswith((".", "'")):
                continue
        lines.append(TROFF_ESCAPE.sub(lambda m: "-" if m.group(0) == r"\-" else " ", line).replace('"', ""))
    return "\n".join(lines)


def _gzipped(root: str, pattern: str) -> Iterator[tuple[Path, str]]:
    """Each readable gzipped file under ``root`` matching ``pattern``, and its text."""
    for path in sorted(Path(root).glob(pattern)):
        try:
            yield path, gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
        except (OSError, EOFError):
            continue


def man_pages() -> Iterator[tuple[str, str]]:
    for path, raw in _gzipped("/usr/share/man", "man*/*.gz"):
        if raw.startswith(".so "):  # a link to another page
            continue
        yield f"man/{path.parent.name}/{path.name[:-3]}", _man_text(raw)


def python_docs() -> Iterator[tuple[str, str]]:
    root = Path("/usr/share/doc/python3.11/html/_sources")
    for path in sorted(root.rglob("*.rst.txt")):
        yield f"pydocs/{path.relative_to(root)}", path.read_text(encoding="utf-8", errors="replace")


def wordnet() -> Iterator[tuple[str, str]]:
    for path in sorted(Path("/usr/share/wordnet").glob("data.*")):
        glosses = [line.split(" | ", 1)[1].strip() for line in path.open(encoding="latin-1")
                   if " | " in line and not line.startswith(" ")]
        for start in range(0, len(glosses), 40):  # 40 glosses of one part of speech make a document
            yield f"wordnet/{path.name}/{start}", "\n".join(glosses[start : start + 40])


def fortunes() -> Iterator[tuple[str, str]]:
    for path in sorted(Path("/usr/share/games/fortunes").glob("*")):
        if path.suffix or not path.is_file():
            continue
        for i, fortune in enumerate(path.read_text(encoding="latin-1").split("\n%\n")):
            yield f"fortunes/{path.name}/{i}", fortune


def pydoc_topics() -> Iterator[tuple[str, str]]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield f"pydoc/{name}", topics[name]


def changelogs() -> Iterator[tuple[str, str]]:
    for path, raw in _gzipped("/usr/share/doc", "*/changelog*.gz"):
        yield f"changelog/{path.parent.name}/{path.name[:-3]}", " ".join(raw.split()[:CHANGELOG_WORDS])


SOURCES = {"man": man_pages, "pydocs": python_docs, "wordnet": wordnet, "fortunes": fortunes,
           "pydoc": pydoc_topics}
OTHER_SOURCES = {"changelogs": changelogs}  # gathered only when named


def unseen(doc_id: str, share: float = UNSEEN_SHARE) -> bool:
    """Whether a document is set aside from the corpus (by id hash)."""
    return ref.word_hash(UNSEEN_SALT + doc_id.encode("utf-8", "surrogatepass")) < int(share * 2**64)


def gather(out: Path, names: list[str] | None = None, share: float = UNSEEN_SHARE) -> dict[str, int]:
    """Write ``corpus.jsonl`` and ``unseen.jsonl`` under ``out`` from the sources ``names`` (default:
    ``SOURCES``), ``share`` of documents set aside as unseen; return words per source."""
    out.mkdir(parents=True, exist_ok=True)
    every = {**SOURCES, **OTHER_SOURCES}
    words: dict[str, int] = {}
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as corpus, \
            open(out / "unseen.jsonl", "w", encoding="utf-8") as aside:
        for name in names or list(SOURCES):
            source = every[name]
            for doc_id, text in source():
                n = len(text.split())
                if n < MIN_WORDS:
                    continue
                words[name] = words.get(name, 0) + n
                target = aside if unseen(doc_id, share) else corpus
                target.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    return words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help=f"comma list of {', '.join({**SOURCES, **OTHER_SOURCES})} (default: all but changelogs)")
    parser.add_argument("--unseen-share", type=float, default=UNSEEN_SHARE)
    args = parser.parse_args(argv)
    words = gather(Path(args.out), args.sources.split(","), args.unseen_share)
    for name, n in words.items():
        print(f"{name}: {n} words")
    print(f"total: {sum(words.values())} words")
    return 0


if __name__ == "__main__":
    sys.exit(main())
