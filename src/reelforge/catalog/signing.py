"""The studio's signing identity and C2PA manifests: signed outputs, and their offline verification.

A studio signs what it generates with its own certificate. At first use (``reelforge init``, or the
first signed output) ``keys/`` in the studio home gets a small certificate authority (EC P-256, its
certificate is the trust anchor verification uses) and an end-entity signing certificate issued by
it with the usages C2PA requires (digitalSignature, the emailProtection EKU; C2PA refuses self-signed
end-entity certificates), plus the secret key of the invisible watermark. Keys are written 0600, the
folder 0700, and the folder appears atomically (a rename), so worker processes starting together agree
on one identity. A studio may bring its own certificate instead: settings ``signing_cert`` (PEM chain,
end-entity first), ``signing_key`` (PEM private key) and optionally ``signing_trust`` (PEM anchors;
default: the last certificate of the chain); relative paths are from the studio home.

C2PA itself (``c2pa-python``, the ``c2pa`` extra) is optional: without it outputs are watermarked and
carry their PNG record but no manifest, and a warning is logged once. Verification never touches the
network: trust is the studio's own anchor, remote manifests and OCSP are not fetched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.config import Settings

log = logging.getLogger(__name__)

KEYS_DIR = "keys"
CA_CERT, CA_KEY = "signing-ca.pem", "signing-ca.key"
CHAIN, KEY = "signing.pem", "signing.key"
WATERMARK_KEY = "watermark.key"
LINEAGE_LABEL = "ai.reelforge.lineage"
IPTC_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# What C2PA can carry a manifest in, of what reelforge writes (others are left unsigned).
SIGNABLE = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4",
            ".mov": "video/quicktime", ".gif": "image/gif", ".webp": "image/webp"}


@dataclass(frozen=True)
class Identity:
    """What signing and watermark detection need of a studio."""

    watermark_key: bytes
    chain_pem: bytes | None = None  # end-entity first; None: no C2PA signing identity
    key_pem: bytes | None = None
    trust_pem: bytes | None = None  # the anchors a valid signature must chain to

    @property
    def studio_tag(self) -> int:
        """24 bits naming the studio inside watermark payloads."""
        return int.from_bytes(hashlib.sha256(b"studio-tag\x00" + self.watermark_key).digest()[:3], "big")

    def watermark_payload(self, content_sha256: str) -> int:
        """The 64-bit payload of an output: studio tag (24 bits) + 40 bits of the hash of its pixels
        before marking. From the content, not the asset id, so regenerating an output from its
        recorded seed still gives the same pixels, watermark included."""
        return (self.studio_tag << 40) | int(content_sha256[:10], 16)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _make_certificates() -> dict[str, bytes] | None:
    """A CA and an end-entity certificate (EC P-256) that C2PA accepts; None without cryptography."""
    try:
        import datetime as dt

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        return None

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "reelforge studio")])

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=3650)
    tag = secrets.token_hex(4)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"reelforge studio CA {tag}")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(sign=False, ca=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee = (x509.CertificateBuilder().subject_name(name(f"reelforge studio signer {tag}")).issuer_name(ca_name)
          .public_key(ee_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
          .add_extension(usage(sign=True, ca=False), critical=True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    def pem(c: x509.Certificate) -> bytes:
        return c.public_bytes(serialization.Encoding.PEM)

    def key(k: ec.EllipticCurvePrivateKey) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    return {CA_CERT: pem(ca), CA_KEY: key(ca_key), CHAIN: pem(ee) + pem(ca), KEY: key(ee_key)}


def create_identity(home: Path) -> Path:
    """Create ``home/keys`` (watermark key, and certificates when ``cryptography`` is installed) unless
    it exists. Safe against concurrent callers: the folder is built aside and renamed into place."""
    keys = home / KEYS_DIR
    if (keys / WATERMARK_KEY).exists():
        return keys
    tmp = Path(tempfile.mkdtemp(prefix=".keys-", dir=home))
    try:
        os.chmod(tmp, 0o700)
        _write_private(tmp / WATERMARK_KEY, secrets.token_bytes(32))
        for fname, data in (_make_certificates() or {}).items():
            _write_private(tmp / fname, data)
        try:
            os.rename(tmp, keys)
        except OSError:  # another process made it first: theirs is the identity
            if not (keys / WATERMARK_KEY).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return keys


def _read_setting_file(settings: Settings, value: str, what: str) -> bytes:
    path = settings.home / Path(value).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"setting {what}: cannot read {path}: {exc.strerror}") from None


def _last_certificate(chain: bytes) -> bytes:
    marker = b"-----BEGIN CERTIFICATE-----"
    at = chain.rfind(marker)
    return chain[at:] if at >= 0 else chain


def load_identity(settings: Settings, *, create: bool = True) -> Identity:
    """The studio's identity (created at first use unless ``create`` is off)."""
    keys = settings.home / KEYS_DIR
    if create:
        create_identity(settings.home)
    try:
        wm_key = (keys / WATERMARK_KEY).read_bytes()
    except OSError:
        wm_key = b""
    cert_setting, key_setting, trust_setting = settings.signing_cert, settings.signing_key, settings.signing_trust
    if cert_setting or key_setting:
        if not (cert_setting and key_setting):
            raise InvalidInput("settings signing_cert and signing_key go together: set both or neither")
        chain = _read_setting_file(settings, cert_setting, "signing_cert")
        key = _read_setting_file(settings, key_setting, "signing_key")
    else:
        try:
            chain, key = (keys / CHAIN).read_bytes(), (keys / KEY).read_bytes()
        except OSError:
            return Identity(wm_key)
    trust = _read_setting_file(settings, trust_setting, "signing_trust") if trust_setting else _last_certificate(chain)
    return Identity(wm_key, chain, key, trust)


