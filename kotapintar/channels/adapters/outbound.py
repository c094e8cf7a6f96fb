"""Pluggable outbound gateway: how messages reach citizens (the log by default, an HTTP gateway for providers)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from kotapintar.core.settings import Settings

log = logging.getLogger("kotapintar.outbound")


@dataclass(frozen=True)
class OutboundMessage:
    """One text to one address (phone number, chat id, email) on one channel."""

    channel: str
    to: str
    text: str


class OutboundGateway(Protocol):
    """Anything that can deliver a text to a citizen."""

    def send(self, message: OutboundMessage) -> None:
        """Deliver one message (raise on failure so the caller can retry later)."""


@dataclass
class ConsoleGateway:
    """Writes messages to the log and keeps the last ones in memory (development, demo, tests)."""

    keep: int = 1000
    sent: list[OutboundMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutboundMessage) -> None:
        """Log the message; the address is shortened so logs do not collect phone numbers."""
        log.info("to %s via %s: %s", mask(message.to), message.channel, message.text)
        with self._lock:
            self.sent.append(message)
            del self.sent[: -self.keep]

    def to(self, address: str) -> list[str]:
        """Texts sent to one address, oldest first."""
        with self._lock:
            return [m.text for m in self.sent if m.to == address]


@dataclass
class HttpGateway:
    """POSTs `{"channel", "to", "text"}` as JSON to the provider bridge at `url`."""

    url: str
    timeout_s: float = 10.0

    def send(self, message: OutboundMessage) -> None:
        """Deliver through the HTTP bridge; a non-2xx answer raises."""
        response = httpx.post(
            self.url,
            json={"channel": message.channel, "to": message.to, "text": message.text},
            timeout=self.timeout_s,
        )
        response.raise_for_status()


def mask(address: str) -> str:
    """`+6281234567890` -> `+62812…890`: enough to follow a log, not enough to call."""
    return address if len(address) <= 6 else f"{address[:6]}…{address[-3:]}"


_gateways: dict[tuple[str, str | None], OutboundGateway] = {}
_gateways_lock = threading.Lock()


def gateway_for(settings: Settings) -> OutboundGateway:
    """The process-wide gateway that `settings` choose (`outbound_gateway`, `outbound_http_url`)."""
    key = (settings.outbound_gateway, settings.outbound_http_url)
    with _gateways_lock:
        found = _gateways.get(key)
        if found is None:
            if settings.outbound_gateway == "http":
                if not settings.outbound_http_url:
                    raise ValueError("KOTAPINTAR_OUTBOUND_HTTP_URL is required with outbound_gateway=http")
                found = HttpGateway(settings.outbound_http_url)
            else:
                found = ConsoleGateway()
            _gateways[key] = found
        return found
