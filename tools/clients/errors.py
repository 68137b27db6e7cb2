"""Every exception an adapter raises, in one place, so a caller knows exactly what to catch.

Each carries the :class:`RequestRecord` of the request that failed and a reason a person can act on.
"""

from __future__ import annotations

from tools.result import RequestRecord


class UpstreamError(Exception):
    """Base class: an upstream system did not give a usable answer."""

    def __init__(self, reason: str, request: RequestRecord) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request = request


class UpstreamTimeout(UpstreamError):
    """No answer within the configured timeout."""


class UpstreamUnavailable(UpstreamError):
    """The connection failed (refused, reset, DNS)."""


class BadResponse(UpstreamError):
    """The upstream answered, but not with the documented wire format."""


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with an HTTP error status."""

    def __init__(
        self,
        reason: str,
        request: RequestRecord,
        *,
        status_code: int,
        error_code: str | None = None,
        body: object = None,
    ) -> None:
        super().__init__(reason, request)
        self.status_code = status_code
        self.error_code = error_code
        self.body = body


class NotFound(UpstreamHTTPError):
    """HTTP 404 / RESOURCE_DOES_NOT_EXIST: the thing asked about does not exist."""


class Conflict(UpstreamHTTPError):
    """HTTP 409: the resource is busy (e.g. an endpoint update is in progress)."""
