"""GAN training throughput through the job system vs a plain PyTorch loop; FLOP/s; sampling speed.

1. Platform overhead. The same DCGAN-64 (reelforge.vision.gan.models Generator/Discriminator,
   base_channels 32, batch 32, hinge loss, Adam, DiffAugment "color,translation,cutout", EMA, channels_last,
   2 threads) is trained twice per round on 100 random 64x64 crops of scikit-image's Hubble deep field:
   once as a ``gan.train`` job (Studio SDK, inline executor: job row, dataset materialisation, heartbeat,
   metrics/progress written to SQLite, final checkpoint and model save) and once by a loop written here
   that uses no platform and no trainer (same classes, same ops per step). Steady state is timed from
   step ``--warmup`` to the last step: for the job from the per-step ``job_metrics.ts`` of ``loss_g``,
   for the plain loop from ``time.time()`` taken at the same point (after the step's scalars are read).
   Rounds run in ABBA order (plain, job, job, plain, ...) so a drifting machine load cancels out. Besides
   wall time, a sampler thread records the process CPU time every 50 ms, so CPU seconds per step (less
   sensitive to other people's load than wall time) give a second overhead estimate.
2. FLOPs of one training step (torch.utils.flop_counter.FlopCounterMode around GANTrainer.train_step:
   G forward/backward, D forward/backward on real+fake, D forward/backward for the G step) divided by
   the measured step time, against a measured practical peak: a 2048x2048 @ 2048x2048 float32 matmul with
   the same thread count (best of several, measured before and after the training runs).
3. Sampling speed of ``reelforge.vision.gan.sample`` for the 64 px generator (batch 64), next to the raw
   generator forward pass on the same batch.

    .venv/bin/python benchmarks/bench_gan.py                # default: 30 steps, warmup 10, 4 rounds
    .venv/bin/python benchmarks/bench_gan.py --profile      # also cProfile one job (where the time goes)

Writes section ``gan_throughput`` of docs/benchmarks.md (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_description, table, write_section

from reelforge.vision.gan import DiffAugment, GANConfig, GANTrainer, sample
from reelforge.vision.gan.models import Discriminator, Generator

DIFFAUG = "color,translation,cutout"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_str() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} / {b:.2f} / {c:.2f}"


# --------------------------------------------------------------------------------------- data
def hubble_crops(n: int, seed: int, size: int = 64, columns: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """n random size x size crops (uint8 (n, size, size, 3)) of skimage's Hubble deep field, taken with
    their left edge in the given fraction of the image width (disjoint column ranges = disjoint sets)."""
    from skimage import data

    img = np.ascontiguousarray(data.hubble_deep_field()[:, :, :3])
    h, w = img.shape[:2]
    x_lo = int(columns[0] * w)
    x_hi = min(int(columns[1] * w), w) - size
    if x_hi <= x_lo:
        raise ValueError(f"column range {columns} is narrower than one {size} px crop")
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(x_lo, x_hi + 1, n)
    return np.stack([img[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])


# --------------------------------------------------------------------------------------- CPU time
class CpuClock:
    """Samples (wall, process CPU) every `period` s so CPU time can be read at any wall timestamp."""

    def __init__(self, period: float = 0.05) -> None:
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cpu-clock")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), time.process_time()))
            self._stop.wait(self.period)

    def __enter__(self) -> CpuClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), time.process_time()))

    def cpu_at(self, ts: float) -> float:
        arr = np.asarray(self.samples)
        return float(np.interp(ts, arr[:, 0], arr[:, 1]))


# --------------------------------------------------------------------------------------- plain loop
class PlainLoop:
    """The same training step as GANTrainer.train_step (unconditional, no R1), with nothing around it."""

    def __init__(self, cfg: GANConfig, images: np.ndarray, seed: int) -> None:
        self.cfg = cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            g, d = Generator(cfg), Discriminator(cfg)
        self.G = g.to(memory_format=torch.channels_last).train()
        self.D = d.to(memory_format=torch.channels_last).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.ema_updates = 0
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.stack = torch.from_numpy(images)  # (N, H, W, C) uint8
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.augment = DiffAugment(cfg.diffaug)

    def aug(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment:
            x = self.augment(x, self.gen)
        return x.contiguous(memory_format=torch.channels_last)

    def step(self) -> tuple[float, float, float, float]:
        bs, gen = self.cfg.batch_size, self.gen
        idx = torch.randint(0, self.stack.shape[0], (bs,), generator=gen)
        real = self.stack[idx].permute(0, 3, 1, 2).float() / 127.5 - 1.0
        flip = torch.rand(bs, generator=gen) < 0.5
        real = torch.where(flip[:, None, None, None], real.flip(3), real)
        z = torch.randn(bs, self.cfg.z_dim, generator=gen)
        # D step: real and fake batches in one forward pass.
        fake = self.G(z)
        logits = self.D(torch.cat([self.aug(real), self.aug(fake.detach())]))
        real_logits, fake_logits = logits[:bs], logits[bs:]
        loss_d = F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # G step on the same fake batch, D frozen.
        self.D.requires_grad_(False)
        loss_g = -self.D(self.aug(fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        # EMA of G's parameters (decay ramps up), buffers copied.
        decay = min(self.cfg.ema_decay, (1.0 + self.ema_updates) / (10.0 + self.ema_updates))
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                pe.lerp_(p, 1.0 - decay)
            for be, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                be.copy_(b)
        self.ema_updates += 1
        return (float(loss_d.detach()), float(real_logits.detach().mean()), float(fake_logits.detach().mean()),
                float(loss_g.detach()))


# --------------------------------------------------------------------------------------- runs
@dataclass
class Run:
    kind: str  # "plain" or "job"
    steps: int
    warmup: int
    step_ts: dict[int, float]  # step -> wall time just after it
    clock: CpuClock
    load_before: str
    load_after: str
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each train step
    pairs: list[tuple[float, float]] = field(default_factory=list)  # paired run: (job s, plain s) per step
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.step_ts[self.steps] - self.step_ts[self.warmup]

    @property
    def measured_steps(self) -> int:
        return self.steps - self.warmup

    @property
    def steps_per_s(self) -> float:
        return self.measured_steps / self.seconds

    @property
    def cpu_per_step(self) -> float:
        c = self.clock.cpu_at(self.step_ts[self.steps]) - self.clock.cpu_at(self.step_ts[self.warmup])
        return c / self.measured_steps

    @property
    def in_step_s(self) -> float:
        """Seconds inside the training step itself (steps warmup+1..steps)."""
        return sum(e - b for b, e in self.spans[self.warmup : self.steps])

    @property
    def outside_ms_per_step(self) -> float:
        """Wall time between steps (callbacks, reporting, GIL waits on other threads), ms per step."""
        return 1e3 * (self.seconds - self.in_step_s) / self.measured_steps

    def step_times(self) -> list[float]:
        return [self.step_ts[k] - self.step_ts[k - 1] for k in range(self.warmup + 1, self.steps + 1)]


def run_plain(cfg: GANConfig, images: np.ndarray, steps: int, warmup: int, threads: int) -> Run:
    torch.set_num_threads(threads)
    before = load_str()
    with CpuClock() as clock:
        loop = PlainLoop(cfg, images, seed=0)
        ts = {0: time.time()}
        spans = []
        for k in range(1, steps + 1):
            t = time.time()
            loop.step()
            ts[k] = time.time()
            spans.append((t, ts[k]))
    return Run("plain", steps, warmup, ts, clock, before, load_str(), spans)


@contextlib.contextmanager
def timed_train_step(spans: list[tuple[float, float]], paired: PlainLoop | None = None,
                     paired_spans: list[tuple[float, float]] | None = None) -> Iterator[None]:
    """Record (start, end) of every GANTrainer.train_step while the job runs, to tell the step's own
    time from the time the platform spends around it (measured in the same steps, so load-independent).

    With `paired`, one plain-loop step runs (and is timed) right after each job step: a plain step and
    a job step then always see the same machine load, which separate runs minutes apart do not."""
    original = GANTrainer.train_step

    def wrapped(self: GANTrainer) -> dict[str, float]:
        t = time.time()
        out = original(self)
        spans.append((t, time.time()))
        if paired is not None and paired_spans is not None:
            t = time.time()
            paired.step()
            paired_spans.append((t, time.time()))
        return out

    GANTrainer.train_step = wrapped  # type: ignore[method-assign]
    try:
        yield
    finally:
        GANTrainer.train_step = original  # type: ignore[method-assign]


def make_studio(root: Path, images: np.ndarray) -> tuple[object, str]:
    from PIL import Image

    from reelforge.studio import Studio

    folder = root / "crops"
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"crop_{i:03d}.png")
    s = Studio.init(root / "studio")
    s.assets.add([folder])
    ds = s.datasets.create("hubble", kind="image", splits=(1, 0, 0))
    return s, ds.ref


def job_step_ts(studio: object, job_id: str) -> dict[int, float]:
    from sqlalchemy import select

    from reelforge.db.engine import session_scope
    from reelforge.db.models import JobMetricRow

    with session_scope(studio.Session) as ses:  # type: ignore[attr-defined]
        rows = ses.execute(
            select(JobMetricRow.step, JobMetricRow.ts)
            .where(JobMetricRow.job_id == job_id, JobMetricRow.name == "loss_g")
            .order_by(JobMetricRow.step)
        ).all()
    return {int(step): float(ts) for step, ts in rows}


def run_job(studio: object, ds_ref: str, cfg: GANConfig, steps: int, warmup: int, threads: int,
            profile: cProfile.Profile | None = None, paired: PlainLoop | None = None) -> Run:
    params = {
        "dataset": ds_ref, "steps": steps, "resolution": cfg.resolution, "base_channels": cfg.base_channels,
        "batch_size": cfg.batch_size, "threads": threads, "diffaug": cfg.diffaug, "preset": "dcgan",
        "sample_every": 10**6, "checkpoint_every": 10**6, "health": False,
    }
    before = load_str()
    with CpuClock() as clock:
        t_submit = time.time()
        handle = studio.jobs.submit("gan.train", params, seed=0)  # type: ignore[attr-defined]
        spans: list[tuple[float, float]] = []
        paired_spans: list[tuple[float, float]] = []
        with timed_train_step(spans, paired, paired_spans):
            if profile is not None:
                profile.enable()
            job = handle.run()
            if profile is not None:
                profile.disable()
        t_done = time.time()
    if job.status != "succeeded":
        raise RuntimeError(f"gan.train job {job.id} ended {job.status}: {job.error}")
    ts = job_step_ts(studio, job.id)
    missing = [k for k in range(warmup, steps + 1) if k not in ts and k != 0]
    if missing:
        raise RuntimeError(f"job {job.id} has no loss_g metric for steps {missing[:5]}...")
    ts.setdefault(0, job.started_at)
    extra = {
        "submit_to_start_s": job.started_at - t_submit,
        "start_to_step1_s": ts[1] - job.started_at,
        "last_step_to_finish_s": job.finished_at - ts[steps],
        "finish_to_return_s": t_done - job.finished_at,
        "job_wall_s": job.finished_at - job.started_at,
    }
    if len(spans) != steps:
        raise RuntimeError(f"job {job.id}: timed {len(spans)} train steps, expected {steps}")
    run = Run("job", steps, warmup, ts, clock, before, load_str(), spans, extra=extra)
    if paired is not None:
        # Per step k: the job's share of the window ts[k-1]..ts[k] is the window minus the plain step.
        ks = range(warmup + 1, steps + 1)
        plain_s = [paired_spans[k - 1][1] - paired_spans[k - 1][0] for k in ks]
        job_s = [ts[k] - ts[k - 1] - p for k, p in zip(ks, plain_s, strict=True)]
        run.pairs = list(zip(job_s, plain_s, strict=True))
        run.extra.update(paired_plain_s=sum(plain_s), paired_job_s=sum(job_s))
    return run


def run_paired(studio: object, ds_ref: str, cfg: GANConfig, images: np.ndarray, steps: int, warmup: int,
               threads: int) -> Run:
    torch.set_num_threads(threads)
    loop = PlainLoop(cfg, images, seed=0)
    return run_job(studio, ds_ref, cfg, steps, warmup, threads, paired=loop)


# --------------------------------------------------------------------------------------- FLOPs / peak
def matmul_peak(threads: int, n: int = 2048, reps: int = 8) -> tuple[float, float]:
    """(best, median) GFLOP/s of an n x n float32 matmul."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    for _ in range(2):
        torch.mm(a, b, out=out)
    rates = []
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b, out=out)
        rates.append(2 * n**3 / (time.perf_counter() - t) / 1e9)
    return max(rates), statistics.median(rates)


