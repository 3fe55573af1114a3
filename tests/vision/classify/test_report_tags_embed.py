"""Evaluation (confusion matrix, precision/recall, the quality gate and its picture), tag proposals,
embeddings and best-epoch selection, on hand-made cases and on skimage's lfw_subset (faces vs not)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.data import lfw_subset

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.classify import (
    Augment,
    ClassifierConfig,
    CompactCNN,
    TrainedClassifier,
    train_classifier,
)
from reelforge.vision.classify.data import square_images
from reelforge.vision.classify.embed import cosine_rank, embed_images
from reelforge.vision.classify.report import classification_report, evaluate_predictor, render_confusion
from reelforge.vision.classify.tags import PROPOSALS_FORMAT, propose_tags, read_proposals, select_proposals
from reelforge.vision.classify.train import stratified_split

torch.set_num_threads(1)

NAMES = ["face", "non-face"]


@pytest.fixture(scope="module")
def lfw() -> tuple[np.ndarray, np.ndarray]:
    """200 grey 25×25 images as uint8 (N, 32, 32, 1): the first 100 faces, the rest not."""
    x = (lfw_subset() * 255).round().astype(np.uint8)
    return square_images(list(x), 32), np.repeat([0, 1], 100)


@pytest.fixture(scope="module")
def splits(lfw: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    _, y = lfw
    rest, test = stratified_split(y, 0.15, seed=1)
    train_rel, val_rel = stratified_split(y[rest], 0.18, seed=2)
    return {"train": rest[train_rel], "val": rest[val_rel], "test": test}


def _config(width: int = 8, depth: int = 3) -> ClassifierConfig:
    return ClassifierConfig(num_classes=2, resolution=32, channels=1, width=width, depth=depth, class_names=NAMES)


@pytest.fixture(scope="module")
def trained(lfw, splits) -> TrainedClassifier:
    x, y = lfw
    tr, va = splits["train"], splits["val"]
    return train_classifier(x[tr], y[tr], _config(), epochs=12, batch_size=32, lr=5e-3, seed=0,
                            augment=Augment(hflip=True, crop_pad=2), val_images=x[va], val_labels=y[va],
                            select="best")


# -- report ----------------------------------------------------------------------------------------
def test_confusion_precision_recall_on_a_hand_made_case() -> None:
    # 3 classes; class 2 never predicted correctly, class 1 predicted for 5 images of which 3 right.
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 1, 1, 0, 1]
    r = classification_report(y_true, y_pred, ["cat", "dog", "bird"])
    assert r.confusion.tolist() == [[3, 1, 0], [0, 3, 0], [1, 2, 0]]
    assert r.n == 10 and r.accuracy == pytest.approx(0.6)
    cat, dog, bird = r.classes
    assert (cat.precision, cat.recall) == (pytest.approx(3 / 4), pytest.approx(3 / 4))
    assert (dog.precision, dog.recall) == (pytest.approx(3 / 6), pytest.approx(1.0))
    assert dog.f1 == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    # Never predicted: precision is undefined (None), not 0; recall is 0.
    assert bird.precision is None and bird.recall == 0.0 and bird.support == 3 and bird.predicted == 0
    assert r.balanced_accuracy == pytest.approx((0.75 + 1.0 + 0.0) / 3)
    d = r.to_dict()
    assert d["per_class"]["dog"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 3,
                                     "predicted": 6}
    assert d["confusion"] == r.confusion.tolist()
    assert "bird: precision - recall 0.00" in r.summary()
    with pytest.raises(InvalidInput, match=r"predictions must be in \[0, 3\)"):
        classification_report([0, 1], [0, 3], ["cat", "dog", "bird"])
    with pytest.raises(InvalidInput, match="one length"):
        classification_report([0, 1], [0], ["cat", "dog"])


def test_quality_gate_passes_the_trained_model_and_fails_bad_ones(trained, lfw, splits) -> None:
    x, y = lfw
    te = splits["test"]
    good = evaluate_predictor(trained.predict, x[te], y[te], NAMES)
    assert good.passes(0.9), good.summary()
    # A constant guess: half right on this balanced test set, so the >= 90% gate fails.
    constant = evaluate_predictor(lambda imgs: np.zeros(len(imgs), dtype=np.int64), x[te], y[te], NAMES)
    assert constant.accuracy == pytest.approx(0.5) and not constant.passes(0.9)
    assert constant.classes[1].precision is None and constant.classes[1].recall == 0.0
    # An untrained network (seeded init, no steps) is no better than chance either.
    net = CompactCNN(_config())
    net.init_weights(torch.Generator().manual_seed(0))
    untrained = evaluate_predictor(TrainedClassifier(_config(), net).predict, x[te], y[te], NAMES)
    assert untrained.accuracy <= 0.75 and not untrained.passes(0.9), untrained.summary()
    assert not classification_report([], [], NAMES).passes(0.0)  # an empty test set proves nothing


def test_confusion_matrix_image_shows_counts_and_shading(tmp_path) -> None:
    cm = np.array([[8, 1, 1], [2, 5, 0], [0, 3, 9]])
    img = render_confusion(cm, ["cat", "dog", "establishing shot"], title="hand-made case")
    assert img.mode == "RGB" and img.width >= 320 and img.height >= 200
    img.save(tmp_path / "cm.png")
    back = np.asarray(Image.open(tmp_path / "cm.png"))
    # The darkest pixels are the diagonal cells' fill (8/10 and 9/12 of their rows); zero cells stay light.
    assert back.min() < 120 and (back.reshape(-1, 3).mean(axis=1) > 240).mean() > 0.3
    # Wider class names make a wider picture; two classes still render.
    small = render_confusion([[15, 0], [0, 15]], ["face", "non-face"])
    assert small.width < img.width
    with pytest.raises(InvalidInput, match="must be 3×3"):
        render_confusion(np.eye(2, dtype=int), ["a", "b", "c"])


def test_confusion_matrix_cells_hold_their_counts() -> None:
    """Each cell's fill follows its share of the row: a full row is darkest, an empty cell white-ish."""
    img = np.asarray(render_confusion([[10, 0], [5, 5]], ["a", "b"], cell=60)).astype(int)
    full = (np.abs(img - [8, 48, 107]) <= 2).all(axis=2)  # the fill of a cell holding its whole row
    half = (np.abs(img - [128, 150, 181]) <= 2).all(axis=2)  # half the row
    ys, xs = np.nonzero(full)
    # One full cell (10 of 10, top left) about 60 px square less its "10"; two half cells (row b).
    assert 50 < xs.max() - xs.min() < 62 and 50 < ys.max() - ys.min() < 62 and full.sum() > 2500
    hy, hx = np.nonzero(half)
    assert hy.min() > ys.max() and 110 < hx.max() - hx.min() < 122 and half.sum() > 5000


