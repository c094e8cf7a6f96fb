"""Keep credentials out of the logs: `api_key=…` (and tokens) in a logged URL become `***`."""

from __future__ import annotations

import logging
import re

# Query parameters that carry a credential in some clients (Open311 puts the key in the query string).
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:api_key|apikey|token|access_token|k)=)[^&\s\"]*")


def redact(text: str) -> str:
    """`text` with every credential query value replaced by `***`."""
    return _SECRET_PARAMS.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """A logging filter that redacts credentials in the message and its arguments (uvicorn's access log
    passes the path with its query string as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction(names: tuple[str, ...] = ("uvicorn.access", "uvicorn.error")) -> None:
    """Attach the filter to the access and error loggers once (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
