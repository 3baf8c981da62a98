"""Point simple-salesforce's logins at a Salesforce emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

LOGIN_DOMAIN = "salesforce.com"


class LoginHostAdapter(HTTPAdapter):
    """A requests adapter that sends requests for ``https://*.salesforce.com`` to
    ``base_url`` (e.g. an emulator's ``https://127.0.0.1:PORT``), path and query kept.

    simple-salesforce builds its login URLs from ``domain`` as
    ``https://{domain}.salesforce.com/services/Soap/u/...`` or ``.../services/oauth2/token``
    and offers no way to change the host. Mount this adapter on the ``requests.Session``
    handed to ``Salesforce(session=...)``, for the login host only or for all of https::

        session.mount("https://login.salesforce.com", LoginHostAdapter(emulator_url))
        session.mount("https://", LoginHostAdapter(emulator_url))

    Other hosts pass unchanged, so the instance URL the login answers (the emulator's
    own) is reached as usual. TLS verification follows the session's ``verify``.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target = urlsplit(base_url)
        if not target.scheme or not target.netloc:
            raise ValueError(f"base_url must be an absolute URL, got {base_url!r}")
        self.scheme, self.netloc = target.scheme, target.netloc

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host != LOGIN_DOMAIN and not host.endswith("." + LOGIN_DOMAIN):
            return url
        return urlunsplit((self.scheme, self.netloc, parts.path, parts.query, parts.fragment))

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        if request.url:
            request.url = self.rewrite(request.url)
        return super().send(request, *args, **kwargs)