# -- tags ------------------------------------------------------------------------------------------
def test_tag_proposals_with_confidences_and_thresholds() -> None:
    proba = np.array([[0.95, 0.05], [0.40, 0.60], [0.5, 0.5]])
    top1 = propose_tags(proba, NAMES, tag_prefix="class:")
    assert [[(t.label, t.tag, round(t.confidence, 2)) for t in row] for row in top1] == [
        [("face", "class:face", 0.95)], [("non-face", "class:non-face", 0.6)], [("face", "class:face", 0.5)]]
    both = propose_tags(proba, NAMES, top_k=2)
    assert [t.label for t in both[1]] == ["non-face", "face"] and both[1][0].tag == "non-face"
    sure = propose_tags(proba, NAMES, min_confidence=0.7)
    assert [len(row) for row in sure] == [1, 0, 0]
    with pytest.raises(InvalidInput, match=r"\(N, 2\)"):
        propose_tags(proba[:, :1], NAMES)

    doc = {"format": PROPOSALS_FORMAT, "assets": [
        {"asset": f"ast_{i}", "name": f"{i}.png", "proposals": [t.to_dict() for t in row]}
        for i, row in enumerate(both)]}
    picked = select_proposals(doc, min_confidence=0.6)
    assert [(a.asset, a.tag, a.confidence) for a in picked] == [("ast_0", "face", 0.95), ("ast_1", "non-face", 0.6)]
    assert [a.asset for a in select_proposals(doc, min_confidence=0.0, only=["face"])] == ["ast_0", "ast_1", "ast_2"]
    assert select_proposals(doc, min_confidence=0.99) == []
    with pytest.raises(InvalidInput, match="no label 'cat'"):
        select_proposals({**doc, "class_names": NAMES}, min_confidence=0.5, only=["cat"])
    with pytest.raises(InvalidInput, match="not a tag-proposals document"):
        read_proposals({"assets": []})
    with pytest.raises(InvalidInput, match="malformed"):
        read_proposals({"format": PROPOSALS_FORMAT, "assets": [{"asset": "ast_1", "proposals": [{"tag": 3}]}]})


