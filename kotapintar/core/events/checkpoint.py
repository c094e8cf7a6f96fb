"""Signed checkpoints of the whole event log, kept outside the database.

The hash chains of `audit.py` prove each stream is internally consistent, but anyone with write access to the
database can rewrite a chain and its anchor together, delete a whole stream or rewind an anchor. A checkpoint
closes that gap: a Merkle root (RFC 6962 tree hash) over every event in global id order, the count, the head
(seq, hash) of every stream, and the time, signed with an Ed25519 key read from a file (never the database).
Published as a file and on the public `/audit` page, it lets anyone holding an earlier checkpoint detect any
rewrite since: `kotapintar audit verify --checkpoint FILE` recomputes the root and names what changed.

Events commit in id order only roughly (ids are taken at insert); a checkpoint covers the events older than
`SETTLE_S` seconds, which no open transaction can still add to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kotapintar.core.db.database import Database
from kotapintar.core.events.types import canonical_json, iso_utc, utcnow
from kotapintar.core.settings import Settings

log = logging.getLogger(__name__)
VERSION = 1
SETTLE_S = 30.0
_PAGE = 5000


# ------------------------------------------------------------------ the Merkle tree (RFC 6962 section 2.1)


def leaf_hash(event_id: int, stream: str, seq: int, chain_hash: str) -> bytes:
    """The tree leaf of one event: its global id, its place in its stream and its chain hash."""
    return hashlib.sha256(b"\x00" + f"{event_id}|{stream}|{seq}|{chain_hash}".encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleBuilder:
    """Streams leaves in and keeps only the perfect subtrees on the right edge (O(log n) memory)."""

    def __init__(self) -> None:
        self.count = 0
        self._stack: list[tuple[int, bytes]] = []  # (size, hash), sizes strictly decreasing

    def add(self, leaf: bytes) -> None:
        """Append one leaf."""
        self.count += 1
        size, digest = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, digest = left_size + size, _node(left, digest)
        self._stack.append((size, digest))

    def root(self) -> str:
        """The tree hash of every leaf added (the hash of the empty string for none)."""
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = _node(left, digest)
        return digest.hex()


# ------------------------------------------------------------------ keys


def generate_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, readable by the owner only); returns its public fingerprint."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return fingerprint(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key from its file."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key (first 16 hex digits of the SHA-256 of its raw bytes)."""
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def public_key_from_b64(value: str) -> Ed25519PublicKey:
    """A public key from its base64 raw form (as published in a checkpoint)."""
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(value))


# ------------------------------------------------------------------ state of the log


@dataclass
class LogState:
    """What a checkpoint records about the log up to `last_event_id`."""

    last_event_id: int
    count: int
    root: str
    streams: dict[str, tuple[int, str]] = field(default_factory=dict)


def _iter_events(db: Database, upto_id: int) -> Iterator[tuple[int, str, int, str]]:
    after = 0
    while True:
        with db.reading() as uow:
            rows = uow.events.chain_page(after, upto_id, _PAGE)
        yield from rows
        if len(rows) < _PAGE:
            return
        after = rows[-1][0]


def log_state(db: Database, upto_id: int) -> LogState:
    """The Merkle root, count and stream heads of the events with id ≤ `upto_id`, in id order."""
    tree = MerkleBuilder()
    heads: dict[str, tuple[int, str]] = {}
    for event_id, stream, seq, chain in _iter_events(db, upto_id):
        tree.add(leaf_hash(event_id, stream, seq, chain))
        heads[stream] = (seq, chain)
    return LogState(last_event_id=upto_id, count=tree.count, root=tree.root(), streams=heads)


def settled_last_id(db: Database, now: datetime | None = None) -> int:
    """The highest event id older than SETTLE_S seconds (0 when none)."""
    cutoff = (now or utcnow()) - timedelta(seconds=SETTLE_S)
    with db.reading() as uow:
        return uow.events.last_id_before(cutoff)


# ------------------------------------------------------------------ checkpoints


def _signed_bytes(body: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in body.items() if k != "signature"}).encode("utf-8")


def make_checkpoint(
    db: Database, key: Ed25519PrivateKey, *, log_name: str, upto_id: int | None = None
) -> dict[str, Any]:
    """A signed checkpoint of the log up to `upto_id` (default: every settled event)."""
    state = log_state(db, settled_last_id(db) if upto_id is None else upto_id)
    public = key.public_key()
    body: dict[str, Any] = {
        "version": VERSION,
        "log": log_name,
        "created_at": iso_utc(utcnow()),
        "last_event_id": state.last_event_id,
        "count": state.count,
        "root": state.root,
        "streams": {name: [seq, head] for name, (seq, head) in sorted(state.streams.items())},
        "public_key": base64.b64encode(_raw_public(public)).decode("ascii"),
        "key_id": fingerprint(public),
    }
    body["signature"] = base64.b64encode(key.sign(_signed_bytes(body))).decode("ascii")
    return body