def step_flops(cfg: GANConfig, images: np.ndarray, threads: int) -> tuple[int, dict[str, int]]:
    """FLOPs of one GANTrainer.train_step (after one warm-up step), total and by operator."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(threads)
    tr = GANTrainer(cfg, images, seed=0)
    tr.train_step()
    counter = FlopCounterMode(display=False)
    with counter:
        tr.train_step()
    by_op = {str(op).removeprefix("aten."): int(v) for op, v in counter.get_flop_counts()["Global"].items()}
    return int(counter.get_total_flops()), by_op


def plain_step_flops(cfg: GANConfig, images: np.ndarray) -> int:
    """FLOPs of one PlainLoop.step, to check that it does the same work as GANTrainer.train_step."""
    from torch.utils.flop_counter import FlopCounterMode

    loop = PlainLoop(cfg, images, seed=0)
    loop.step()
    counter = FlopCounterMode(display=False)
    with counter:
        loop.step()
    return int(counter.get_total_flops())


def _burst(fn: Callable[[], object], flops: float, min_s: float) -> float:
    """Mean GFLOP/s of `fn` called back to back for at least `min_s` seconds."""
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_s:
            return n * flops / dt / 1e9


def interleaved_fraction(cfg: GANConfig, images: np.ndarray, threads: int, flops: int, pairs: int,
                         burst_s: float = 0.6) -> dict[str, float]:
    """Alternate one plain training step with `burst_s`-second bursts of (a) a 2048² float32 matmul
    and (b) a large 3x3 convolution (oneDNN, channels_last: the kind of kernel the step is made of),
    `pairs` times, so the step's FLOP/s and both reference rates are measured under the same load."""
    torch.set_num_threads(threads)
    loop = PlainLoop(cfg, images, seed=0)
    for _ in range(3):
        loop.step()
    n = 2048
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    x = torch.randn(64, 256, 32, 32).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3).contiguous(memory_format=torch.channels_last)
    mm_flops, conv_flops = 2 * n**3, 2 * 64 * 256 * 256 * 9 * 32 * 32

    def mm() -> object:
        return torch.mm(a, b, out=out)

    def conv() -> object:
        return F.conv2d(x, w, padding=1)

    mm(), conv()
    step_r, mm_r, conv_r = [], [], []
    for _ in range(pairs):
        t = time.perf_counter()
        loop.step()
        step_r.append(flops / (time.perf_counter() - t) / 1e9)
        mm_r.append(_burst(mm, mm_flops, burst_s))
        conv_r.append(_burst(conv, conv_flops, burst_s))
    f_mm = [s / m for s, m in zip(step_r, mm_r, strict=True)]
    f_conv = [s / c for s, c in zip(step_r, conv_r, strict=True)]
    quiet = int(np.argmax(step_r))  # the pair whose step ran fastest: the least contended moment
    return {"step": statistics.median(step_r), "mm": statistics.median(mm_r), "conv": statistics.median(conv_r),
            "f_mm": statistics.median(f_mm), "f_mm_lo": min(f_mm), "f_mm_hi": max(f_mm),
            "f_conv": statistics.median(f_conv),
            "quiet_step": step_r[quiet], "quiet_mm": mm_r[quiet], "quiet_conv": conv_r[quiet],
            "mm_best": max(mm_r), "conv_best": max(conv_r)}


