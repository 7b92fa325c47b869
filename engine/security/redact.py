"""A logging filter that keeps API keys, tokens and secrets out of every log record.

Install once at startup with :func:`install_redaction` (on the root logger's handlers, so
library loggers such as uvicorn's access log are covered too). The filter rewrites the
record's message (after %-formatting) and any exception text, replacing

* our API keys (``tsk_...``) and tokens (``tst1.x.y``, ``tst1..x.y`` when compressed),
* values after ``Authorization: Bearer``, ``X-API-Key``, ``api_key=``/``token=``/``key=``
  (query strings, JSON fields, headers), and Redis URL passwords,
* any exact secret registered with :meth:`RedactingFilter.add_secret` (e.g. the token secret),

with ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# Values never start with "%": a %-style placeholder in a log template (``token=%s``) is
# left for its (separately cleaned) argument.
_PATTERNS = [
    re.compile(r"tsk_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"tst1\.\.?[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)(bearer\s+)(?!%)[^\s'\",;]+"),
    re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)(?!%)[^\s'\",;&]+"),
    re.compile(
        r"(?i)((?:api_key|apikey|api-key|access_token|token|secret|password|key)"
        r"['\"]?\s*[:=]\s*['\"]?)(?!%)[^\s'\",;&}]+"
    ),
    re.compile(r"(?i)(rediss?://[^:/@\s]*:)[^@\s]+(@)"),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record so no credential reaches a handler."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = {s for s in secrets if s and len(s) >= 6}

    def add_secret(self, secret: str) -> None:
        """Also redact this exact string (ignored when shorter than 6 characters)."""
        if secret and len(secret) >= 6:
            self._secrets.add(secret)

    def _clean(self, value: object) -> object:
        if isinstance(value, str):
            return redact(value, self._secrets)
        if value is None or isinstance(value, int | float | bool):
            return value
        text = str(value)
        cleaned = redact(text, self._secrets)
        return value if cleaned == text else cleaned  # keep objects that carry no secret

    def filter(self, record: logging.LogRecord) -> bool:
        # Arguments are cleaned one by one, not merged into the message: formatters such as
        # uvicorn's access log unpack ``record.args`` themselves.
        if isinstance(record.msg, str):
            record.msg = redact(record.msg, self._secrets)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        if record.args:
            # A secret can also be split between template and argument ("token=%s"): check the
            # joined text, and only then merge it (formatters that unpack args keep them).
            try:
                joined = record.getMessage()
            except Exception:  # a broken format string: leave it to the handler
                joined = ""
            cleaned = redact(joined, self._secrets)
            if cleaned != joined:
                record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


DEFAULT_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def install_redaction(
    secrets: Iterable[str] = (), logger_names: Iterable[str] = DEFAULT_LOGGERS
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to every handler of the named loggers.

    The default names are the root logger and uvicorn's own (which do not propagate).
    Filters on handlers (not loggers) also see records propagated from child loggers.
    Handlers added later are not covered: call this after logging is configured.
    """
    filt = RedactingFilter(secrets)
    for name in logger_names:
        for handler in logging.getLogger(name or None).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(filt)
    return filt
