"""Optional Ed25519 signatures: a reviewer's key signs every record they append.

The hash chain shows that records were changed; a signature also shows who wrote them: someone
who edits a record and recomputes every hash still cannot sign with the reviewer's key. Each
signed record carries the public key; verify requires all of one reviewer's records to carry
the same key as their first signed record, so re-signing with another key is caught.
The private key lives in the user's config folder (GLASSBOX_CONFIG_DIR overrides it), mode 0600.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import BadInputError


def keys_dir() -> Path:
    override = os.environ.get("GLASSBOX_CONFIG_DIR")
    if override:
        return Path(override) / "keys"
    import platformdirs

    return Path(platformdirs.user_config_dir("glassbox", "glassbox")) / "keys"


def key_path(reviewer: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", reviewer).strip("._") or "reviewer"
    return keys_dir() / f"{safe}.ed25519.pem"


class Signer:
    """One reviewer's private key; `sign(record)` returns the record's signature entry."""

    def __init__(self, private_key: Any) -> None:
        self._key = private_key

    @property
    def public_hex(self) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()

    def sign(self, record: Mapping[str, Any]) -> dict[str, str]:
        return {"alg": "ed25519", "public_key": self.public_hex, "value": self._key.sign(_message(record)).hex()}


def _message(record: Mapping[str, Any]) -> bytes:
    """What is signed: the record's own SHA-256 (which covers every other field)."""
    return f"glassbox-record:{record['sha256']}".encode()


def create_key(reviewer: str, overwrite: bool = False) -> Signer:
    """A new Ed25519 key for `reviewer`, written 0600 to the keys folder."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = key_path(reviewer)
    if path.exists() and not overwrite:
        raise BadInputError(f"{reviewer} already has a signing key ({path}).")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return Signer(key)


def load_signer(reviewer: str) -> Signer | None:
    """The reviewer's key if they created one, else None (records are then unsigned)."""
    path = key_path(reviewer)
    if not path.exists():
        return None
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise BadInputError(f"{path}: not a readable signing key ({exc}).") from exc
    return Signer(key)


def check_signature(record: Mapping[str, Any]) -> bool:
    """True when the record's signature is valid for the public key it carries."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = record.get("signature")
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signature["public_key"]))
        public.verify(bytes.fromhex(signature["value"]), _message(record))
        return True
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
