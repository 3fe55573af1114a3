"""Evaluation of a classifier on held-out images: accuracy, per-class precision and recall, the
confusion matrix, a quality gate, and the confusion matrix drawn as a PNG-ready Pillow image.

Pure numpy + Pillow: it scores any predictions (a trained network, a baseline, a constant guess), so the
same gate that passes a good model can be shown to fail a bad one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from reelforge.errors import InvalidInput

REPORT_FORMAT = "reelforge.classifier-report/1"


@dataclass
class ClassReport:
    """One class's figures. ``precision`` is None when nothing was predicted as the class, ``recall``
    when the class does not occur (0/0 is undefined, not zero)."""

    name: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int
    predicted: int

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support,
                "predicted": self.predicted}


@dataclass
class ClassificationReport:
    """Scores of predictions against true labels; ``confusion[t][p]`` counts class t predicted as p."""

    class_names: list[str]
    confusion: np.ndarray
    classes: list[ClassReport] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.n) if self.n else 0.0

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the classes present: a constant guess scores 1/k however the test set is skewed."""
        recalls = [c.recall for c in self.classes if c.recall is not None]
        return float(np.mean(recalls)) if recalls else 0.0

    @property
    def macro_f1(self) -> float:
        f1s = [c.f1 if c.f1 is not None else 0.0 for c in self.classes if c.support]
        return float(np.mean(f1s)) if f1s else 0.0

    def per_class(self) -> dict[str, dict[str, Any]]:
        return {c.name: c.to_dict() for c in self.classes}

    def passes(self, min_accuracy: float) -> bool:
        """The quality gate: accuracy at least ``min_accuracy`` on a non-empty test set."""
        return self.n > 0 and self.accuracy >= min_accuracy

    def summary(self) -> str:
        parts = [f"accuracy {self.accuracy:.3f} on {self.n} images"]
        for c in self.classes:
            p = "-" if c.precision is None else f"{c.precision:.2f}"
            r = "-" if c.recall is None else f"{c.recall:.2f}"
            parts.append(f"{c.name}: precision {p} recall {r}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "n": self.n,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "macro_f1": self.macro_f1,
            "class_names": list(self.class_names),
            "per_class": self.per_class(),
            "confusion": self.confusion.tolist(),
        }


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None


def classification_report(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, class_names: Sequence[str]
) -> ClassificationReport:
    """Score integer predictions against integer labels (both in ``[0, len(class_names))``)."""
    k = len(class_names)
    if k < 1:
        raise InvalidInput("class_names is empty")
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 1 or p.shape != t.shape:
        raise InvalidInput(f"y_true and y_pred must be vectors of one length, got {t.shape} and {p.shape}")
    if t.size and (not np.issubdtype(t.dtype, np.integer) or not np.issubdtype(p.dtype, np.integer)):
        raise InvalidInput("labels and predictions must be integer class indices")
    for what, arr in (("labels", t), ("predictions", p)):
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise InvalidInput(f"{what} must be in [0, {k}), got range [{arr.min()}, {arr.max()}]")
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (t.astype(np.int64), p.astype(np.int64)), 1)
    classes = []
    for i, name in enumerate(class_names):
        tp = int(confusion[i, i])
        support, predicted = int(confusion[i].sum()), int(confusion[:, i].sum())
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = None
        if precision is not None and recall is not None:
            f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        classes.append(ClassReport(str(name), precision, recall, f1, support, predicted))
    return ClassificationReport([str(n) for n in class_names], confusion, classes)


def evaluate_predictor(predict: Any, images: Any, labels: Sequence[int] | np.ndarray,
                       class_names: Sequence[str]) -> ClassificationReport:
    """Report of any ``predict(images) -> class indices`` (a :class:`TrainedClassifier`'s ``predict``,
    a baseline, a constant guess) on labelled images."""
    return classification_report(np.asarray(labels), np.asarray(predict(images)), class_names)


# -- drawing ---------------------------------------------------------------------------------------
_BG = (255, 255, 255)
_INK = (20, 20, 20)
_GRID = (200, 200, 200)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:  # Pillow >= 10.1 scales its built-in font; older ones have a fixed 11 px bitmap font
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    """``text`` shortened with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _shade(fraction: float) -> tuple[int, int, int]:
    """White to deep blue by the fraction of the row's images in the cell."""
    f = min(1.0, max(0.0, fraction))
    lo, hi = np.array([247, 251, 255]), np.array([8, 48, 107])
    return tuple(int(v + 0.5) for v in lo + (hi - lo) * f)  # type: ignore[return-value]


