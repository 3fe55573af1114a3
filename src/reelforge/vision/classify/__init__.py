"""Small image classifiers: trained on a studio's labelled images, used to score GAN samples per
requested class and to propose tags for assets. Pure library: numpy/torch in, numpy out.

Names load on first use (PEP 562), so ``reelforge.vision.classify.tags`` (the tag-proposal format
the command line reads) does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.vision.classify.data import Augment, ImageBatch, to_float_nchw
    from reelforge.vision.classify.embed import cosine_rank, embed_images
    from reelforge.vision.classify.model import ClassifierConfig, CompactCNN
    from reelforge.vision.classify.report import ClassificationReport, classification_report, render_confusion
    from reelforge.vision.classify.tags import TagProposal, propose_tags, select_proposals
    from reelforge.vision.classify.train import TrainedClassifier, train_classifier

_EXPORTS = {
    "Augment": "data",
    "ImageBatch": "data",
    "to_float_nchw": "data",
    "cosine_rank": "embed",
    "embed_images": "embed",
    "ClassifierConfig": "model",
    "CompactCNN": "model",
    "ClassificationReport": "report",
    "classification_report": "report",
    "render_confusion": "report",
    "TagProposal": "tags",
    "propose_tags": "tags",
    "select_proposals": "tags",
    "TrainedClassifier": "train",
    "train_classifier": "train",
}

__all__ = [
    "Augment",
    "ClassificationReport",
    "ClassifierConfig",
    "CompactCNN",
    "ImageBatch",
    "TagProposal",
    "TrainedClassifier",
    "classification_report",
    "cosine_rank",
    "embed_images",
    "propose_tags",
    "render_confusion",
    "select_proposals",
    "to_float_nchw",
    "train_classifier",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
