"""The one error taxonomy of the API client. Messages are for operators and never carry a secret."""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error the client raises; `str()` is a short operator-facing reason."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(ApiError):
    """401: the key or token was rejected."""


class Forbidden(ApiError):
    """403: the credential is valid but lacks permission."""


class NotFound(ApiError):
    """404: the run, queue, token or other resource does not exist."""


class Conflict(ApiError):
    """409 and other 4xx that mean the request cannot be applied as sent."""


class BadRequest(ApiError):
    """400/413/422: the server rejected what was sent."""


class RateLimited(ApiError):
    """429: the environment's shared rate-limit bucket is empty."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        """Seconds until the bucket refills: the later of `x-ratelimit-reset` and `Retry-After`."""


class ServerError(ApiError):
    """5xx from the server."""


class Timeout(ApiError):
    """The server did not answer in time. For a mutation the outcome is unknown."""


class OutcomeUnknown(ApiError):
    """A mutation went out but its answer never came (timeout, connection dropped): it may or may not have
    happened, so check (verify) before sending it again. Mutations are never retried by the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}; the outcome is unknown, check before retrying")
        self.reason = reason
        """What went wrong, without the advice (for callers that verify by themselves)."""


class ConnectionFailed(ApiError):
    """The server could not be reached (refused, DNS, TLS, dropped connection)."""


class InvalidResponse(ApiError):
    """The server answered 2xx with a body that does not match the schema; names the field."""


class ReadOnly(ApiError):
    """A mutation was refused before any network I/O because the profile is read-only."""


class ConfigurationError(ApiError):
    """The client cannot make this call as configured (for example no admin token, or insecure http)."""
