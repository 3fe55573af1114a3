"""Media tasks: web proxies, contact sheets and perceptual fingerprints of datasets."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, model_validator

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput


class ProxyParams(Params):
    asset: str = Field(description="image or video asset to make a proxy of")
    max_side: int = Field(1280, ge=64, le=8192, description="image proxies: longest side in pixels")
    quality: int = Field(85, ge=30, le=100, description="image proxies: JPEG quality")
    height: int = Field(360, ge=64, le=2160, description="video proxies: frame height (even)")
    crf: int = Field(28, ge=10, le=45, description="video proxies: H.264 constant rate factor")


@task(
    "media.proxy",
    params=ProxyParams,
    inputs={"asset": "asset"},
    outputs=("asset:image", "asset:video"),
    description="Web-size JPEG of an image, or a low-resolution H.264 MP4 of a video",
)
def proxy(ctx: TaskContext, p: ProxyParams) -> None:
    from reelforge.media import image_proxy, video_proxy

    src = ctx.asset(p.asset)
    stem = Path(src.name).with_suffix("").as_posix()
    if src.kind == "image":
        dst = ctx.workdir / "proxy.jpg"
        ctx.progress(0, 1, "encoding JPEG")
        image_proxy(src.path, dst, max_side=p.max_side, quality=p.quality)
        out = ctx.save_asset(dst, f"proxies/{stem}.jpg", tags=["proxy"], meta={"proxy_of": src.id})
        ctx.progress(1, 1, "done")
    elif src.kind == "video":
        dst = ctx.workdir / "proxy.mp4"
        video_proxy(
            src.path, dst, height=p.height - p.height % 2, crf=p.crf,
            progress=lambda d, t, m: ctx.progress(d, t, m or "encoding H.264"),
            should_stop=ctx.should_stop,
        )
        ctx.check_cancelled()
        out = ctx.save_asset(dst, f"proxies/{stem}.mp4", tags=["proxy"], meta={"proxy_of": src.id})
    else:
        raise InvalidInput(f"asset {src.id} is {src.kind}; proxies are made of images and videos")
    ctx.result["proxy"] = out.id


class ContactSheetParams(Params):
    dataset: str | None = Field(None, description="dataset (NAME, NAME@N or id) to lay out")
    assets: list[str] = Field(default_factory=list, description="or: explicit image/video assets")
    split: str | None = Field(None, description="only this split of the dataset")
    columns: int | None = Field(None, ge=1, le=64, description="columns of the grid (None: about square)")
    cell: int = Field(160, ge=32, le=1024, description="cell size in pixels")
    max_items: int = Field(400, ge=1, le=5000, description="at most this many items on the sheet")
    title: str | None = Field(None, description="title printed above the grid")
    label: str = Field("auto", description="auto (dataset label, else name), name, label or none")

    @model_validator(mode="after")
    def _one_source(self) -> ContactSheetParams:
        if (self.dataset is None) == (not self.assets):
            raise ValueError("give either a dataset or a list of assets")
        return self


@task(
    "media.contact_sheet",
    params=ContactSheetParams,
    inputs={"dataset": "dataset", "assets": "assets"},
    outputs=("asset:image",),
    description="A labelled grid image of a dataset or a set of assets",
)
def contact_sheet(ctx: TaskContext, p: ContactSheetParams) -> None:
    from reelforge.media import contact_sheet as make_sheet
    from reelforge.media import load_image, poster_frame_bytes

    entries: list[tuple[Path, str, str]] = []  # path, kind, label
    if p.dataset:
        ds = ctx.dataset(p.dataset)
        items = ds.split(p.split) if p.split else ds.items
        for it in items:
            lab = it.label if p.label in ("auto", "label") and it.label else Path(it.asset.name).name
            entries.append((it.path, it.asset.kind, lab if p.label != "none" else ""))
        title = p.title or f"{ds.version.ref} ({len(items)} items{', ' + p.split if p.split else ''})"
        stem = ds.version.ref.replace("@", "_v") + (f"_{p.split}" if p.split else "")
    else:
        for ref in p.assets:
            a = ctx.asset(ref)
            entries.append((a.path, a.kind, Path(a.name).name if p.label != "none" else ""))
        title = p.title or f"{len(entries)} assets"
        stem = f"assets_{ctx.job_id}"
    entries = [e for e in entries if e[1] in ("image", "video")]
    if not entries:
        raise InvalidInput("nothing to lay out: no image or video assets")
    if len(entries) > p.max_items:
        ctx.log(f"showing the first {p.max_items} of {len(entries)} items")
        entries = entries[: p.max_items]
    limits = ctx.limits
    cells = []
    import io

    from PIL import Image

    for i, (path, kind, lab) in enumerate(entries):
        ctx.check_cancelled()
        if kind == "image":
            img = load_image(path, limits, mode="RGB")
            img.thumbnail((p.cell, p.cell))
        else:
            img = Image.open(io.BytesIO(poster_frame_bytes(path, p.cell, limits))).convert("RGB")
        cells.append((img, lab))
        ctx.progress(i + 1, len(entries) + 1, "thumbnails")
    sheet = make_sheet(cells, columns=p.columns, cell=p.cell, title=title)
    out = ctx.save_image(sheet, f"contact_sheets/{stem}.png",
                         source_type="composite", tags=["contact-sheet"])
    ctx.progress(len(entries) + 1, len(entries) + 1, "done")
    ctx.result["contact_sheet"] = out.id


class FingerprintParams(Params):
    dataset: str = Field(description="dataset whose images to fingerprint")
    threshold: int = Field(6, ge=0, le=32, description="max Hamming distance of near-duplicates")
    checkpoint_every: int = Field(25, ge=1, le=100_000, description="save progress every this many images")


@task(
    "media.fingerprint",
    params=FingerprintParams,
    inputs={"dataset": "dataset"},
    outputs=("asset:json",),
    resumable=True,
    resources=Resources(cpus=1),
    description="Perceptual hashes of a dataset's images and groups of near-duplicates (resumable)",
)
def fingerprint(ctx: TaskContext, p: FingerprintParams) -> None:
    from reelforge.media import dhash, near_duplicate_groups

    ds = ctx.dataset(p.dataset)
    items = [it for it in ds.items if it.asset.kind == "image"]
    if not items:
        raise InvalidInput(f"dataset {ds.version.ref} has no images")
    state = ctx.restore() or {"done": 0, "hashes": {}}
    hashes: dict[str, str] = dict(state["hashes"])
    start = int(state["done"])
    if start:
        ctx.log(f"resuming at item {start} of {len(items)}")
    for i in range(start, len(items)):
        ctx.check_cancelled()
        it = items[i]
        hashes[it.asset.id] = f"{dhash(it.path, ctx.limits):016x}"
        ctx.progress(i + 1, len(items), it.asset.name)
        if (i + 1) % p.checkpoint_every == 0 and i + 1 < len(items):
            ctx.checkpoint({"done": i + 1, "hashes": hashes})
    dupes = near_duplicate_groups({k: int(v, 16) for k, v in hashes.items()}, p.threshold)
    report = {"dataset": ds.id, "hashes": hashes, "near_duplicate_groups": dupes, "threshold": p.threshold}
    out = ctx.save_asset(json.dumps(report, indent=2, sort_keys=True).encode(), f"reports/{ds.version.ref}.fingerprints.json",
                         tags=["fingerprints"], meta={"dataset": ds.id, "groups": len(dupes)})
    ctx.result.update({"report": out.id, "near_duplicate_groups": len(dupes), "images": len(items)})


class BatchProxyParams(Params):
    dataset: str | None = Field(None, description="make proxies of every image/video in this dataset")
    assets: list[str] = Field(default_factory=list, description="or: of these assets")
    max_side: int = Field(1280, ge=64, le=8192, description="image proxies: longest side in pixels")
    height: int = Field(360, ge=64, le=2160, description="video proxies: frame height (even)")
    workers: int | None = Field(None, ge=1, le=64, description="processes (default: worker_concurrency)")

    @model_validator(mode="after")
    def _one_source(self) -> BatchProxyParams:
        if (self.dataset is None) == (not self.assets):
            raise ValueError("give either a dataset or a list of assets")
        return self


def _proxy_one(job: tuple[str, str, str, int, int, dict]) -> str:
    """Runs in a pool process: encode one proxy into the job's scratch folder."""
    from reelforge.media import MediaLimits, image_proxy, video_proxy

    kind, src, dst, max_side, height, limits = job
    lim = MediaLimits.from_dict(limits)
    if kind == "image":
        image_proxy(Path(src), Path(dst), max_side=max_side, limits=lim)
    else:
        video_proxy(Path(src), Path(dst), height=height - height % 2, limits=lim)
    return dst


