"""Build the simple-salesforce client for the configured auth method.

Every flow simple-salesforce supports is one branch here; the connector asks for a
new client when a session expires (``can_reauthenticate`` says whether it may).
Errors name the method and Salesforce's reason, never a credential.
"""

from __future__ import annotations

from typing import Any

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from nexasync.config import SalesforceConfig

#: Login failures that say "not now" rather than "not you".
TRANSIENT_LOGIN_CODES = frozenset(
    {"SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "server_error", "temporarily_unavailable"}
)


class SalesforceAuthError(RuntimeError):
    """Logging in failed, or a session expired that cannot be renewed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        #: The login service failed, not the credentials: trying again may work.
        self.transient = transient


def login_failed(method: str | None, exc: SalesforceAuthenticationFailed) -> SalesforceAuthError:
    code = exc.code
    transient = code in TRANSIENT_LOGIN_CODES or (isinstance(code, int) and code >= 500)
    return SalesforceAuthError(
        f"Salesforce login ({method}) failed: {code}: {exc.auth_message}"[:500],
        transient=transient,
    )


def can_reauthenticate(config: SalesforceConfig) -> bool:
    """A given session id is all we have: when it expires there is nothing to log in with."""
    return config.auth.method != "session"


def mount_login_route(config: SalesforceConfig, session: requests.Session) -> None:
    """Send the login/token requests simple-salesforce addresses to
    ``https://{domain}.salesforce.com`` to ``config.login_url`` instead."""
    if not config.login_url:
        return
    from nexasync.connectors._sf_routing import LoginHostAdapter

    session.mount(f"https://{config.domain}.salesforce.com", LoginHostAdapter(config.login_url))


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_client(config: SalesforceConfig, session: requests.Session) -> Salesforce:
    """Log in (except with a session id) and return the client."""
    auth = config.auth
    common: dict[str, Any] = {
        "session": session,
        "version": config.api_version,
        "domain": config.domain,
    }
    try:
        if auth.method == "password":
            return Salesforce(
                username=auth.username,
                password=_secret(auth.password),
                # An org that trusts the caller's IP takes the password alone.
                security_token=_secret(auth.security_token) or "",
                **common,
            )
        if auth.method == "client_credentials":
            if config.domain in ("login", "test"):
                raise SalesforceAuthError(
                    "client_credentials needs `domain` set to the org's My Domain "
                    f"(not {config.domain!r}): Salesforce only issues such tokens there"
                )
            return Salesforce(
                consumer_key=auth.consumer_key,
                consumer_secret=_secret(auth.consumer_secret),
                **common,
            )
        if auth.method == "jwt":
            return Salesforce(
                username=auth.username,
                consumer_key=auth.consumer_key,
                privatekey_file=str(auth.private_key_file),
                **common,
            )
        if not config.instance_url:
            raise SalesforceAuthError("session auth needs `instance_url`")
        return Salesforce(
            session_id=_secret(auth.session_id),
            instance_url=config.instance_url,
            **common,
        )
    except SalesforceAuthenticationFailed as exc:
        raise login_failed(auth.method, exc) from None
    except requests.RequestException:
        raise  # transport trouble: the caller's retries decide
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        if auth.method != "jwt":
            raise
        # The private key file: unreadable or not a key. Its content never goes in the message.
        raise SalesforceAuthError(
            f"Salesforce login (jwt): cannot use private_key_file: {type(exc).__name__}"
        ) from None
