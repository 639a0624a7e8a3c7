"""API errors: each carries its status and code; one middleware renders them (SPEC §3).

Services and handlers raise these and never build error responses themselves. The JSON
shape is always `{"error": code, "message": text, "details": [...]}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

Detail = dict[str, Any]


class ApiError(Exception):
    """Base of every error a client may see. Subclasses fix the status and the code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "An unexpected error occurred."

    def __init__(
        self,
        message: str | None = None,
        details: list[Detail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class ValidationError(ApiError):
    status = 400
    code = "validation_error"
    default_message = "The request is not valid."

    @classmethod
    def field(cls, field: str, message: str) -> ValidationError:
        """A validation error about one named field."""
        return cls(
            f"Invalid value for '{field}': {message}", [{"field": field, "message": message}]
        )


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"
    default_message = "Authentication required: send 'Authorization: Bearer <API key>'."


class InvalidApiKey(ApiError):
    # SPEC §4 fixes this body to the letter.
    status = 401
    code = "invalid_api_key"
    default_message = "The provided API key is invalid or has been revoked."


class Forbidden(ApiError):
    status = 403
    code = "forbidden"
    default_message = "You do not have permission to do this."


class NotFound(ApiError):
    status = 404
    code = "not_found"
    default_message = "The requested resource does not exist."


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed on this resource."


class Conflict(ApiError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class PreconditionFailed(ApiError):
    status = 412
    code = "precondition_failed"
    default_message = "The resource has changed since you last read it."


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UriTooLong(ApiError):
    # Answered for aiohttp's HTTP parser, which refuses the request before any handler.
    status = 414
    code = "uri_too_long"
    default_message = "The request URL is longer than the server accepts."


class HeaderFieldsTooLarge(ApiError):
    # Answered for aiohttp's HTTP parser, like UriTooLong; never quotes the header.
    status = 431
    code = "header_fields_too_large"
    default_message = "A request header is larger than the server accepts, or there are too many."


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"
    default_message = "Send the request body as JSON with 'Content-Type: application/json'."


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"
    default_message = "Rate limit exceeded; retry after the number of seconds in Retry-After."


class InternalError(ApiError):
    status = 500
    code = "internal_error"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"
    default_message = "The service is temporarily unavailable (storage busy or full); retry later."


ERROR_CLASSES: tuple[type[ApiError], ...] = (
    ValidationError,
    Unauthorized,
    InvalidApiKey,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    HeaderFieldsTooLarge,
    RateLimited,
    InternalError,
    Unavailable,
)

# Code for each HTTP status aiohttp itself may raise before our handlers run.
CODE_BY_STATUS: dict[int, type[ApiError]] = {cls.status: cls for cls in ERROR_CLASSES}
CODE_BY_STATUS[401] = Unauthorized
