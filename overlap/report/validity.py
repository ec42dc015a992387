"""The validity card of the index a scan used, as an HTML section of the report.

The card (``overlap.scoring.calibrate``) says how far a label can be trusted on this
index's corpus: for each kind of planted copy, how well the score ranks it above
held-out text of the same corpus (AUROC) and how often it is labelled familiar,
and how much held-out text is wrongly labelled familiar.
"""

from __future__ import annotations

from html import escape
from typing import Any

from overlap.scoring import calibrate
from overlap.scoring import planting

KIND_NAMES = {
    "whole": "whole documents",
    "window": "windows of 30-200 words",
    "edit10": "windows, 10% of words replaced",
    "edit25": "windows, 25% of words replaced",
    "wrapped": "windows inside an instruction",
}


def section(calibration: dict[str, Any] | None) -> str:
    """The card as HTML: a table where the index was fitted on its own corpus, else why it was not."""
    if calibration is None:
        return ('<p class="note">The index is not known to this report (pass <code>--index</code>), so its '
                "validity card is not shown.</p>")
    if calibration.get("status") != "fitted":
        reason = calibration.get("reason", "index built before self-calibration")
        return (f'<p class="note">Labels use the bundled calibration, fitted on the bundled corpus: '
                f"{escape(reason)}. How well they hold on this corpus was not measured.</p>")
    card = calibration["card"]
    held = calibration.get("heldout", {})
    rows = "".join(
        f"<tr><td>{escape(KIND_NAMES.get(kind, kind))}</td><td>{card['auroc'][kind]:.3f}</td>"
        f"<td>{card['recall'][kind]:.1%}</td></tr>"
        for kind in planting.PLANTED_KINDS if kind in card["auroc"])
    intro = (f"Measured when the index was built, on its own corpus: {held.get('documents', '?')} documents held "
             f"out of the index (rate {held.get('rate', '?')}, {held.get('duplicates', 0)} more that copy indexed ones; "
             f"{held.get('copied_windows', 0)} windows the rest of the corpus holds half of set aside) "
             "stand for unseen text; copies of indexed documents are planted as familiar text. "
             "Out of fold: each half is scored by a fit on the other half.")
    content = ""
    if "content_threshold" in card:
        content = (f"<p><code>familiar_content</code> (same meaning, other words) from semantic similarity "
                   f"{card['content_threshold']}: {card['false_familiar_content']:.1%} of held-out text "
                   "reaches it.</p>")
    return (f"<p>{escape(intro)}</p>"
            '<div class="tablewrap"><table class="plain"><thead><tr><th>planted copies</th>'
            '<th title="chance that a planted copy scores above a held-out text">AUROC vs held-out</th>'
            "<th>labelled familiar</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
            f"<p>Held-out text labelled familiar: <b>{card['false_familiar']:.1%}</b>"
            + (f" (at most {card['false_familiar_upper']:.1%} at 95%, over {card['heldout_documents']} documents)"
               if card.get("false_familiar_upper") is not None and card.get("heldout_documents") else "")
            + f" ({escape(calibrate.fitted_to(card))}). An AUROC near 1 means that kind of copy is found; "
            "the labelled-familiar share is the recall of the strict label.</p>" + content)
