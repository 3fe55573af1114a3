"""Classification tasks: classify.train (a classifier from a labelled dataset, judged on its test split),
classify.apply (tag proposals for assets, never applied here: a person accepts them) and
classify.similar (assets ranked by the network's embeddings)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from reelforge.catalog.entities import Asset
    from reelforge.compute.context import DatasetInputItem, ModelInput


def _prepared(ctx: TaskContext, paths: list[Path], resolution: int, what: str) -> np.ndarray:
    """Images decoded under the studio's limits (JPEGs at a reduced DCT scale: only a few pixels are
    needed) as one uint8 (N, res, res, 3) batch, prepared as the classifier trains and predicts."""
    import numpy as np

    from reelforge.media import thumbnail_image
    from reelforge.vision.classify.data import square_images

    size = max(64, 2 * resolution)
    out = []
    for i, path in enumerate(paths):
        ctx.check_cancelled()
        out.append(np.asarray(thumbnail_image(path, size, ctx.limits)))
        if i % 50 == 0:
            ctx.progress(i, len(paths), f"decoding {what} {i + 1}/{len(paths)}")
    return square_images(out, resolution)


def _tag_prefix(label_from: str | None) -> str:
    """Labels read from tags ``class:cat`` give proposals of the same form, so accepted ones feed the next version."""
    return label_from[4:] if label_from and label_from.startswith("tag:") else ""


# -- train -----------------------------------------------------------------------------------------
class TrainParams(Params):
    dataset: str = Field(description="labelled dataset of images (NAME, NAME@N or id): trains on the train split, "
                         "keeps the epoch that scores best on val, reports on test")
    name: str = Field("classifier", description="registry name of the trained model")
    resolution: int = Field(32, ge=8, le=256, description="side in pixels the images are resized to (centre square)")
    channels: Literal["auto", "grey", "rgb"] = Field("auto", description="auto: grey when every image is grey")
    width: int = Field(16, ge=4, le=256, description="channels of the first convolution stage")
    depth: int = Field(3, ge=1, le=6, description="convolution stages (each halves the resolution)")
    epochs: int = Field(30, ge=1, le=10_000, description="passes over the train split")
    batch_size: int = Field(32, ge=1, le=1024, description="images per training step")
    lr: float = Field(3e-3, gt=0, le=1, description="peak learning rate (AdamW, warm-up then cosine decay)")
    hflip: bool = Field(True, description="augment with horizontal flips (off for text, digits, asymmetric classes)")
    crop_pad: int = Field(2, ge=0, le=64, description="augment with random shifts of up to this many pixels")
    select: Literal["best", "last"] = Field("best", description="keep the epoch with the best val accuracy, "
                                            "or the last epoch")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="quality gate: the result says whether "
                                       "test accuracy reaches this, and a miss is logged as a warning")
    threads: int | None = Field(None, ge=1, le=256, description="CPU threads (default: the worker's share)")
    checkpoint_every: int = Field(200, ge=1, description="save a resumable checkpoint every this many steps")


def _labelled(ctx: TaskContext, items: list[DatasetInputItem], ref: str) -> tuple[list[DatasetInputItem], list[str]]:
    """The image items and the class names, checked before anything is decoded or trained."""
    images = [it for it in items if it.asset.kind == "image"]
    if not images:
        raise InvalidInput(f"dataset {ref} has no images")
    if len(images) < len(items):
        ctx.log(f"{len(items) - len(images)} non-image items of {ref} left out")
    unlabelled = [it for it in images if not it.label]
    if unlabelled:
        raise InvalidInput(f"{len(unlabelled)} images of {ref} have no label (first: {unlabelled[0].asset.name}); "
                           "make the dataset with a label source (folder, tag:PREFIX or meta:KEY)")
    names = sorted({str(it.label) for it in images})
    if len(names) < 2:
        raise InvalidInput(f"dataset {ref} has one class ({names[0]}): a classifier needs at least two")
    missing = sorted(set(names) - {str(it.label) for it in images if it.split == "train"})
    if missing:
        raise InvalidInput(f"no training images of class {', '.join(missing)} in {ref}")
    if not any(it.split in ("val", "test") for it in images):
        raise InvalidInput(f"dataset {ref} has no val or test images to judge the classifier on "
                           "(make it with splits such as 0.7,0.15,0.15)")
    return images, names


@task(
    "classify.train",
    params=TrainParams,
    inputs={"dataset": "dataset"},
    outputs=("model:classifier", "asset:image", "asset:json"),
    resources=Resources(cpus=2, gpus=1, memory_gb=2),
    resumable=True,
    description="Train an image classifier on a labelled dataset (train split; best epoch on val) and report "
                "accuracy, per-class precision and recall and a confusion matrix on the test split",
)
def train(ctx: TaskContext, p: TrainParams) -> None:
    import numpy as np

    from reelforge.vision.classify import Augment, ClassifierConfig, train_classifier
    from reelforge.vision.classify.report import classification_report, render_confusion
    from reelforge.vision.gan.presets import is_grey

    threads = ctx.set_threads(p.threads)
    ds = ctx.dataset(p.dataset)
    ref = ds.version.ref
    images, names = _labelled(ctx, ds.items, ref)
    config = ClassifierConfig(num_classes=len(names), resolution=p.resolution, channels=3, width=p.width,
                              depth=p.depth, class_names=names)  # validated before any decoding
    arrays = _prepared(ctx, [it.path for it in images], p.resolution, "images")
    grey = p.channels == "grey" or (p.channels == "auto" and is_grey(arrays))
    config.channels = 1 if grey else 3
    y = np.array([names.index(str(it.label)) for it in images], dtype=np.int64)
    split = np.array([it.split for it in images])
    train_mask, val_mask, test_mask = (split == s for s in ("train", "val", "test"))
    held = "test" if test_mask.any() else "val"
    if held == "val":
        ctx.log(f"{ref} has no test images: reporting on the val split, which also picked the epoch", "warning")
    if not val_mask.any():
        ctx.log(f"{ref} has no val images: holding out 10% of the train split to pick the epoch", "warning")
    val = {"val_images": arrays[val_mask], "val_labels": y[val_mask]} if val_mask.any() else {"val_fraction": 0.1}
    ctx.log(f"{int(train_mask.sum())} train, {int(val_mask.sum())} val, {int(test_mask.sum())} test images; "
            f"{len(names)} classes; {'grey' if grey else 'RGB'} {p.resolution}px; {threads} threads; {ctx.device}")
    clf = train_classifier(
        arrays[train_mask], y[train_mask], config, epochs=p.epochs, batch_size=p.batch_size, lr=p.lr,
        seed=ctx.seed, augment=Augment(hflip=p.hflip, crop_pad=p.crop_pad), device=ctx.device, select=p.select,
        progress=ctx.progress, on_metric=ctx.metric, should_stop=ctx.should_stop,
        checkpoint=ctx.checkpoint, checkpoint_every=p.checkpoint_every, state=ctx.restore(), **val,
    )
    held_mask = test_mask if held == "test" else val_mask
    report = classification_report(y[held_mask], clf.predict(arrays[held_mask]), names)
    ctx.log(f"{held}: {report.summary()}")
    val_acc = (clf.val_metrics or {}).get("accuracy")
    metrics: dict[str, Any] = {"accuracy": report.accuracy, "val_accuracy": val_acc,
                               "balanced_accuracy": report.balanced_accuracy, f"{held}_images": report.n}
    for c in report.classes:
        metrics[f"precision/{c.name}"] = c.precision
        metrics[f"recall/{c.name}"] = c.recall
    out = ctx.workdir / "model"
    clf.save(out)
    label_from = ds.version.spec.get("label_from")
    model = ctx.save_model(
        p.name, {f.name: f for f in out.iterdir() if f.is_file()}, kind="classifier",
        config={"classifier": config.to_dict(), "class_names": names, "dataset": ds.id, "label_from": label_from,
                "tag_prefix": _tag_prefix(label_from), "select": p.select, "evaluated_on": held,
                "selected_epoch": (clf.val_metrics or {}).get("selected_epoch"), "threads": threads},
        metrics=metrics,
    )
    base = f"evaluations/{model.name}_v{model.version}"
    image = render_confusion(report.confusion, names, title=f"{model.ref} on {ref} ({held} split)")
    cm = ctx.save_image(image, f"{base}_confusion.png", record={"kind": "confusion-matrix", "model": model.id},
                        tags=["confusion-matrix", "evaluation"], meta={"model": model.id, "dataset": ds.id})
    doc = {**report.to_dict(), "model": model.id, "model_ref": model.ref, "dataset": ds.id, "dataset_ref": ref,
           "evaluated_on": held, "confusion_image": cm.id, "val": clf.val_metrics, "history": clf.history}
    rep = ctx.save_asset(json.dumps(doc, indent=2).encode(), f"{base}_report.json", tags=["evaluation"],
                         meta={"model": model.id, "dataset": ds.id})
    ctx.result.update({"model": model.id, "evaluated_on": held, held: report.to_dict(), "val_accuracy": val_acc,
                       "confusion_image": cm.id, "report": rep.id})
    if p.min_accuracy is not None:
        passed = report.passes(p.min_accuracy)
        ctx.result["quality"] = {"min_accuracy": p.min_accuracy, "passed": passed}
        if not passed:
            ctx.log(f"{held} accuracy {report.accuracy:.3f} is below the gate {p.min_accuracy}", "warning")


# -- shared: model and asset selection ------------------------------------------------------------
def _classifier(ctx: TaskContext, ref: str) -> tuple[ModelInput, Any]:
    from reelforge.vision.classify import TrainedClassifier

    m = ctx.model(ref)
    if m.model.kind != "classifier":
        raise InvalidInput(f"model {m.model.ref} is a {m.model.kind}, not a classifier")
    return m, TrainedClassifier.load(m.dir, device=ctx.device)


def _chosen(ctx: TaskContext, ids: list[str], tags: list[str], name: str | None,
            include_outputs: bool) -> list[Asset]:
    """Assets by id (each must be an image), else the project's images that match the filter."""
    if ids:
        chosen = [ctx.asset(ref).asset for ref in dict.fromkeys(ids)]
        bad = [a for a in chosen if a.kind != "image"]
        if bad:
            raise InvalidInput(f"asset {bad[0].id} ({bad[0].name}) is {bad[0].kind}, not an image")
        return chosen
    found = ctx.find_assets(kind="image", tags=tags, name=name)
    if not include_outputs:  # sample grids, confusion matrices: what jobs made is not the user's material
        found = [a for a in found if not a.created_by_job]
    return found