@task(
    "media.proxies",
    params=BatchProxyParams,
    inputs={"dataset": "dataset", "assets": "assets"},
    outputs=("asset:image", "asset:video"),
    resources=Resources(cpus=2),
    description="Proxies for a whole dataset or asset list, encoded in parallel processes",
)
def proxies(ctx: TaskContext, p: BatchProxyParams) -> None:
    if p.dataset:
        sources = [(it.asset, it.path) for it in ctx.dataset(p.dataset).items]
    else:
        sources = [(a.asset, a.path) for a in (ctx.asset(r) for r in p.assets)]
    sources = [(a, path) for a, path in sources if a.kind in ("image", "video")]
    if not sources:
        raise InvalidInput("no image or video assets to make proxies of")
    limits = ctx.limits.to_dict()
    jobs = [
        (a.kind, str(path), str(ctx.workdir / f"{i:05d}{'.jpg' if a.kind == 'image' else '.mp4'}"),
         p.max_side, p.height, limits)
        for i, (a, path) in enumerate(sources)
    ]
    outs = ctx.map(_proxy_one, jobs, workers=p.workers, progress_message="encoding proxies")
    saved = []
    for (a, _), out in zip(sources, outs, strict=True):
        stem = Path(a.name).with_suffix("").as_posix()
        saved.append(ctx.save_asset(Path(out), f"proxies/{stem}{Path(out).suffix}", tags=["proxy"],
                                    meta={"proxy_of": a.id}).id)
    ctx.result["proxies"] = saved


