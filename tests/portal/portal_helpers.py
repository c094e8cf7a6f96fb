"""Helpers of the portal tests: a small real photo and screenshots for the docs."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "portal"
DOCS_SHOTS = ROOT / "docs" / "screenshots"


def small_png() -> bytes:
    """A valid 16×16 PNG (a photo the intake accepts)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (180, 35, 24)).save(out, format="PNG")
    return out.getvalue()


def shot(page: Any, name: str) -> None:
    """Save a screenshot as a test artefact, and as the docs' current one with KOTAPINTAR_UPDATE_SCREENSHOTS=1."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("KOTAPINTAR_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        with Image.open(ARTIFACTS / f"{name}.png") as image:
            image.convert("RGB").quantize(colors=256).save(DOCS_SHOTS / f"{name}.png", optimize=True)
