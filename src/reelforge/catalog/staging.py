"""Ingest's per-file work: stage (copy + sha256), validate, thumbnail; in this process or a pool.

Each file is opened without following a symlink swapped in since it was listed, streamed into the
blob store's staging area while hashed, and validated there (what we check is exactly what we
keep), in one cheap decode that also gives the thumbnail (``media.probe_with_thumbnail``). Nothing
is committed here: the caller commits every staged blob, or discards them all (a parallel staging
may hand the caller its worker processes, which rename the blobs at the commit: ``WorkerPlacer``).

Big ingests fan out to a pool of processes sized to the machine (see ``_pool_context``); the
calling process takes chunks too (from the end of the queue, while the workers start up and take
them from the front), so a small ingest never waits for a pool. A refusal stops the other workers
at their next file, and every staged file of the call is discarded before the refusal is raised.
This module imports no database code, so workers start quickly.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import gc
import hashlib
import io
import logging
import multiprocessing
import os
import signal
import stat
import sys
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidInput, LimitExceeded, NotFound, ReelforgeError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from reelforge.media.limits import MediaLimits
    from reelforge.storage.base import BlobStore, StagedBlob

log = logging.getLogger(__name__)

THUMB_SIZE = 256
# With ``defer_thumbnails``, a PNG over this many pixels (4x the thumbnail box) gets no thumbnail in
# the ingest path: its complete check inflates the image data without unfiltering it, and a full
# decode just for the thumbnail would cost several times the check. A derived job makes it later.
DEFER_THUMB_FROM_PIXELS = 4 * THUMB_SIZE * THUMB_SIZE
# Files up to this size are read whole into memory, staged from there and checked there.
IN_MEMORY_BYTES = 8 << 20
# Serial work below this estimate (seconds) is not worth starting worker processes for.
_PARALLEL_FROM_SECONDS = 0.5
# Rough costs for that estimate: a fixed part per file, and bytes at the rate they are checked:
# images are decoded whole (~100 MB/s of compressed data), audio and video are mostly demuxed
# (copy + hash bound), by the name's suffix (a hint only: the content decides the kind).
_EST_FILE_SECONDS = 0.0015
_EST_BYTES_PER_SECOND = 100e6
_EST_AV_BYTES_PER_SECOND = 1e9
_AV_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".ts", ".mts", ".m2ts",
                          ".wav", ".aif", ".aiff", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus"})


_gc_lock = threading.Lock()
_gc_state = {"depth": 0, "was_enabled": False}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while an ingest makes its thousands of objects that live to its
    end (in a big process, each full collection walks everything it holds: a tenth of the commit
    time for 5,000 small files). Memory is still freed by reference counting; a nested ingest keeps
    it paused until the outer one leaves, and it is restored as it was. Only in a process with one
    Python thread (`reelforge add`, a script): where other threads work (a server's ingests
    overlapping), collection is left alone, or it could stay off for all of them indefinitely."""
    with _gc_lock:
        pause = _gc_state["depth"] > 0 or threading.active_count() == 1
        if pause:
            if _gc_state["depth"] == 0:
                _gc_state["was_enabled"] = gc.isenabled()
                gc.disable()
            _gc_state["depth"] += 1
    if not pause:
        yield
        return
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (os.fsdecode's surrogates) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def raw_name_bytes(name: str) -> bytes | None:
    """The original bytes of a name that is not valid UTF-8, else None."""
    raw = name.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    return None


@dataclass
class Staged:
    """One validated file waiting in staging (plain data: it crosses process boundaries)."""

    source: Path
    name: str
    blob: StagedBlob
    info: dict[str, Any]
    thumb: StagedBlob | None = None  # a staged JPEG thumbnail or poster frame
    thumb_is_blob: bool = False  # the file is its own thumbnail (a small JPEG: see probe)
    raw_name: bytes | None = None  # the file's name as bytes, when they are not UTF-8
    asset_id: str | None = None

    def discard(self) -> None:
        self.blob.discard()
        if self.thumb is not None:
            self.thumb.discard()


@dataclass
class IngestProgress:
    """Where an ingest is: files and bytes checked so far, and the file or step at hand."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    message: str


@dataclass
class StageResult:
    staged: list[Staged] = field(default_factory=list)  # in the order the files were given
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path, why), with skip_invalid
    # The worker processes of a parallel staging, kept to rename the blobs under their hashes at
    # the commit (``place_many``'s ``rename``); None when there are none. ``close`` stops them.
    placer: WorkerPlacer | None = None

    def close(self) -> None:
        if self.placer is not None:
            self.placer.close()
            self.placer = None


class WorkerPlacer:
    """Renames staged blobs under their hashes in the pool's worker processes: at the commit of
    thousands of small files the renames take as long as writing their rows, and in a thread of
    this process they would contend with that work for the interpreter's lock."""

    def __init__(self, pool: cf.ProcessPoolExecutor, workers: int) -> None:
        self.pool, self.workers = pool, workers
        self.closed = False

    def rename(self, blobs: Sequence[Any]) -> list[tuple[str, bool]]:
        """``LocalBlobStore.place_staged`` for each blob, the work shared by the workers. The parts
        of workers that failed (an I/O error, a broken pool) are done here, once every worker has
        stopped: what they had placed already is found intact and kept."""
        size = -(-len(blobs) // self.workers)
        parts = [blobs[i : i + size] for i in range(0, len(blobs), size)]
        futures: list[cf.Future[list[tuple[str, bool]]] | None] = []
        for part in parts:
            try:
                futures.append(self.pool.submit(_worker_place, [(str(b.path), b.sha256, b.size) for b in part]))
            except cf.BrokenExecutor:  # a worker died since the checks: done below
                futures.append(None)
        got: list[list[tuple[str, bool]] | None] = []
        failed: BaseException | None = None
        for fut in futures:
            try:
                got.append(fut.result() if fut is not None else None)
            except (OSError, cf.BrokenExecutor) as exc:
                failed = failed or exc
                got.append(None)
        if any(g is None for g in got):
            # A broken pool fails its futures before it stops its workers: one may still be renaming.
            self.pool.shutdown(wait=True, cancel_futures=True)
            if self.closed:  # the caller gave up (and discards what is left): nothing more here
                raise RuntimeError("ingest was stopped while its blobs were being placed")
            log.warning("ingest workers failed to place blobs (%s); placing them in this process",
                        type(failed).__name__ if failed is not None else "BrokenProcessPool")
        out: list[tuple[str, bool]] = []
        for part, placed in zip(parts, got, strict=True):
            out.extend(placed if placed is not None else
                       [b.store.place_staged(str(b.path), b.sha256, b.size) for b in part])
        return out

    def close(self) -> None:
        self.closed = True
        self.pool.shutdown(wait=True, cancel_futures=True)


def stage_one(
    blobs: BlobStore, src: Path, raw_name: str, name: str, limits: MediaLimits, *, sync: bool = True,
    defer_thumbnails: bool = False, follow: bool = False,
) -> Staged:
    """Stage, validate and thumbnail one file (``name``: its checked catalog name); raises a
    ReelforgeError naming the file by its own name. With ``defer_thumbnails``, images whose
    thumbnail would cost a decode of its own (see DEFER_THUMB_FROM_PIXELS) are only checked.
    ``follow``: the file was listed as a symlink (see ``walk.collect``), which may be followed."""
    from reelforge.media import is_document, probe_document, probe_with_thumbnail

    blob, content = _stage_source(blobs, src, limits.max_bytes, sync, follow)
    thumb: StagedBlob | None = None
    try:
        # Probe the staged copy, not the source: what we validate is exactly what we keep (a small
        # file's bytes are checked in memory: the very bytes hashed and written to staging).
        data: bytes | None = None
        if is_document(blob.path, name):
            info = probe_document(blob.path, name, limits).to_dict()
        else:
            defer_from = DEFER_THUMB_FROM_PIXELS if defer_thumbnails else None
            media, data = probe_with_thumbnail(blob.path, limits, THUMB_SIZE, defer_from_pixels=defer_from,
                                               content=content)
            info = media.to_dict()
        same = data is not None and (data is content or (
            len(data) == blob.size and hashlib.sha256(data).hexdigest() == blob.sha256))
        if data is not None and not same:
            thumb = _stage_bytes(blobs, data, sync)
        for staged in (blob, thumb):
            prepare = getattr(staged, "prepare", None)
            if prepare is not None:
                prepare()
    except ReelforgeError as exc:
        blob.discard()
        # Decoders name the file they read (the staged copy); the user knows it by its own name.
        msg = str(exc).replace(f"{blob.path}: ", "").replace(f"{blob.path.name}: ", "")
        raise type(exc)(msg.replace(str(blob.path), src.name).replace(blob.path.name, src.name)) from None
    except BaseException:
        blob.discard()
        raise
    return Staged(src, name, blob, info, thumb, thumb_is_blob=same, raw_name=raw_name_bytes(raw_name))


def _stage_bytes(blobs: BlobStore, data: bytes, sync: bool) -> StagedBlob:
    if sync:
        return blobs.stage_stream(io.BytesIO(data), suffix=".jpg")
    return blobs.stage_stream(io.BytesIO(data), suffix=".jpg", sync=False)  # type: ignore[call-arg]


def _stage_source(
    blobs: BlobStore, src: Path, max_bytes: int, sync: bool, follow: bool = False,
) -> tuple[StagedBlob, bytes | None]:
    """Stage a file we listed, opened without following a symlink swapped in since (unless the
    listing itself was a symlink the user allowed: ``follow``), and only if it is a regular file.
    A small file is read whole (one read, one hash, one write) and its bytes are returned for the
    checks; a bigger one streams through and None comes back. Refusals do not name the file: the
    caller does (``_raise``, or the rejected list)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            fd = os.open(src, flags | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            if not follow:
                raise InvalidInput("is a symlink now, and was not one when it was listed") from None
            fd = os.open(src, flags)  # listed as a symlink the user allowed: followed
    except FileNotFoundError:
        raise NotFound("no such file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot open ({exc.strerror})") from None
    data: bytes | None = None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput("not a regular file")
        if st.st_size > max_bytes:
            raise LimitExceeded(f"{st.st_size} bytes is over the limit of {max_bytes}")
        suffix = src.suffix.lower()[:16]
        stage_bytes = getattr(blobs, "stage_bytes", None)
        if stage_bytes is not None and st.st_size <= min(IN_MEMORY_BYTES, max_bytes):
            # Plain reads on the descriptor (no file object): the bytes are all we need.
            data = _read_upto(fd, st.st_size + 1, st.st_size)  # one more: did it grow since?
            if len(data) > st.st_size:
                data = None
                os.lseek(fd, 0, os.SEEK_SET)  # it grew: streamed like a big file (the limit is checked there)
        fh = None if data is not None else os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    if data is not None:
        os.close(fd)
        return stage_bytes(data, suffix, sync=sync), data
    assert fh is not None
    with fh:
        if sync:
            return blobs.stage_stream(fh, suffix=suffix, max_bytes=max_bytes), None
        return blobs.stage_stream(fh, suffix=suffix, max_bytes=max_bytes, sync=False), None  # type: ignore[call-arg]


def _read_upto(fd: int, n: int, expected: int | None = None) -> bytes:
    """Up to ``n`` bytes from ``fd`` (fewer at its end), in as few reads as the kernel allows. A
    first read that returns ``expected`` bytes (the size fstat gave) is taken as the whole file:
    a regular file's read stops short only at its end, so no second read is spent to see it."""
    data = os.read(fd, n)
    if len(data) >= n or not data or len(data) == expected:
        return data
    parts = [data]
    got = len(data)
    while got < n and (more := os.read(fd, n - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


# -- many files ------------------------------------------------------------------------------------

# (position in the call, file, its name as listed, its checked catalog name or why it has none,
# whether it was listed as a symlink, which staging may follow)
Item = tuple[int, Path, str, "str | ReelforgeError", bool]
Outcome = tuple[int, "Staged | ReelforgeError"]


def _run_chunk(
    blobs: BlobStore, items: Sequence[Item], limits: MediaLimits, skip_invalid: bool, sync: bool,
    stop: Callable[[], bool], defer_thumbnails: bool = False,
) -> list[Outcome]:
    """Stage a chunk; without ``skip_invalid`` the first refusal discards the chunk's files and is
    its only outcome. Any other exception also discards them before it propagates."""
    out: list[Outcome] = []
    try:
        for index, src, raw_name, name, follow in items:
            if stop():
                break
            try:
                if isinstance(name, ReelforgeError):
                    raise name
                out.append((index, stage_one(blobs, src, raw_name, name, limits, sync=sync,
                                             defer_thumbnails=defer_thumbnails, follow=follow)))
            except ReelforgeError as exc:
                if not skip_invalid:
                    _discard(out)
                    return [(index, exc)]
                out.append((index, exc))
        if stop():  # another chunk was refused meanwhile: nothing of this call is kept
            _discard(out)
            return []
        return out
    except BaseException:
        _discard(out)
        raise


def _discard(outcomes: Sequence[Outcome]) -> None:
    for _, result in outcomes:
        if isinstance(result, Staged):
            result.discard()


# Worker-process state, set once by the pool's initializer.
_WORKER: dict[str, Any] = {}


def _init_worker(blob_url: str, limits: dict[str, Any], stop: Event, defer_thumbnails: bool = False,
                 environ: dict[str, str] | None = None, claims: Any = None) -> None:
    from reelforge.media.limits import MediaLimits
    from reelforge.storage import open_blob_store

    # Forked from the caller, a worker has its signal handlers: a SIGTERM handler would keep the
    # pool from stopping it, and an event loop's wakeup descriptor would hear its signals.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    if not gc.isenabled():
        # Forked from an ingest, which pauses collection: objects inherited from the parent are
        # set aside for good (a collection here must not run their finalizers: a database
        # connection's would talk on the parent's socket), and this process collects its own.
        gc.freeze()
        gc.enable()
    if environ is not None and environ != dict(os.environ):
        # A forked worker has the fork server's environment, from when it started; the store reads
        # its settings (S3 endpoint, credentials) from the caller's, as a spawned worker would.
        os.environ.clear()
        os.environ.update(environ)

    _WORKER.update(blobs=open_blob_store(blob_url), limits=MediaLimits.from_dict(limits), stop=stop,
                   defer=defer_thumbnails, claims=claims)


def _claim(claims: Any, index: int) -> bool:
    """Take chunk ``index`` unless another process has (the pool's workers and the calling process
    both take chunks; see _stage_parallel)."""
    with claims.get_lock():
        if claims[index]:
            return False
        claims[index] = 1
        return True


def _worker_chunk(index: int, items: Sequence[Item], skip_invalid: bool) -> list[Outcome] | None:
    """A chunk's outcomes, or None when the calling process took it first."""
    if not _claim(_WORKER["claims"], index):
        return None
    stop: Event = _WORKER["stop"]
    return _run_chunk(_WORKER["blobs"], items, _WORKER["limits"], skip_invalid, False, stop.is_set,
                      _WORKER["defer"])


def _worker_place(blobs: Sequence[tuple[str, str, int]]) -> list[tuple[str, bool]]:
    store = _WORKER["blobs"]
    return [store.place_staged(path, sha, size) for path, sha, size in blobs]


def default_workers() -> int:
    """Processes for a big ingest: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def plan_workers(files: Sequence[tuple[Path, str]], sizes: Sequence[int], workers: int) -> int:
    """How many worker processes an ingest of these files is worth (1: in-process)."""
    estimate = len(sizes) * _EST_FILE_SECONDS
    for (src, _), size in zip(files, sizes, strict=True):
        rate = _EST_AV_BYTES_PER_SECOND if src.suffix.lower() in _AV_SUFFIXES else _EST_BYTES_PER_SECOND
        estimate += size / rate
    if workers <= 1 or len(sizes) < 2 or estimate < _PARALLEL_FROM_SECONDS:
        return 1
    if multiprocessing.current_process().daemon:
        return 1  # a daemonic process (some job runners) may not start processes of its own
    return workers


def _chunks(items: list[Item], sizes: Sequence[int], workers: int) -> list[list[Item]]:
    """Contiguous chunks, about sixteen per worker by count and by bytes (but at most 64 files, and
    up to 8 MiB whatever the share): small enough that the processes finish together (the last
    chunk of stills is a few files, not a tenth of the set), big enough that handing them out
    costs little (a millisecond each)."""
    total = sum(sizes)
    max_files = max(1, min(64, len(items) // (workers * 16)))
    max_bytes = max(8 << 20, total // (workers * 16))
    out: list[list[Item]] = []
    current: list[Item] = []
    held = 0
    for item, size in zip(items, sizes, strict=True):
        if current and (len(current) >= max_files or held + size > max_bytes):
            out.append(current)
            current, held = [], 0
        current.append(item)
        held += size
    if current:
        out.append(current)
    return out


def stage_files(
    blobs: BlobStore,
    files: Sequence[tuple[Path, str]],
    limits: MediaLimits,
    check_name: Callable[[str], str],
    *,
    skip_invalid: bool = False,
    workers: int = 1,
    progress: Callable[[IngestProgress], None] | None = None,
    sizes: Sequence[int] | None = None,
    defer_thumbnails: bool = False,
    followable: Collection[Path] = (),
    keep_workers: bool = False,
) -> StageResult:
    """Stage every file (see the module docstring). Raises the first refusal, in the files' order
    as far as it is known, unless ``skip_invalid``; then nothing of this call is left in staging.
    Where the store commits batches (``commit_many``, which makes them durable), the staged bytes
    are not fsynced here. ``sizes``: the files' sizes, if the caller has them (for progress).
    ``followable``: the files listed as symlinks (``walk.collect``); any other file that is a
    symlink when it is opened is refused. ``keep_workers``: where the files were checked by worker
    processes and the store places blobs (``place_many``), the result keeps them as its ``placer``
    for the commit; the caller must ``close()`` the result."""
    sizes = list(sizes) if sizes is not None else [_size(src) for src, _ in files]
    items: list[Item] = [(i, src, raw, _named(check_name, raw), src in followable)
                         for i, (src, raw) in enumerate(files)]
    parallel = workers > 1 and hasattr(blobs, "commit_many") and hasattr(blobs, "url")
    batch_sync = not hasattr(blobs, "commit_many")  # stores without a batch commit sync each file
    tracker = _Tracker(len(files), sum(sizes), sizes, progress)
    if not parallel:
        outcomes: list[Outcome] = []
        try:
            for item in items:
                tracker.starting(item)
                got = _run_chunk(blobs, [item], limits, skip_invalid, batch_sync, lambda: False, defer_thumbnails)
                outcomes.extend(got)
                tracker.finished(got)
                if got and isinstance(got[0][1], ReelforgeError) and not skip_invalid:
                    break
        except BaseException:
            _discard(outcomes)
            raise
        return _result(outcomes, files, skip_invalid)
    chunks = _chunks(items, sizes, workers)
    # Only where a commit renames a batch and then syncs it once (see LocalBlobStore.place_many).
    keep = keep_workers and hasattr(blobs, "place_many") and sys.platform.startswith("linux")
    return _stage_parallel(blobs, chunks, files, limits, skip_invalid, min(workers, len(chunks)), tracker,
                           defer_thumbnails, keep)


# What a worker imports, loaded once by the fork server rather than by every worker.
_WORKER_MODULES = ["reelforge.catalog.staging", "reelforge.media.probe", "reelforge.storage.local"]


def _single_threaded() -> bool:
    """Whether this process runs one Python thread. (Native pools do not count: BLAS's idle
    threads, which numpy starts on import, and OpenMP's. BLAS and glibc's allocator keep their
    locks consistent across a fork, and the workers call neither BLAS nor OpenMP.)"""
    return threading.active_count() == 1


def _pool_context() -> multiprocessing.context.BaseContext:
    """How the workers start. A process with one Python thread (``reelforge add``, a script) forks them:
    they have its modules already, and start in milliseconds rather than the half second a fresh
    interpreter takes to import them, which is a fifth of the checks of 5,000 small files on 2 cores.
    With other Python threads (a progress bar, a web server, a job runner) a fork could copy a lock
    another thread holds, so a fork server (Linux) starts the workers instead: a fresh
    process that imports their modules once and forks them already loaded; it stays up for the next
    ingest. Elsewhere, spawn: every worker imports them. Workers get the caller's environment
    (``_init_worker``), but what a library read from it when the server imported it (thread counts,
    locale) is the server's, from its start."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform.startswith("linux") and _single_threaded():
        # The pool forks all its workers at its first submit, before it starts its own threads.
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_WORKER_MODULES)  # only read when the server starts
    return ctx


def _stage_parallel(
    blobs: BlobStore,
    chunks: list[list[Item]],
    files: Sequence[tuple[Path, str]],
    limits: MediaLimits,
    skip_invalid: bool,
    workers: int,
    tracker: _Tracker,
    defer_thumbnails: bool = False,
    keep_workers: bool = False,
) -> StageResult:
    ctx = _pool_context()
    stop = ctx.Event()
    claims = ctx.Array("b", len(chunks))  # 1: a process has taken the chunk
    results: list[list[Outcome] | None] = [None] * len(chunks)
    refused = broken = False
    pool = cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker,
        initargs=(blobs.url, limits.to_dict(), stop, defer_thumbnails, dict(os.environ), claims),
    )
    # Every chunk is handed to the pool at once (its own thread feeds the workers, so they never
    # wait on this process); workers take them from the front while this process takes them from
    # the back: all of them while the pool starts, and then it is one more worker. A chunk goes to
    # whichever process claims it first (a worker given one already taken skips it).
    futures: list[cf.Future[list[Outcome] | None] | None] = [None] * len(chunks)

    def failed(exc: BaseException) -> None:
        nonlocal broken
        if not broken:
            log.warning("ingest worker processes failed (%s); checking the remaining files in this process",
                        type(exc).__name__)
        broken = True

    try:
        for i, chunk in enumerate(chunks):
            futures[i] = pool.submit(_worker_chunk, i, chunk, skip_invalid)
    except Exception as exc:  # no worker could start (a fork server that died at its start raises
        failed(exc)  # here, not BrokenExecutor): this process does the rest
        # Workers started before one failed to (a fork refused at a process limit) wait on a queue
        # nobody will feed and would keep this process from exiting.
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()
    here = deque(i for i, f in enumerate(futures) if f is None)  # chunks no worker will do

    def finish(i: int, got: list[Outcome]) -> None:
        nonlocal refused
        results[i] = got
        tracker.finished(got)
        if _refused(got, skip_invalid):
            refused = True
            if not broken:
                stop.set()  # chunks in flight stop at their next file

    def stopped() -> bool:
        # Once the pool broke, its shared locks are not touched: a worker killed while holding
        # one would block this process for good.
        return refused if broken else stop.is_set()

    def run_here(i: int) -> None:
        for item in chunks[i]:
            tracker.starting(item)
        finish(i, _run_chunk(blobs, chunks[i], limits, skip_invalid, False, stopped, defer_thumbnails))

    def collect(block: bool) -> None:
        pending = [f for f in futures if f is not None]
        if block and pending:
            cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for i, fut in enumerate(futures):
            if fut is None or not fut.done():
                continue
            futures[i] = None
            try:
                got = fut.result()  # a bug or I/O error in a worker propagates (after cleanup)
            except cf.BrokenExecutor as exc:
                # A worker could not start (e.g. a __main__ that spawn cannot import) or died: its
                # chunk is done here. Files a killed worker staged (or one still staging while the
                # pool fails its futures, before it stops it) are left in staging for gc.
                failed(exc)
                if results[i] is None:
                    here.append(i)
                continue
            if got is not None:
                finish(i, got)

    try:
        back = len(chunks) - 1
        while not refused:
            collect(block=False)
            if refused:
                break
            if here:
                run_here(here.popleft())
                continue
            # Take the last chunk no worker has; once a worker has it, they have all before it.
            if back >= 0 and not broken and _claim(claims, back):
                run_here(back)
                back -= 1
                continue
            back = -1
            if any(f is not None for f in futures):
                collect(block=True)
            else:
                break
    except BaseException:
        if not broken:
            stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        _discard_all(results, futures)
        raise
    keep = keep_workers and not refused and not broken
    if not keep:
        pool.shutdown(wait=True, cancel_futures=True)
    if refused:
        _discard_all(results, futures)  # the call is refused as a whole: nothing stays staged
        first = min((o for got in results if got for o in got if isinstance(o[1], ReelforgeError)),
                    key=lambda o: o[0])
        _raise(first, files)
    outcomes: list[Outcome] = []
    for got in results:
        outcomes.extend(got or [])
    try:
        result = _result(outcomes, files, skip_invalid)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    if keep:
        result.placer = WorkerPlacer(pool, workers)
    return result


def _refused(got: Sequence[Outcome], skip_invalid: bool) -> bool:
    return not skip_invalid and any(isinstance(r, ReelforgeError) for _, r in got)


def _discard_all(results: list[list[Outcome] | None],
                 futures: Sequence[cf.Future[list[Outcome] | None] | None]) -> None:
    """Discard every staged file of the call: collected, and returned by chunks still in flight."""
    for i, fut in enumerate(futures):
        if fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None:
            got = fut.result()
            if got is not None:
                results[i] = got
    for got in results:
        _discard(got or [])


def _raise(outcome: Outcome, files: Sequence[tuple[Path, str]]) -> None:
    index, exc = outcome
    assert isinstance(exc, ReelforgeError)
    raise type(exc)(f"{display_name(str(files[index][0]))}: {exc}") from None


def _result(outcomes: list[Outcome], files: Sequence[tuple[Path, str]], skip_invalid: bool) -> StageResult:
    out = StageResult()
    outcomes.sort(key=lambda o: o[0])
    for index, result in outcomes:
        if isinstance(result, Staged):
            out.staged.append(result)
        elif not skip_invalid:
            _discard(outcomes)
            _raise((index, result), files)
        else:
            out.rejected.append((display_name(str(files[index][0])), str(result)))
    return out


def _named(check_name: Callable[[str], str], raw_name: str) -> str | ReelforgeError:
    """The catalog name, checked here (workers import no catalog code), or why it is refused."""
    try:
        return check_name(display_name(raw_name))
    except ReelforgeError as exc:
        return exc


def _size(src: Path) -> int:
    try:
        return src.stat().st_size
    except OSError:
        return 0  # staging will say what is wrong with it


class _Tracker:
    """Turns finished files into IngestProgress calls (files and bytes checked so far)."""

    def __init__(self, total: int, total_bytes: int, sizes: Sequence[int],
                 progress: Callable[[IngestProgress], None] | None) -> None:
        self.total, self.total_bytes, self.sizes, self.progress = total, total_bytes, sizes, progress
        self.done = 0
        self.done_bytes = 0

    def starting(self, item: Item) -> None:
        if self.progress is not None:
            self.progress(IngestProgress(self.done, self.total, self.done_bytes, self.total_bytes,
                                         f"checking {display_name(item[2])}"))

    def finished(self, outcomes: Sequence[Outcome]) -> None:
        for index, _ in outcomes:
            self.done += 1
            self.done_bytes += self.sizes[index]
        if self.progress is not None and outcomes:
            self.progress(IngestProgress(self.done, self.total, self.done_bytes, self.total_bytes,
                                         f"checked {self.done} of {self.total}"))
