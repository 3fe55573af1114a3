"""Tag proposals from class probabilities, and choosing which proposals to accept.

A proposal is only a suggestion: ``classify.apply`` writes them to a JSON document and a person
accepts them (``reelforge classify accept``) above a confidence they trust. The document format is
defined here, once, for the task that writes it and the command that reads it.

Torch-free on purpose (numpy only), so the command line can read proposals without loading torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput

PROPOSALS_FORMAT = "reelforge.tag-proposals/1"


@dataclass(frozen=True)
class TagProposal:
    label: str
    tag: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "tag": self.tag, "confidence": round(float(self.confidence), 6)}


def propose_tags(
    proba: np.ndarray,
    class_names: Sequence[str],
    *,
    top_k: int = 1,
    min_confidence: float = 0.0,
    tag_prefix: str = "",
) -> list[list[TagProposal]]:
    """Per image, its ``top_k`` most probable classes with probability ≥ ``min_confidence``, best first
    (so an image the model is unsure about may get no proposal at all). Tag = prefix + class name."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(class_names):
        raise InvalidInput(f"probabilities must be (N, {len(class_names)}), got shape {p.shape}")
    if top_k < 1:
        raise InvalidInput(f"top_k must be at least 1, got {top_k}")
    if not 0.0 <= min_confidence <= 1.0:
        raise InvalidInput(f"min_confidence must be in [0, 1], got {min_confidence}")
    order = np.argsort(-p, axis=1, kind="stable")[:, :top_k]
    out: list[list[TagProposal]] = []
    for row, idx in zip(p, order, strict=True):
        out.append([TagProposal(str(class_names[j]), f"{tag_prefix}{class_names[j]}", float(row[j]))
                    for j in idx if row[j] >= min_confidence])
    return out


@dataclass(frozen=True)
class Accepted:
    asset: str
    name: str
    tag: str
    label: str
    confidence: float


def read_proposals(doc: Any) -> list[dict[str, Any]]:
    """The entries of a proposals document, checked (a bad file is one clear error, not a KeyError)."""
    if not isinstance(doc, dict) or doc.get("format") != PROPOSALS_FORMAT:
        raise InvalidInput(f"not a tag-proposals document (expected format {PROPOSALS_FORMAT})")
    entries = doc.get("assets")
    if not isinstance(entries, list):
        raise InvalidInput("tag-proposals document has no asset list")
    for e in entries:
        ok = isinstance(e, dict) and isinstance(e.get("asset"), str) and isinstance(e.get("proposals"), list)
        if ok:
            ok = all(isinstance(p, dict) and isinstance(p.get("tag"), str) and isinstance(p.get("label"), str)
                     and isinstance(p.get("confidence"), int | float) for p in e["proposals"])
        if not ok:
            raise InvalidInput("tag-proposals document has a malformed entry")
    return entries


def select_proposals(doc: Any, *, min_confidence: float, only: Sequence[str] = ()) -> list[Accepted]:
    """The proposals at or above ``min_confidence`` (and, with ``only``, of those labels), in
    document order: what accepting applies."""
    if not 0.0 <= min_confidence <= 1.0:
        raise InvalidInput(f"min-confidence must be in [0, 1], got {min_confidence}")
    wanted = set(only)
    entries = read_proposals(doc)
    known = doc.get("class_names")
    unknown = sorted(wanted - set(known)) if isinstance(known, list) else []
    if unknown:
        raise InvalidInput(f"the model has no label {unknown[0]!r} (labels: {', '.join(map(str, known))})")
    out = []
    for e in entries:
        for p in e["proposals"]:
            if p["confidence"] >= min_confidence and (not wanted or p["label"] in wanted):
                out.append(Accepted(e["asset"], str(e.get("name", "")), p["tag"], p["label"],
                                    float(p["confidence"])))
    return out