def render_confusion(
    confusion: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str],
    *,
    title: str | None = None,
    cell: int | None = None,
) -> Image.Image:
    """The confusion matrix as an RGB image: rows are true classes, columns predicted ones; each
    cell shows its count and is shaded by its share of the row (so recall reads along the diagonal);
    each row ends with the class's recall and each column with its precision."""
    cm = np.asarray(confusion, dtype=np.int64)
    k = len(class_names)
    if cm.shape != (k, k):
        raise InvalidInput(f"confusion matrix must be {k}×{k} for {k} classes, got {cm.shape}")
    if k > 60:
        raise InvalidInput(f"too many classes to draw ({k}; at most 60)")
    cell = cell or max(36, min(96, 720 // max(k, 1)))
    fs = max(11, cell // 4)
    font, small, big = _font(fs), _font(max(10, fs * 3 // 4)), _font(fs + 4)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    names = [str(n) for n in class_names]
    longest = int(max(probe.textlength(n, font=font) for n in names))
    label_w = min(240, longest + 16)
    cell = max(cell, min(160, longest + 12))  # column labels fit their cells up to a point, then shorten
    margin = 12
    title_h = (fs + 4) * 2 + 16 if title else 0
    left = margin + fs + 8 + label_w  # "true" axis caption + row labels
    top = margin + title_h + fs + 8 + fs + 8  # "predicted" caption + column labels
    extra_w = int(probe.textlength("recall", font=small)) + 16
    width = left + k * cell + extra_w + margin
    if title:
        width = max(width, int(probe.textlength(title, font=big)) + 2 * margin)
    height = top + k * cell + fs + 12 + margin
    img = Image.new("RGB", (min(max(width, 320), 2400), height), _BG)
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((margin, margin), _fit(draw, title, big, img.width - 2 * margin), fill=_INK, font=big)
        acc = np.trace(cm) / cm.sum() if cm.sum() else 0.0
        draw.text((margin, margin + fs + 8), f"accuracy {acc:.1%} on {int(cm.sum())} images", fill=_INK,
                  font=font)
    # Axis captions.
    draw.text((left + k * cell / 2, margin + title_h), "predicted", fill=_INK, font=font, anchor="mt")
    caption = Image.new("RGB", (int(probe.textlength("true", font=font)) + 4, fs + 6), _BG)
    ImageDraw.Draw(caption).text((2, 0), "true", fill=_INK, font=font)
    caption = caption.rotate(90, expand=True)
    img.paste(caption, (margin, top + k * cell // 2 - caption.height // 2))
    row_totals = cm.sum(axis=1)
    col_totals = cm.sum(axis=0)
    for j, name in enumerate(names):  # column labels
        cx = left + j * cell + cell // 2
        draw.text((cx, top - 10), _fit(draw, name, font, cell - 4), fill=_INK, font=font, anchor="ms")
    for i, name in enumerate(names):
        y0 = top + i * cell
        draw.text((left - 8, y0 + cell // 2), _fit(draw, name, font, label_w - 8), fill=_INK, font=font,
                  anchor="rm")
        for j in range(k):
            x0 = left + j * cell
            frac = cm[i, j] / row_totals[i] if row_totals[i] else 0.0
            fill = _shade(frac)
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=fill, outline=_GRID)
            ink = (255, 255, 255) if frac > 0.5 else _INK
            draw.text((x0 + cell // 2, y0 + cell // 2), str(int(cm[i, j])), fill=ink, font=font, anchor="mm")
        recall = f"{cm[i, i] / row_totals[i]:.0%}" if row_totals[i] else "-"
        draw.text((left + k * cell + 8, y0 + cell // 2), recall, fill=_INK, font=small, anchor="lm")
    draw.text((left + k * cell + 8, top - 6), "recall", fill=_INK, font=small, anchor="lb")
    by = top + k * cell + 6
    draw.text((left - 8, by), "precision", fill=_INK, font=small, anchor="rt")
    for j in range(k):
        precision = f"{cm[j, j] / col_totals[j]:.0%}" if col_totals[j] else "-"
        draw.text((left + j * cell + cell // 2, by), precision, fill=_INK, font=small, anchor="mt")
    return img
