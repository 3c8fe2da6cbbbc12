"""Secret redaction: every secret the harness loads is registered here and masked in any text it emits."""

from __future__ import annotations

import re
import threading

MASK = "***"
_HEADER_PATTERN = re.compile(
    r'(?i)(authorization|x-api-key|x-api-token|api-key|cookie|set-cookie)("?\s*[:=]\s*"?)([^\s,;"]+(\s+[^\s,;"]+)?)'
)


class Redactor:
    """Holds the secret values of this process and masks them in text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return _HEADER_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


REDACTOR = Redactor()