# -- embeddings ------------------------------------------------------------------------------------
def test_cosine_rank_on_hand_made_vectors() -> None:
    bank = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [-1, 0, 0], [2, 0.1, 0]], dtype=np.float32)
    order, scores = cosine_rank(np.array([1, 0, 0]), bank)
    assert order.tolist() == [0, 4, 2, 1, 3]
    assert scores[0] == pytest.approx(1.0) and scores[-1] == pytest.approx(-1.0)
    assert scores[2] == pytest.approx(1 / np.sqrt(2))
    top2, _ = cosine_rank(np.array([[0, 1, 0], [1, 0, 0]]), bank, k=2)
    assert top2.tolist() == [[1, 2], [0, 4]]
    with pytest.raises(InvalidInput, match="4 features but the bank has 3"):
        cosine_rank(np.ones(4), bank)


def test_embeddings_rank_a_flipped_or_shifted_copy_first(trained, lfw) -> None:
    x, _ = lfw
    raw = (lfw_subset() * 255).round().astype(np.uint8)
    queries = list(range(0, 200, 10))
    flipped = square_images([raw[q][:, ::-1] for q in queries], 32)
    shifted = square_images([np.roll(raw[q], (1, 2), axis=(0, 1)) for q in queries], 32)
    ranks: dict[str, list[int]] = {"all": [], "penultimate": []}
    for layers in ranks:
        feats = embed_images(trained, np.concatenate([x, flipped, shifted]), layers=layers)
        base, flips, shifts = feats[:200], feats[200:220], feats[220:]
        for j, q in enumerate(queries):
            for dup in (flips[j], shifts[j]):
                bank = np.concatenate([np.delete(base, q, axis=0), dup[None]])
                order, _ = cosine_rank(base[q], bank)
                ranks[layers].append(int(np.flatnonzero(order == len(bank) - 1)[0]) + 1)
    every = np.array(ranks["all"])
    # The copy is usually the best match of 200 images, nearly always in the top 5, never far down.
    assert np.median(every) == 1 and (every <= 5).mean() >= 0.85 and every.max() <= 25, every
    # The penultimate layer alone sees mostly the class: it ranks copies worse (why "all" is the default).
    assert np.mean(ranks["penultimate"]) > every.mean(), ranks
    with pytest.raises(InvalidInput, match="layers"):
        embed_images(trained, x[:2], layers="head")


# -- best-epoch selection with an explicit val set, and resume -----------------------------------------
def test_select_best_on_explicit_val_set_and_resume_picks_the_same(lfw, splits) -> None:
    x, y = lfw
    tr, va = splits["train"], splits["val"]
    kw: dict[str, Any] = {"epochs": 5, "batch_size": 32, "lr": 5e-3, "seed": 4, "select": "best",
                          "val_images": x[va], "val_labels": y[va], "augment": Augment(crop_pad=2)}
    cfg = _config(width=4, depth=2)
    full = train_classifier(x[tr], y[tr], cfg, **kw)
    assert full.val_metrics is not None and full.val_metrics["n"] == len(va) and full.val_metrics["n_train"] == len(tr)
    best = max(full.history, key=lambda h: (h["val_accuracy"], -h["val_loss"], h["epoch"]))
    assert full.val_metrics["selected_epoch"] == best["epoch"]
    assert full.val_metrics["accuracy"] == pytest.approx(best["val_accuracy"])
    saved: list[dict[str, Any]] = []
    calls = {"n": 0}

    def stop_late() -> bool:
        calls["n"] += 1
        return calls["n"] > 13  # after the 3rd epoch's validation (4 steps an epoch)

    with pytest.raises(Cancelled):
        train_classifier(x[tr], y[tr], cfg, should_stop=stop_late, checkpoint=saved.append, **kw)
    assert "best_model" in saved[-1]
    resumed = train_classifier(x[tr], y[tr], cfg, state=saved[-1], **kw)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert resumed.val_metrics == full.val_metrics
    with pytest.raises(InvalidInput, match="select="):
        train_classifier(x[tr], y[tr], cfg, state=saved[-1], **{**kw, "select": "last"})
    with pytest.raises(InvalidInput, match="both val_images and val_labels"):
        train_classifier(x[tr], y[tr], cfg, steps=1, val_images=x[va])