class ApplyParams(Params):
    model: str = Field(description="classifier model (NAME, NAME@N or id)")
    assets: list[str] = Field(default_factory=list, max_length=100_000,
                              description="asset ids or names to classify (default: those the filter selects)")
    kind: Literal["image"] = Field("image", description="kind of assets the filter selects (images only)")
    tags: list[str] = Field(default_factory=list, description="filter: assets with all of these tags")
    name: str | None = Field(None, description="filter: asset names matching this glob")
    include_outputs: bool = Field(False, description="filter: also images that jobs made (sample grids, charts)")
    top_k: int = Field(1, ge=1, le=100, description="propose up to this many labels per asset, most likely first")
    min_confidence: float = Field(0.0, ge=0, le=1, description="leave out proposals less probable than this")
    tag_prefix: str | None = Field(None, max_length=100, description="prefix of proposed tags (default: the one "
                                   "the training labels came from, e.g. class:)")


@task(
    "classify.apply",
    params=ApplyParams,
    inputs={"model": "model", "assets": "assets"},
    outputs=("asset:json",),
    resources=Resources(cpus=1, gpus=1),
    description="Propose tags for images with a classifier: the top labels with confidences, written as a "
                "proposals JSON that `reelforge classify accept` applies above a threshold",
)
def apply(ctx: TaskContext, p: ApplyParams) -> None:
    from collections import Counter

    from reelforge.vision.classify.tags import PROPOSALS_FORMAT, propose_tags

    ctx.set_threads(None)
    m, clf = _classifier(ctx, p.model)
    chosen = _chosen(ctx, p.assets, p.tags, p.name, p.include_outputs)
    if not chosen:
        raise InvalidInput("no images to classify (the filter selects none)")
    prefix = p.tag_prefix if p.tag_prefix is not None else str(m.model.config.get("tag_prefix") or "")
    paths = [ctx.asset(a.id).path for a in chosen]
    arrays = _prepared(ctx, paths, clf.config.resolution, "images")
    ctx.progress(0, 1, "classifying")
    proba = clf.predict_proba(arrays)
    proposals = propose_tags(proba, clf.class_names, top_k=min(p.top_k, len(clf.class_names)),
                             min_confidence=p.min_confidence, tag_prefix=prefix)
    entries = [{"asset": a.id, "name": a.name, "current_tags": list(a.tags),
                "proposals": [t.to_dict() for t in props]} for a, props in zip(chosen, proposals, strict=True)]
    doc = {"format": PROPOSALS_FORMAT, "model": m.id, "model_ref": m.model.ref, "class_names": clf.class_names,
           "tag_prefix": prefix, "top_k": p.top_k, "min_confidence": p.min_confidence, "assets": entries}
    out = ctx.save_asset(json.dumps(doc, indent=2).encode(), f"proposals/{m.model.name}_v{m.model.version}_"
                         f"{ctx.job_id}.json", tags=["tag-proposals"], meta={"model": m.id})
    top = Counter(props[0].label for props in proposals if props)
    ctx.result.update({"proposals": out.id, "assets": len(chosen), "top_labels": dict(sorted(top.items())),
                       "without_proposal": sum(1 for props in proposals if not props)})