# -- C2PA --------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _c2pa() -> Any:
    """The c2pa module, or None (logged once) when the extra is not installed."""
    try:
        import c2pa
    except (ImportError, OSError) as exc:
        log.warning("C2PA signing is off: c2pa-python is not installed (%s); install reelforge[c2pa]", exc)
        return None
    return c2pa


def c2pa_available() -> bool:
    return _c2pa() is not None


def _alg(key_pem: bytes) -> str:
    """The C2PA algorithm for a private key (EC curve size, Ed25519, or RSA-PSS)."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        return "es256"
    try:
        k = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"signing key is not an unencrypted PEM private key: {exc}") from None
    if isinstance(k, ec.EllipticCurvePrivateKey):
        return {256: "es256", 384: "es384", 521: "es512"}.get(k.curve.key_size, "es256")
    if isinstance(k, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(k, rsa.RSAPrivateKey):
        return "ps256"
    raise InvalidInput("signing key must be EC (P-256/384/521), Ed25519 or RSA")


def manifest(record: dict[str, Any], source_type: str | None, title: str) -> dict[str, Any]:
    """The manifest definition: who made it (claim generator), how (c2pa.created with the IPTC
    digital source type) and the full lineage record as a custom assertion."""
    from reelforge import __version__

    action: dict[str, Any] = {"action": "c2pa.created", "softwareAgent": {"name": "reelforge", "version": __version__}}
    if source_type:
        action["digitalSourceType"] = IPTC_SOURCE + source_type
    # Round-trip through JSON: the assertion must be plain data, whatever the record holds.
    lineage = json.loads(json.dumps(record, default=str))
    return {
        "claim_generator_info": [{"name": "reelforge", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {"label": LINEAGE_LABEL, "data": lineage},
        ],
    }


def sign_file(path: Path, identity: Identity, definition: dict[str, Any]) -> bool:
    """Embed a signed manifest in ``path`` (in place, atomically). False when it cannot be signed
    here: c2pa not installed, no certificate, or a format C2PA does not carry."""
    mime = SIGNABLE.get(path.suffix.lower())
    c2pa = _c2pa()
    if c2pa is None or mime is None or identity.chain_pem is None or identity.key_pem is None:
        return False
    info = c2pa.C2paSignerInfo(_alg(identity.key_pem).encode(), identity.chain_pem, identity.key_pem, None)
    settings = c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    tmp = path.with_name(f".{path.name}.signing{path.suffix}")
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Context(settings) as ctx, \
                c2pa.Builder(definition, ctx) as builder, open(path, "rb") as src, open(tmp, "w+b") as dst:
            builder.sign(signer, mime, src, dst)
        os.replace(tmp, path)
    except c2pa.C2paError as exc:
        raise InvalidInput(f"C2PA signing failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return True


@dataclass
class SignatureCheck:
    """C2PA check of one file: ``valid`` (signed by this studio's certificate, content unchanged),
    ``invalid`` (tampered content or a broken signature), ``untrusted`` (a valid signature by
    someone else), ``absent`` (no manifest) or ``unavailable`` (c2pa not installed)."""

    status: str
    detail: str = ""
    signer: str | None = None
    digital_source_type: str | None = None
    lineage: dict[str, Any] | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return self.status == "valid"

    def to_dict(self) -> dict[str, Any]:
        return vars(self).copy()


def verify_signature(path: Path, identity: Identity | None) -> SignatureCheck:
    """Read and validate the file's C2PA manifest, offline, trusting only the studio's anchor."""
    c2pa = _c2pa()
    if c2pa is None:
        return SignatureCheck("unavailable", "c2pa-python is not installed")
    verify: dict[str, Any] = {"verify_trust": bool(identity and identity.trust_pem),
                              "remote_manifest_fetch": False, "ocsp_fetch": False}
    conf: dict[str, Any] = {"verify": verify}
    if identity and identity.trust_pem:
        conf["trust"] = {"trust_anchors": identity.trust_pem.decode("ascii", "replace")}
    try:
        with c2pa.Context(c2pa.Settings.from_dict(conf)) as ctx, open(path, "rb") as fh, \
                c2pa.Reader(SIGNABLE.get(path.suffix.lower(), ""), fh, context=ctx) as reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            active = reader.get_active_manifest() or {}
    except c2pa.C2paError as exc:
        text = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or "not found" in text.lower() or "JumbfNotFound" in text:
            return SignatureCheck("absent", "no C2PA manifest in this file")
        return SignatureCheck("invalid", f"unreadable C2PA manifest: {text[:200]}")
    failures = [f"{f.get('code')}: {f.get('explanation', '')}".strip()
                for f in (results.get("activeManifest") or {}).get("failure", []) if isinstance(f, dict)]
    info = active.get("signature_info") or {}
    signer = info.get("common_name") or info.get("issuer")
    lineage = next((a.get("data") for a in active.get("assertions", [])
                    if isinstance(a, dict) and a.get("label") == LINEAGE_LABEL), None)
    dst = None
    for a in active.get("assertions", []):
        if isinstance(a, dict) and str(a.get("label", "")).startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions", []):
                if isinstance(act, dict) and act.get("digitalSourceType"):
                    dst = str(act["digitalSourceType"])
    check = SignatureCheck("invalid", signer=signer, digital_source_type=dst,
                           lineage=lineage if isinstance(lineage, dict) else None, failures=failures)
    untrusted_only = failures and all(f.startswith("signingCredential.untrusted") for f in failures)
    if state == "Trusted" and not failures:
        check.status, check.detail = "valid", f"signed by {signer}, content unchanged since signing"
    elif state == "Valid" or untrusted_only:
        check.status, check.detail = "untrusted", f"validly signed by {signer}, not by this studio's certificate"
    else:
        check.detail = "; ".join(failures) or f"validation state {state}"
    return check
