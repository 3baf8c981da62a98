"""Private-app scopes in the HubSpot emulator: which scope each kind of request needs,
the 403 ``MISSING_SCOPES`` answer when the token lacks it, and the token-info endpoint
(``POST /oauth/v2/private-apps/get/access-token-info``) that lists a token's scopes.

The 403 body is HubSpot's: a fixed message, one ``errors`` entry whose context names
the granular scopes of which one is required, a link, and the category.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Collection
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox._hs_errors import PORTAL_ID, HsError, correlation_id, respond, unauthorized

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
READ, WRITE = "crm.objects.contacts.read", "crm.objects.contacts.write"
OWNERS, SCHEMAS = "crm.objects.owners.read", "crm.schemas.contacts.read"
#: What the sandbox's private app is granted unless a test says otherwise.
DEFAULT_SCOPES: tuple[str, ...] = (READ, WRITE, OWNERS, SCHEMAS)
APP_ID, USER_ID = 3141592, 2718281

#: Request kind -> the scopes of which any one lets it through.
REQUIRED: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("list", "list_archived", "read", "search", "batch_read"), (READ,)),
    **dict.fromkeys(("create", "update", "archive", "merge", "batch_create", "batch_update",
                     "batch_archive"), (WRITE,)),
    "owners": (OWNERS,),
    "properties": (READ, SCHEMAS),
}
SCOPES_LINK = "https://developers.hubspot.com/scopes"


def missing_scopes(required: Collection[str]) -> HsError:
    body = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call. "
                   f"Read more about required scopes here: {SCOPES_LINK}.",
        "correlationId": correlation_id(),
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": list(required)}}],
        "links": {"scopes": SCOPES_LINK},
        "category": "MISSING_SCOPES",
    }
    return HsError(403, body)


def require(kind: str, granted: Collection[str]) -> None:
    """Raise the 403 HubSpot answers when a request of ``kind`` needs a scope not granted."""
    needed = REQUIRED.get(kind)
    if needed and not any(scope in granted for scope in needed):
        raise missing_scopes(needed)


def token_info(request: Request, token: str, scopes: Collection[str]) -> Response:
    """The token named in the body (``tokenKey``): its app, account and scopes. The
    endpoint needs no scope; an unknown token is refused as unauthenticated."""
    try:
        body: Any = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        body = None
    given = body.get("tokenKey") if isinstance(body, dict) else None
    if request.method != "POST" or not isinstance(given, str) or not hmac.compare_digest(
            given.encode(), token.encode()):
        return unauthorized().response()
    return respond({"userId": USER_ID, "hubId": PORTAL_ID, "appId": APP_ID,
                    "scopes": list(scopes), "trialScopes": [],
                    "trialScopeToScopeGroupPks": []})
