"""HubSpot's error envelope and the exception the emulator raises to answer with one.

Bodies are compact JSON with the keys HubSpot sends, in its order: ``status``,
``message``, ``correlationId``, then ``errors``, ``context`` and ``category`` when
present. Validation failures list every invalid property twice, as HubSpot does: as
an escaped JSON array inside ``message`` and as ``errors[]`` entries.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

CONTENT_TYPE = "application/json;charset=utf-8"
#: The sandbox account's hub id, which HubSpot echoes in validation details.
PORTAL_ID = 24681357
NOT_FOUND_MESSAGE = ("Could not get some CONTACT objects, they may be deleted or not exist. "
                     "Check that ids are valid.")
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def correlation_id() -> str:
    return str(uuid.uuid4())


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":"))
    response = Response(data, status=status, headers=headers, content_type=CONTENT_TYPE)
    if isinstance(body, dict) and "correlationId" in body:
        response.headers["X-HubSpot-Correlation-Id"] = body["correlationId"]
    return response


def envelope(message: str, category: str | None = None, *, errors: list[Any] | None = None,
             context: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message,
                            "correlationId": correlation_id()}
    body.update(extra)
    if errors is not None:
        body["errors"] = errors
    if context is not None:
        body["context"] = context
    if category is not None:
        body["category"] = category
    return body


@dataclass(frozen=True)
class Problem:
    """One invalid property value, as HubSpot reports it."""

    name: str
    code: str
    message: str

    def detail(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.code, "name": self.name,
                "localizedErrorMessage": self.message, "portalId": PORTAL_ID}

    def error(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code,
                "context": {"propertyName": [self.name]}}


class HsError(Exception):
    """An answer other than success: status and body (and headers) as HubSpot sends them."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body.get('category', '')}: {body.get('message', '')}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    @property
    def category(self) -> str | None:
        return self.body.get("category")

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    def response(self) -> Response:
        return respond(self.body, self.status, self.headers)

    def as_batch_error(self, context: dict[str, list[str]]) -> dict[str, Any]:
        """This failure as one entry of a multi-status ``errors`` list: as documented, no
        ``errors`` details there (the message carries them)."""
        return {"status": "error", "category": self.category or "ERROR",
                "message": self.message, "context": context}


def validation_message(problems: list[Problem]) -> str:
    details = json.dumps([p.detail() for p in problems], separators=(",", ":"))
    return f"Property values were not valid: {details}"


def invalid(problems: list[Problem]) -> HsError:
    return HsError(400, envelope(validation_message(problems), "VALIDATION_ERROR",
                                 errors=[p.error() for p in problems]))


def bad_request(message: str, context: dict[str, list[str]] | None = None) -> HsError:
    return HsError(400, envelope(message, "VALIDATION_ERROR", context=context))


def conflict(existing_id: str) -> HsError:
    return HsError(409, envelope(f"Contact already exists. Existing ID: {existing_id}",
                                 "CONFLICT"))


def not_found() -> HsError:
    # HubSpot answers an unknown numeric id without a category.
    return HsError(404, envelope("resource not found"))


def object_not_found(id_: str) -> HsError:
    return HsError(404, envelope("Object not found.  objectId are usually numeric.",
                                 "OBJECT_NOT_FOUND", context={"id": [id_]}))


def unauthorized() -> HsError:
    return HsError(401, envelope(AUTH_MESSAGE, "INVALID_AUTHENTICATION"))


def unparsable(reason: str) -> HsError:
    return HsError(400, envelope(f"Invalid input JSON: {reason}"))


def ten_secondly_limited() -> HsError:
    return HsError(429, envelope("You have reached your ten_secondly_rolling limit.",
                                 errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING"))


def daily_limited() -> HsError:
    return HsError(429, envelope("You have reached your daily limit.",
                                 errorType="RATE_LIMIT", policyName="DAILY"))


def search_limited() -> HsError:
    # Recorded search 429s carry this body and no Retry-After header.
    return HsError(429, envelope("You have reached your secondly limit.", "RATE_LIMITS"))