def write_checkpoint(checkpoint: dict[str, Any], path: Path) -> None:
    """Publish a checkpoint atomically (readers never see half a file); keeps a dated copy next to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(checkpoint, ensure_ascii=False, indent=1, sort_keys=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    history = path.parent / "history"
    history.mkdir(exist_ok=True)
    stamp = str(checkpoint["created_at"]).replace(":", "").replace("-", "")
    (history / f"checkpoint-{stamp}-{checkpoint['count']}.json").write_text(text, encoding="utf-8")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint file as a dict (no check yet)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a checkpoint")
    return data


def signature_problem(checkpoint: dict[str, Any], trusted: Ed25519PublicKey | None) -> str | None:
    """None when the checkpoint is signed by its key (and that key is the trusted one), else why not."""
    try:
        public = public_key_from_b64(str(checkpoint["public_key"]))
        signature = base64.b64decode(str(checkpoint["signature"]))
    except (KeyError, ValueError) as exc:
        return f"the checkpoint is incomplete or malformed ({exc})"
    if trusted is not None and _raw_public(trusted) != _raw_public(public):
        return f"the checkpoint is signed by key {fingerprint(public)}, not by the trusted key {fingerprint(trusted)}"
    try:
        public.verify(signature, _signed_bytes(checkpoint))
    except InvalidSignature:
        return "the checkpoint's signature does not match its content: the file was altered"
    return None


def compare_with_log(db: Database, checkpoint: dict[str, Any]) -> list[str]:
    """What changed in the log since a (signature-checked) checkpoint; empty when nothing did."""
    upto = int(checkpoint["last_event_id"])
    state = log_state(db, upto)
    problems: list[str] = []
    signed_streams: dict[str, list[Any]] = checkpoint.get("streams") or {}
    with db.reading() as uow:
        anchors = {a.stream: a.last_seq for a in uow.events.streams()}
    for name, (seq, head) in sorted(signed_streams.items()):
        now = state.streams.get(name)
        if now is None:
            problems.append(f"stream {name}: deleted (the checkpoint recorded {seq} events up to id {upto})")
            continue
        if now[0] != seq:
            problems.append(
                f"stream {name}: the checkpoint recorded {seq} events up to id {upto}, the log now has {now[0]}"
            )
        elif now[1] != head:
            problems.append(
                f"stream {name}: rewritten (its head at seq {seq} no longer has the signed hash {head[:12]}…)"
            )
        anchor = anchors.get(name)
        if anchor is not None and anchor < seq:
            problems.append(f"stream {name}: anchor rewound from seq {seq} (signed) to {anchor}")
    for name in sorted(set(state.streams) - set(signed_streams)):
        problems.append(
            f"stream {name}: appears with events up to id {upto} that the checkpoint did not have"
        )
    if state.count != int(checkpoint["count"]):
        problems.append(
            f"the log holds {state.count} events up to id {upto}; the checkpoint signed {checkpoint['count']}"
        )
    if state.root != checkpoint["root"] and not problems:
        problems.append("the Merkle root over all events differs from the signed root (events were changed)")
    elif state.root != checkpoint["root"]:
        problems.append("the Merkle root over all events differs from the signed root")
    return problems


# ------------------------------------------------------------------ publishing (the worker)


def publish_checkpoint(db: Database, settings: Settings) -> dict[str, Any] | None:
    """Sign and publish a checkpoint now (None when no signing key is configured)."""
    if settings.audit_signing_key_path is None:
        return None
    key = load_private_key(settings.audit_signing_key_path)
    checkpoint = make_checkpoint(db, key, log_name=f"kotapintar:{settings.region_code}")
    write_checkpoint(checkpoint, settings.audit_checkpoint_path)
    return checkpoint


def start_checkpoint_thread(db: Database, settings: Settings) -> threading.Event | None:
    """Publish a checkpoint every `audit_checkpoint_interval_s` in a daemon thread; set the event to stop."""
    if settings.audit_signing_key_path is None or settings.audit_checkpoint_interval_s <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                publish_checkpoint(db, settings)
            except Exception:  # a full disk must not stop the worker; the next round retries
                log.exception("audit checkpoint failed")
            stop.wait(settings.audit_checkpoint_interval_s)

    threading.Thread(target=loop, name="audit-checkpoints", daemon=True).start()
    return stop