class ThumbnailParams(Params):
    assets: list[str] = Field(min_length=1, description="image assets to make thumbnails of")
    workers: int | None = Field(None, ge=1, le=64, description="processes (default: worker_concurrency)")


def _thumbnail_one(job: tuple[str, dict]) -> bytes:
    """Runs in a pool process: the thumbnail ingest would have made (the same check and decode)."""
    from reelforge.catalog.staging import THUMB_SIZE
    from reelforge.media import MediaLimits, probe_with_thumbnail

    src, limits = job
    _, data = probe_with_thumbnail(Path(src), MediaLimits.from_dict(limits), THUMB_SIZE)
    if data is None:
        raise InvalidInput(f"{Path(src).name}: no thumbnail can be made of it")
    return data


@task(
    "media.thumbnails",
    params=ThumbnailParams,
    inputs={"assets": "assets"},
    outputs=(),
    resources=Resources(cpus=2),
    description="Thumbnails ingest left to a job (big PNGs: checked whole, but not decoded, on the way in)",
)
def thumbnails(ctx: TaskContext, p: ThumbnailParams) -> None:
    inputs = [ctx.asset(r) for r in p.assets]
    wrong = [a.id for a in inputs if a.kind != "image"]
    if wrong:
        raise InvalidInput(f"thumbnails are made of images; {wrong[0]} is not one")
    limits = ctx.limits.to_dict()
    made = ctx.map(_thumbnail_one, [(str(a.path), limits) for a in inputs], workers=p.workers,
                   progress_message="making thumbnails")
    for a, data in zip(inputs, made, strict=True):
        ctx.set_thumbnail(a.id, data)
    ctx.result["thumbnails"] = len(made)
