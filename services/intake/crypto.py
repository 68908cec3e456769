"""Encryption at rest of personal fields (DOMAIN.md "Data protection"; GDPR Art. 32, Art. 17).

Envelope encryption: every data subject (a person, or an intake draft) has its own random 256-bit data
key. Personal fields are sealed with AES-GCM under that key, with the subject's id as associated data
(a blob copied to another row does not open). The data key is stored only wrapped (AES key wrap,
RFC 3394) by the master key from the settings (`INTAKE_MASTER_KEY`). Erasing a subject deletes its
wrapped data key (crypto-shredding): every blob sealed under it becomes unreadable, in the database and
in every backup of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

NONCE_BYTES = 12
VERSION = b"\x01"
#: HKDF info of the search index key: a key of its own, derived from the master key (never the master key itself).
SEARCH_KEY_INFO = b"ankommen/intake/person-search-index/v1"
TOKEN_BYTES = 16


class KeyUnavailable(Exception):
    """The subject's data key was erased (or the blob was not sealed for this subject)."""


def generate_master_key() -> str:
    """A new master key, base64 (what `ankommen up` writes into the stack's secrets)."""
    return base64.b64encode(os.urandom(32)).decode()


class Keyring:
    """Wraps and unwraps data keys with the master key; seals and opens personal fields."""

    def __init__(self, master_key_b64: str) -> None:
        if not master_key_b64:
            raise ValueError("INTAKE_MASTER_KEY is not set (base64 of 32 random bytes)")
        key = base64.b64decode(master_key_b64)
        if len(key) not in (16, 24, 32):
            raise ValueError("INTAKE_MASTER_KEY must be base64 of 16, 24 or 32 bytes")
        self._master = key

    def blind_index(self) -> BlindIndex:
        """The keyed hash of the search index, under a key derived from the master key (HKDF-SHA256)."""
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEARCH_KEY_INFO).derive(self._master)
        return BlindIndex(key)

    def new_data_key(self) -> tuple[bytes, bytes]:
        """(data key, wrapped data key)."""
        key = AESGCM.generate_key(bit_length=256)
        return key, aes_key_wrap(self._master, key)

    def unwrap(self, wrapped: bytes | None) -> bytes:
        if wrapped is None:
            raise KeyUnavailable("data key erased")
        try:
            return aes_key_unwrap(self._master, wrapped)
        except InvalidUnwrap as exc:
            raise KeyUnavailable("data key does not unwrap with this master key") from exc

    @staticmethod
    def seal(data_key: bytes, subject_id: uuid.UUID, fields: dict[str, Any]) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(fields, separators=(",", ":"), default=str).encode()
        return VERSION + nonce + AESGCM(data_key).encrypt(nonce, plain, subject_id.bytes)

    @staticmethod
    def open(data_key: bytes, subject_id: uuid.UUID, blob: bytes) -> dict[str, Any]:
        if not blob or blob[:1] != VERSION:
            raise KeyUnavailable("unknown blob format")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return json.loads(AESGCM(data_key).decrypt(nonce, body, subject_id.bytes))
        except InvalidTag as exc:
            raise KeyUnavailable("blob does not open for this subject") from exc


class BlindIndex:
    """Blind index of the person search (issue 14): a name part, phonetic key or birth date is stored and
    looked up only as HMAC-SHA256 under the search key, truncated to 128 bits, so the index table, SQL
    parameters and spans hold no name. Equal terms give equal tokens (that is what makes it searchable):
    whoever reads the table sees which persons share a term, not the term. Guessing a term needs the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()[:TOKEN_BYTES].hex()

    def reference(self, tokens: list[str]) -> str:
        """A reference for the audit log to a search's terms: a keyed hash of its sorted tokens (the same
        search gives the same reference; whoever holds the key can check a suspected query against it)."""
        return "q-" + self.token("audit", ",".join(sorted(tokens)))
