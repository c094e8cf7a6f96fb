"""Helpers the browser tests share: log in through the login form, wait for the live stream, a tiny PNG."""

from __future__ import annotations

import struct
import zlib
from typing import Any

PASSWORD = "kotapintar-demo"


def login(browser: Any, base: str, username: str, viewport: tuple[int, int] = (1920, 1080)) -> Any:
    """A fresh browser context logged in as `username`; returns its page."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="id-ID")
    page = context.new_page()
    page.goto(f"{base}/masuk")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/masuk'] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "/masuk" not in page.url, f"login as {username} failed"
    return page


def wait_live(page: Any) -> None:
    """Wait until the page's live stream is connected (the status line says so)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-live-status]');"
        " return s && s.textContent === document.body.dataset.msgLiveConnected; }",
        timeout=10000,
    )


def tiny_png() -> bytes:
    """A valid 8×8 PNG made without any image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xb4\x23\x18" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
