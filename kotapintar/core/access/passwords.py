"""Password strength: a real estimator (zxcvbn, with its bundled lists of common passwords and words) plus a
shipped list of common Indonesian passwords; the demo password is refused outside the demo.

Nothing is downloaded at run time: zxcvbn carries its frequency lists in the wheel, ours is in `data/`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from zxcvbn import zxcvbn

from kotapintar.core.errors import ValidationFailed

MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn 0..4: 3 = "safely unguessable: moderate protection from offline slow-hash attacks"
DEMO_PASSWORD = "kotapintar-demo"  # published in the README: valid for the demo city only


@lru_cache(maxsize=1)
def common_words() -> tuple[str, ...]:
    """The shipped Indonesian list (lower case)."""
    text = (
        resources.files("kotapintar.core.access").joinpath("data/common_passwords_id.txt").read_text("utf-8")
    )
    return tuple(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def check_password(password: str, *, username: str = "", allow_demo: bool = False) -> None:
    """Refuse a weak password with a message that says why (ValidationFailed, field `password`)."""

    def refuse(reason_id: str, reason_en: str) -> None:
        raise ValidationFailed(f"{reason_id} / {reason_en}", field="password", code="weak_password")

    if password == DEMO_PASSWORD and not allow_demo:
        refuse(
            "Kata sandi demo tidak boleh dipakai di luar demo",
            "the published demo password may not be used outside the demo",
        )
    if password == DEMO_PASSWORD:
        return
    if len(password) < MIN_LENGTH:
        refuse(
            f"Kata sandi minimal {MIN_LENGTH} karakter",
            f"the password needs at least {MIN_LENGTH} characters",
        )
    lowered = password.lower()
    name = username.lower().strip()
    if name and (name in lowered or lowered in name):
        refuse("Kata sandi tidak boleh memuat nama pengguna", "the password may not contain the username")
    stripped = "".join(ch for ch in lowered if ch.isalpha())
    if stripped in common_words():
        refuse("Kata sandi ini terlalu umum", "this password is too common")
    hints = [name, *(p for p in name.replace(".", " ").replace("_", " ").split() if p), *common_words()]
    result = zxcvbn(password[:200], user_inputs=[h for h in hints if h])
    if int(result["score"]) < MIN_SCORE:
        warning = str(result.get("feedback", {}).get("warning") or "").strip()
        refuse(
            "Kata sandi terlalu mudah ditebak; pakai beberapa kata acak atau frasa panjang",
            "the password is too easy to guess"
            + (f" ({warning})" if warning else "")
            + "; use several random words or a long phrase",
        )