class SimilarParams(Params):
    model: str = Field(description="classifier model whose embeddings compare the images (NAME, NAME@N or id)")
    query: str = Field(description="the image asset to find look-alikes of (id or name)")
    k: int = Field(10, ge=1, le=1000, description="how many of the most similar images to list")
    tags: list[str] = Field(default_factory=list, description="search only images with all of these tags")
    name: str | None = Field(None, description="search only images whose names match this glob")
    include_outputs: bool = Field(False, description="also search images that jobs made (sample grids, charts)")
    sheet: bool = Field(True, description="also save a contact strip: the query, then the matches with scores")


@task(
    "classify.similar",
    params=SimilarParams,
    inputs={"model": "model", "query": "asset"},
    outputs=("asset:image",),
    resources=Resources(cpus=1, gpus=1),
    description="Rank the project's images by cosine similarity to a query image in a classifier's "
                "embedding space (near-duplicates, alternate takes, look-alikes)",
)
def similar(ctx: TaskContext, p: SimilarParams) -> None:
    from reelforge.vision.classify.embed import cosine_rank, embed_images

    ctx.set_threads(None)
    m, clf = _classifier(ctx, p.model)
    query = ctx.asset(p.query)
    if query.kind != "image":
        raise InvalidInput(f"asset {query.id} ({query.name}) is {query.kind}, not an image")
    pool = [a for a in _chosen(ctx, [], p.tags, p.name, p.include_outputs) if a.id != query.id]
    if not pool:
        raise InvalidInput("no other images to compare with (the filter selects none)")
    res = clf.config.resolution
    paths = [query.path] + [ctx.asset(a.id).path for a in pool]
    arrays = _prepared(ctx, paths, res, "images")
    features = embed_images(clf, arrays, should_stop=ctx.should_stop)
    order, scores = cosine_rank(features[0], features[1:], k=p.k)
    results = [{"asset": pool[i].id, "name": pool[i].name, "score": round(float(s), 6)}
               for i, s in zip(order, scores, strict=True)]
    ctx.result.update({"query": query.id, "model": m.id, "searched": len(pool), "results": results})
    if p.sheet:
        from PIL import Image

        from reelforge.media import contact_sheet, thumbnail_image

        def cell(path: Path) -> Image.Image:  # small images (icons, 25 px faces) enlarged to be seen
            im = thumbnail_image(path, 128, ctx.limits)
            scale = 128 / max(im.size)
            return im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)

        cells = [(cell(paths[0]), f"query {query.name}")]
        cells += [(cell(paths[1 + int(i)]), f"{r['score']:.3f} {r['name']}")
                  for i, r in zip(order, results, strict=True)]
        strip = contact_sheet(cells, columns=min(len(cells), 11), cell=128,
                              title=f"similar to {query.name} ({m.model.ref})")
        ctx.result["sheet"] = ctx.save_image(strip, f"similar/{ctx.job_id}.png",
                                             record={"kind": "similar", "query": query.id, "model": m.id},
                                             tags=["similar-search"]).id
