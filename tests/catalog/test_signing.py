"""The studio's signing identity and C2PA manifests: made at init with private keys, accepted by C2PA,
valid for this studio only, and broken by any change to the signed bytes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from skimage import data

from reelforge.catalog import signing
from reelforge.config import load_settings
from reelforge.errors import InvalidInput
from reelforge.studio import Studio

RECORD = {"job_id": "job_test", "task": "testing.x", "params": {"a": 1}, "seed": 7, "inputs": [],
          "code_version": "abc", "asset_id": "ast_test"}


def _png(path: Path) -> Path:
    Image.fromarray(data.coffee()[:128, :160]).save(path)
    return path


def _sign(path: Path, identity: signing.Identity) -> Path:
    assert signing.sign_file(path, identity, signing.manifest(RECORD, "trainedAlgorithmicMedia", path.name))
    return path


def test_init_makes_a_private_identity_that_c2pa_accepts(sqlite_studio: Studio) -> None:
    keys = sqlite_studio.home / signing.KEYS_DIR
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for name in (signing.KEY, signing.CA_KEY, signing.WATERMARK_KEY):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    chain = x509.load_pem_x509_certificates((keys / signing.CHAIN).read_bytes())
    ee, ca = chain
    assert ee.issuer == ca.subject and ee.issuer != ee.subject  # not self-signed: C2PA refuses those
    assert not ee.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ee.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ee.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # A second call (another worker process) keeps the identity.
    before = (keys / signing.WATERMARK_KEY).read_bytes()
    signing.create_identity(sqlite_studio.home)
    ident = signing.load_identity(sqlite_studio.settings)
    assert ident.watermark_key == before and ident.trust_pem == (keys / signing.CA_CERT).read_bytes()


def test_manifest_carries_the_source_type_and_lineage(sqlite_studio: Studio, tmp_path: Path) -> None:
    ident = signing.load_identity(sqlite_studio.settings)
    path = _sign(_png(tmp_path / "a.png"), ident)
    check = signing.verify_signature(path, ident)
    assert check.status == "valid" and check.holds and not check.failures, check
    assert check.digital_source_type == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert check.lineage == RECORD
    import c2pa

    with c2pa.Reader(str(path)) as reader:
        active = reader.get_active_manifest()
    assert active["claim_generator_info"][0]["name"] == "reelforge"
    actions = next(a for a in active["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created"


def test_changed_bytes_foreign_signers_and_unsigned_files(sqlite_studio: Studio, tmp_path: Path) -> None:
    ident = signing.load_identity(sqlite_studio.settings)
    path = _sign(_png(tmp_path / "a.png"), ident)
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"IDAT") + 40] ^= 0x01  # one bit of the image data
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(bytes(raw))
    bad = signing.verify_signature(tampered, ident)
    assert bad.status == "invalid" and not bad.holds and any("dataHash.mismatch" in f for f in bad.failures)
    # Signed by another studio: a valid signature, but not ours.
    other_home = tmp_path / "other"
    other_home.mkdir()
    other = signing.load_identity(load_settings(other_home))
    assert signing.verify_signature(path, other).status == "untrusted"
    assert signing.verify_signature(_png(tmp_path / "plain.png"), ident).status == "absent"


def test_a_studio_may_bring_its_own_certificate(tmp_path: Path) -> None:
    certs = signing._make_certificates()
    assert certs is not None
    home = tmp_path / "studio"
    home.mkdir()
    (home / "mine.pem").write_bytes(certs[signing.CHAIN])
    (home / "mine.key").write_bytes(certs[signing.KEY])
    settings = load_settings(home, {"signing_cert": "mine.pem", "signing_key": "mine.key"})
    ident = signing.load_identity(settings)
    assert ident.chain_pem == certs[signing.CHAIN] and ident.trust_pem == certs[signing.CA_CERT]
    path = _sign(_png(tmp_path / "a.png"), ident)
    check = signing.verify_signature(path, ident)
    assert check.status == "valid"
    own = x509.load_pem_x509_certificates(certs[signing.CHAIN])[0]
    assert check.signer == own.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    with pytest.raises(InvalidInput, match="go together"):
        signing.load_identity(load_settings(home, {"signing_cert": "mine.pem"}))
    with pytest.raises(InvalidInput, match="cannot read"):
        signing.load_identity(load_settings(home, {"signing_cert": "nope.pem", "signing_key": "mine.key"}))


def test_without_c2pa_files_stay_unsigned(sqlite_studio: Studio, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "_c2pa", lambda: None)
    ident = signing.load_identity(sqlite_studio.settings)
    path = _png(tmp_path / "a.png")
    before = path.read_bytes()
    assert not signing.sign_file(path, ident, signing.manifest(RECORD, None, "a.png"))
    assert path.read_bytes() == before
    assert signing.verify_signature(path, ident).status == "unavailable"
