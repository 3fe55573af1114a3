"""One error hierarchy for the whole project.

Doors map these once: to HTTP status codes (``http_status``) and to CLI exit codes (``exit_code``),
always with a one-line message. Capability rooms may raise them too (this module imports nothing).
"""

from __future__ import annotations


class ReelforgeError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""

    http_status = 500
    exit_code = 1

    def __init__(self, message: str) -> None:
        # Keep messages to one line: doors print them verbatim.
        super().__init__(" ".join(str(message).split()))


class InvalidInput(ReelforgeError):
    http_status = 400
    exit_code = 2


class NotFound(ReelforgeError):
    http_status = 404
    exit_code = 3


class PermissionDenied(ReelforgeError):
    http_status = 403
    exit_code = 4


class Conflict(ReelforgeError):
    http_status = 409
    exit_code = 5


class LimitExceeded(InvalidInput):
    """Input over a configured limit (bytes, pixels, duration...)."""

    http_status = 413


class MediaError(InvalidInput):
    """A file could not be sniffed, decoded or validated safely."""

    http_status = 422


class ScriptParseError(InvalidInput):
    """A screenplay could not be parsed; the message carries the line number."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class TaskFailed(ReelforgeError):
    exit_code = 6


class Cancelled(ReelforgeError):
    exit_code = 7


class Unavailable(ReelforgeError):
    """A studio server could not be reached, or answered that it cannot serve now (the remote SDK)."""

    http_status = 503
    exit_code = 69  # EX_UNAVAILABLE


class Unauthenticated(PermissionDenied):
    """No valid credentials (none given, a wrong password, an expired or revoked token)."""

    http_status = 401


class RateLimited(PermissionDenied):
    """Too many attempts (logins) in a window; ``retry_after`` says when to try again."""

    http_status = 429

    def __init__(self, message: str, retry_after: float = 60.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)