def sampling_speed(cfg: GANConfig, threads: int, n: int, repeats: int) -> dict[str, float]:
    torch.set_num_threads(threads)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g = Generator(cfg).to(memory_format=torch.channels_last).eval()
    sample(g, 64, seed=0, truncation=None)  # warm-up (oneDNN primitives)
    out: dict[str, float] = {}
    for label, trunc in (("sample_trunc_none", None), ("sample_trunc_1", 1.0)):
        times = []
        for r in range(repeats):
            t = time.perf_counter()
            imgs, _ = sample(g, n, seed=1000 * r, truncation=trunc, batch=64)
            times.append(time.perf_counter() - t)
            assert imgs.shape == (n, cfg.resolution, cfg.resolution, 3)
        out[label] = n / statistics.median(times)
    z = torch.randn(64, cfg.z_dim)
    times = []
    with torch.no_grad():
        for _ in range(max(3, repeats * n // 64)):
            t = time.perf_counter()
            g(z)
            times.append(time.perf_counter() - t)
    out["raw_forward"] = 64 / statistics.median(times)
    return out


# --------------------------------------------------------------------------------------- profile
def profile_summary(prof: cProfile.Profile, limit: int = 25) -> str:
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(limit)
    return buf.getvalue()


# --------------------------------------------------------------------------------------- main
def fmt(v: float, nd: int = 2) -> str:
    return f"{v:,.{nd}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="training steps per run")
    ap.add_argument("--warmup", type=int, default=10, help="steps excluded from the steady-state timing")
    ap.add_argument("--rounds", type=int, default=4, help="rounds (each: one plain run and one job, ABBA)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--base-channels", type=int, default=32)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paired-steps", type=int, default=40,
                    help="steps of the paired job run (each job step followed by a plain step); 0 skips it")
    ap.add_argument("--pairs", type=int, default=15, help="interleaved (training step, matmul) pairs")
    ap.add_argument("--sample-n", type=int, default=256)
    ap.add_argument("--sample-repeats", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile one extra job run and print the top")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    if not 1 <= args.warmup < args.steps or (args.paired_steps and args.paired_steps <= args.warmup):
        ap.error("need 1 <= --warmup < --steps and --paired-steps > --warmup (or 0)")

    cmd = " ".join(["    .venv/bin/python benchmarks/bench_gan.py", *(argv if argv is not None else sys.argv[1:])])
    # The DCGAN configuration this benchmark has always measured (GANConfig.from_dict fills in the
    # fields of the original architecture; the job gets the same through preset "dcgan").
    cfg = GANConfig.from_dict({"resolution": args.resolution, "base_channels": args.base_channels,
                               "batch_size": args.batch, "diffaug": DIFFAUG})
    images = hubble_crops(100, seed=0, size=args.resolution, columns=(0.0, 0.5))
    load_start = load_str()
    t_start = time.time()

    log("matmul peak (before)")
    peaks = [matmul_peak(args.threads)]
    log(f"  {peaks[-1][0]:.1f} GFLOP/s best")
    log("FLOPs of one step")
    flops, by_op = step_flops(cfg, images, args.threads)
    log(f"  {flops / 1e9:.2f} GFLOP/step  {by_op}")
    flops_plain = plain_step_flops(cfg, images)
    log(f"  plain loop: {flops_plain / 1e9:.2f} GFLOP/step")
    log(f"interleaved step / matmul, {args.pairs} pairs")
    inter = interleaved_fraction(cfg, images, args.threads, flops, args.pairs)
    log(f"  {inter}")

    tmp = Path(tempfile.mkdtemp(prefix="bench_gan_"))
    runs: list[Run] = []
    prof_text = ""
    paired_run: Run | None = None
    try:
        studio, ds_ref = make_studio(tmp, images)
        order: list[str] = []
        for r in range(args.rounds):
            order += ["plain", "job"] if r % 2 == 0 else ["job", "plain"]
        for i, kind in enumerate(order):
            log(f"run {i + 1}/{len(order)}: {kind}, {args.steps} steps (load {load_str()})")
            if kind == "plain":
                run = run_plain(cfg, images, args.steps, args.warmup, args.threads)
            else:
                run = run_job(studio, ds_ref, cfg, args.steps, args.warmup, args.threads)
            runs.append(run)
            log(f"  {run.steps_per_s:.3f} steps/s, {run.cpu_per_step:.2f} CPU s/step, "
                f"{run.outside_ms_per_step:.1f} ms/step outside the step {run.extra}")
        if args.paired_steps:
            log(f"paired run: {args.paired_steps} job steps, each followed by a plain step (load {load_str()})")
            paired_run = run_paired(studio, ds_ref, cfg, images, args.paired_steps, args.warmup, args.threads)
            log(f"  {paired_run.extra}")
        if args.profile:
            log("profiled job run")
            prof = cProfile.Profile()
            run_job(studio, ds_ref, cfg, args.steps, args.warmup, args.threads, profile=prof)
            prof_text = profile_summary(prof)
            print(prof_text)
        studio.close()  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    log("matmul peak (after)")
    peaks.append(matmul_peak(args.threads))
    log("sampling")
    samp = sampling_speed(cfg, args.threads, args.sample_n, args.sample_repeats)
    load_end = load_str()
    total_min = (time.time() - t_start) / 60

    # ----------------------------------------------------------------------------- figures
    def pooled(kind: str) -> dict[str, float]:
        rs = [r for r in runs if r.kind == kind]
        steps = sum(r.measured_steps for r in rs)
        wall = sum(r.seconds for r in rs)
        inside = sum(r.in_step_s for r in rs)
        return {
            "rate": steps / wall,
            "cpu": sum(r.cpu_per_step * r.measured_steps for r in rs) / steps,
            "median": statistics.median([t for r in rs for t in r.step_times()]),
            "outside_ms": 1e3 * (wall - inside) / steps,
            "inside_s": inside / steps,
        }

    pl, jb = pooled("plain"), pooled("job")
    plain_rate, job_rate = pl["rate"], jb["rate"]
    overhead_wall = plain_rate / job_rate - 1.0
    overhead_cpu = jb["cpu"] / pl["cpu"] - 1.0
    overhead_median = jb["median"] / pl["median"] - 1.0
    # Time the job spends between training steps, relative to the step itself, in the same steps.
    overhead_attr = (jb["outside_ms"] / 1e3) / jb["inside_s"]
    same_path = {k: [r.steps_per_s for r in runs if r.kind == k] for k in ("plain", "job")}
    spread = max((max(v) / min(v) - 1.0) for v in same_path.values() if v)
    peak = max(p[0] for p in peaks)
    bs = args.batch

    rows = []
    for i, r in enumerate(runs, 1):
        st = r.step_times()
        rows.append([i, r.kind, r.measured_steps, fmt(r.steps_per_s, 3), fmt(r.steps_per_s * bs, 1),
                     fmt(statistics.median(st), 2), fmt(r.cpu_per_step, 2), fmt(r.outside_ms_per_step, 1),
                     r.load_before, r.load_after])
    run_table = table(["run", "path", "timed steps", "steps/s", "images/s", "median s/step", "CPU s/step",
                       "ms/step outside the step", "load before (1/5/15 min)", "load after"], rows)
    summary = table(
        ["path", "steps/s", "images/s", "median s/step", "CPU s/step", "ms/step outside the step"],
        [["plain PyTorch loop", fmt(plain_rate, 3), fmt(plain_rate * bs, 1), fmt(pl["median"], 3),
          fmt(pl["cpu"], 2), fmt(pl["outside_ms"], 1)],
         ["`gan.train` job", fmt(job_rate, 3), fmt(job_rate * bs, 1), fmt(jb["median"], 3),
          fmt(jb["cpu"], 2), fmt(jb["outside_ms"], 1)],
         ["job vs plain", f"{100 * overhead_wall:+.1f}%", "", f"{100 * overhead_median:+.1f}%",
          f"{100 * overhead_cpu:+.1f}%", ""]],
    )
    jobs = [r for r in runs if r.kind == "job"]
    startup = table(
        ["job", "submit → started", "started → step 1", f"step {args.steps} → finished", "job wall"],
        [[i, fmt(r.extra["submit_to_start_s"]), fmt(r.extra["start_to_step1_s"]),
          fmt(r.extra["last_step_to_finish_s"]), fmt(r.extra["job_wall_s"], 1)] for i, r in enumerate(jobs, 1)],
    )
    top_ops = sorted(by_op.items(), key=lambda kv: -kv[1])
    flop_table = table(
        ["quantity", "value"],
        [["FLOPs per training step (FlopCounterMode on `GANTrainer.train_step`)", f"{flops / 1e9:.2f} GFLOP"],
         ["FLOPs per step of the plain loop (same count = same work)", f"{flops_plain / 1e9:.2f} GFLOP"],
         *[[f"  of which `{op}`", f"{v / 1e9:.2f} GFLOP"] for op, v in top_ops],
         ["practical peak: 2048² fp32 matmul, best (before / after)",
          f"{peaks[0][0]:.1f} / {peaks[1][0]:.1f} GFLOP/s (medians {peaks[0][1]:.1f} / {peaks[1][1]:.1f})"],
         [f"**interleaved, {args.pairs}× (one plain step, then 0.6 s of matmul, 0.6 s of conv)**: medians",
          f"**step {inter['step']:.1f}, matmul {inter['mm']:.1f} GFLOP/s → {100 * inter['f_mm']:.0f}% of the "
          f"matmul peak** (per pair {100 * inter['f_mm_lo']:.0f}–{100 * inter['f_mm_hi']:.0f}%)"],
         ["same pairs, against the 3×3 conv (64×256×32×32, 256 filters) as reference",
          f"conv {inter['conv']:.1f} GFLOP/s → step at {100 * inter['f_conv']:.0f}% of it"],
         ["quietest pair (fastest step)",
          f"step {inter['quiet_step']:.1f}, matmul {inter['quiet_mm']:.1f}, conv {inter['quiet_conv']:.1f} GFLOP/s "
          f"→ {100 * inter['quiet_step'] / inter['quiet_mm']:.0f}% of matmul, "
          f"{100 * inter['quiet_step'] / inter['quiet_conv']:.0f}% of conv"],
         ["best bursts seen in the pairs", f"matmul {inter['mm_best']:.1f}, conv {inter['conv_best']:.1f} GFLOP/s"],
         ["achieved by the plain loop (pooled runs above)", f"{flops * plain_rate / 1e9:.1f} GFLOP/s = "
                                         f"{100 * flops * plain_rate / 1e9 / peak:.0f}% of the best matmul"],
         ["achieved by the `gan.train` job (pooled runs above)", f"{flops * job_rate / 1e9:.1f} GFLOP/s = "
                                              f"{100 * flops * job_rate / 1e9 / peak:.0f}% of the best matmul"]],
    )
    samp_table = table(
        ["path", "images/s"],
        [["`sample(G, n, seed, truncation=None, batch=64)`", fmt(samp["sample_trunc_none"], 1)],
         ["`sample(...)` with the default truncation=1.0", fmt(samp["sample_trunc_1"], 1)],
         ["raw `G(z)` forward, batch 64, no_grad, eval", fmt(samp["raw_forward"], 1)]],
    )
    verdict = "within" if overhead_attr <= 0.05 else "above"
    g_params = sum(p.numel() for p in Generator(cfg).parameters()) / 1e6
    d_params = sum(p.numel() for p in Discriminator(cfg).parameters()) / 1e6
    paired_md = ""
    if paired_run is not None:
        e = paired_run.extra
        paired_ratio = e["paired_job_s"] / e["paired_plain_s"] - 1.0
        ratios = np.array([j / p for j, p in paired_run.pairs]) - 1.0
        q25, paired_median, q75 = (float(np.percentile(ratios, q)) for q in (25, 50, 75))
        n_pairs = paired_run.measured_steps
        paired_md = f"""**Platform overhead, paired (the headline figure): {100 * paired_ratio:+.1f}%** in wall-clock time
per step ({"within" if paired_ratio <= 0.05 else "above"} the 5% target; median of the per-pair
ratios {100 * paired_median:+.1f}%, quartiles {100 * q25:+.1f}% / {100 * q75:+.1f}%). One more `gan.train` job of {paired_run.steps} steps ran with a plain-loop step
executed right after each of its steps, in the same process; over steps {args.warmup}..{paired_run.steps}
({n_pairs} pairs) the job's steps, including everything the platform does between them, took
{e["paired_job_s"]:.1f} s ({e["paired_job_s"] / n_pairs:.2f} s/step, {n_pairs * bs / e["paired_job_s"]:.1f}
images/s) and the plain steps {e["paired_plain_s"]:.1f} s ({e["paired_plain_s"] / n_pairs:.2f} s/step,
{n_pairs * bs / e["paired_plain_s"]:.1f} images/s). Both see the same load, second by second.

"""
    md = f"""## GAN training throughput (`gan.train` job vs plain PyTorch loop)

{machine_description()}; {args.threads} torch threads. Load average (1/5/15 min) at start
{load_start}, at end {load_end} (this process alone accounts for ~2; other engineers share the
machine, so absolute rates vary between runs and the *paired* overhead figure below is the one to
read). Total runtime {total_min:.1f} min. Command:

{cmd}

Model: DCGAN {args.resolution} px, base_channels {args.base_channels} (G {g_params:.2f} M params, D {d_params:.2f} M),
batch {bs}, hinge loss,
Adam, DiffAugment `{DIFFAUG}`, EMA, channels_last; data: 100 random 64×64 crops of
skimage's Hubble deep field. Steady state = steps {args.warmup}..{args.steps} of each run
({args.steps - args.warmup} timed steps; job timestamps from `job_metrics.ts`).

Per run:

{run_table}

Pooled over the rounds:

{summary}

{paired_md}**Separate runs (ABBA above).** Job vs plain, pooled wall-clock steps/s: {100 * overhead_wall:+.1f}%;
median step time: {100 * overhead_median:+.1f}%; CPU seconds per step: {100 * overhead_cpu:+.1f}%. These
compare runs taken minutes apart on a shared machine, and two runs of the *same* path differed by up to
{100 * spread:.0f}% in steps/s here, so they cannot resolve a few percent.

**Attribution.** Time the job spends *between* training steps (metrics and progress written to the
database, heartbeat), measured inside the same job runs: {jb["outside_ms"]:.1f} ms per step against
{jb["inside_s"]:.2f} s in the step = **{100 * overhead_attr:.2f}%** ({verdict} the 5% target); the plain
loop's equivalent is {pl["outside_ms"]:.2f} ms.

Job start-up and tear-down (seconds, not in the steady-state figures; "finished" includes the final
checkpoint, the sample grid and saving the model):

{startup}

### FLOP/s of a DCGAN-64 training step

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` (convolutions and matmuls, forward and
backward; element-wise ops, Adam and DiffAugment are not counted). The practical peak is a 2048×2048 @
2048×2048 float32 `torch.mm` with the same {args.threads} threads. The headline fraction alternates one
training step with 0.6 s of back-to-back matmuls (mean rate) so both see the same load; the pooled
figures use the run rates above against the best matmul seen before or after the runs. On this CPU the matmul is not a ceiling: oneDNN's
channels_last convolutions (what the step spends its time in) run faster than `torch.mm`, so a large
3×3 convolution is measured alongside as a second reference.

{flop_table}

### Sampling, 64 px generator (base_channels {args.base_channels}), batch 64

{args.sample_n} images per call, median of {args.sample_repeats} calls; `sample` draws each image's latent
from its own seed (`latent_for_seed`, a Python loop) and converts to uint8, which the raw forward
pass does not.

{samp_table}
"""
    print(md)
    if not args.no_write:
        write_section("gan_throughput", md)
        log("wrote section gan_throughput of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
