"""A local Salesforce: the REST subset simple-salesforce speaks, over HTTPS.

Logins (SOAP ``login``, OAuth password / client_credentials / JWT bearer), SOQL
query and queryAll with paging, single-record sObject calls and external-id upsert,
sObject Collections, the replication resources (``updated`` / ``deleted``), limits,
and the Lead save rules, with Salesforce's error bodies and status codes.

Serve it with ``ServerThread(SalesforceEmulator(), ca=TestCA(...))``. Logins made
through simple-salesforce go to ``https://login.salesforce.com``: mount
:class:`nexasync.connectors._sf_routing.LoginHostAdapter` on the session to send them here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox import _sf_rest
from nexasync.sandbox._http import Emulator, Faults, json_response
from nexasync.sandbox._sf_auth import Auth, oauth_error, soap_fault
from nexasync.sandbox._sf_query import Queries
from nexasync.sandbox._sf_schema import json_value, lead_fields, make_id, ms, norm_id
from nexasync.sandbox._sf_seed import seed as seed_leads
from nexasync.sandbox._sf_soql import SoqlError
from nexasync.sandbox._sf_store import Store
from nexasync.sandbox._sf_validate import RecordError, RequestError, fail, read_body, refused

log = logging.getLogger(__name__)
_SOAP = re.compile(r"^/services/Soap/u/(\d+\.\d+)/?$")
_DATA = re.compile(r"^/services/data/v(\d+\.\d+)(?:/(.*))?$")
_FAULT_CODES = {403: "REQUEST_LIMIT_EXCEEDED", 429: "REQUEST_LIMIT_EXCEEDED",
                500: "UNKNOWN_EXCEPTION", 503: "SERVER_UNAVAILABLE"}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SalesforceEmulator(Emulator):
    name = "salesforce"

    def __init__(self, *, username: str = "sandbox@example.com",
                 password: str = "sandbox-password", security_token: str = "sandbox-token",
                 consumer_key: str = "sandbox-consumer-key",
                 consumer_secret: str = "sandbox-consumer-secret",
                 jwt_public_key_pem: bytes | None = None,
                 custom_fields: dict[str, dict[str, Any]] | None = None,
                 api_version: str = "59.0", clock: Callable[[], datetime] | None = None,
                 daily_api_limit: int = 100000) -> None:
        super().__init__()
        # The sandbox's own throw-away credentials, readable so a config can be built.
        self.username, self.password, self.security_token = username, password, security_token
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.api_version = api_version
        self.clock = clock or _utcnow
        self.daily_api_limit = daily_api_limit
        #: Lead object permissions describe reports otherwise (``{"deletable": False}``),
        #: as for an API user whose profile lacks them.
        self.lead_access: dict[str, bool] = {}
        #: Requests counted against the daily limit (data requests with a valid session).
        self.api_requests_used = 0
        #: Set by tests to simulate the delete log's retention: getDeleted reports no
        #: deletion before it and answers it as ``earliestDateAvailable``.
        self.earliest_deleted_available: datetime | None = None
        self.store: Store
        self.queries: Queries
        self.org_id = make_id("00D", 1)
        self.auth = Auth(username=username, password=password, security_token=security_token,
                         consumer_key=consumer_key, consumer_secret=consumer_secret,
                         jwt_public_key_pem=jwt_public_key_pem, org_id=self.org_id)
        self._lead_fields = lead_fields(custom_fields)
        self._local = threading.local()
        self._fresh()

    def _fresh(self) -> None:
        # The store reads the clock through the emulator, so a test may swap ``clock``.
        self.store = Store(self._lead_fields, lambda: self.clock(), self.username)
        self.auth.user_id = self.store.api_user_id
        self.auth.expire_all()
        self.queries = Queries(self.store)
        self.api_requests_used = 0
        self.earliest_deleted_available = None
        self._org_created = ms(self.clock()).replace(second=0, microsecond=0)

    def reset(self) -> None:
        """A fresh org (no leads, only the API user, no sessions), counters, faults and
        API usage cleared; the configuration (credentials, fields, clock, limit) is kept."""
        with self._lock:
            self._fresh()
            self.faults = Faults()
            self.reset_counts()

    # -- test-facing API (not counted as requests) ----------------------------------------
    def issue_session(self) -> str:
        with self._lock:
            return self.auth.issue()

    def expire_sessions(self) -> None:
        with self._lock:
            self.auth.expire_all()

    def add_user(self, email: str, name: str, is_active: bool = True) -> str:
        with self._lock:
            return self.store.add_user(email, name, is_active)

    def set_user_active(self, id: str, is_active: bool) -> None:
        with self._lock:
            user = self.store.users[norm_id(id) or id]
            user["IsActive"] = is_active
            user["LastModifiedDate"] = user["SystemModstamp"] = self.store.now()

    def add_lead(self, **fields: Any) -> str:
        with self._lock:
            values, _ = read_body(self.store.fields["Lead"], fields, "Lead")
            return self.store.create(values)

    def update_lead(self, id: str, **fields: Any) -> None:
        with self._lock:
            values, _ = read_body(self.store.fields["Lead"], fields, "Lead")
            self.store.update(id, values)

    def delete_lead(self, id: str) -> None:
        with self._lock:
            self.store.delete(id)

    def purge(self, id: str) -> None:
        with self._lock:
            self.store.purge(id)

    def convert_lead(self, id: str) -> None:
        with self._lock:
            self.store.convert(id)

    def get(self, id: str) -> dict[str, Any] | None:
        with self._lock:
            full = norm_id(id)
            record = self.store.leads.get(full) if full else None
            return None if record is None else {k: json_value(v) for k, v in record.items()}

    def leads(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [{k: json_value(v) for k, v in r.items()}
                    for r in self.store.rows("Lead", include_deleted)]

    def seed(self, n: int, *, seed: int = 0) -> list[str]:
        with self._lock:
            return seed_leads(self.store, n, seed)

    def earliest_deleted(self) -> datetime:
        return ms(self.earliest_deleted_available or self._org_created)

    # -- HTTP ---------------------------------------------------------------------------
    def classify(self, request: Request) -> str:
        kind = self._kind(request.method, request.path)
        self._local.kind = kind
        return kind

    @staticmethod
    def _kind(method: str, path: str) -> str:
        if _SOAP.match(path):
            return "login"
        if path.rstrip("/") == "/services/oauth2/token":
            return "token"
        m = _DATA.match(path)
        if not m:
            return "other"
        parts = [p for p in (m.group(2) or "").split("/") if p]
        head = parts[0] if parts else ""
        if head in ("query", "queryAll"):
            return "query_more" if len(parts) > 1 else head
        if head == "limits":
            return "limits"
        if head == "composite" and parts[1:2] == ["sobjects"]:
            if len(parts) == 4:
                return "collections_upsert"
            ops = {"POST": "create", "PATCH": "update", "DELETE": "delete"}
            return f"collections_{ops[method]}" if method in ops else "other"
        if head == "sobjects" and len(parts) >= 2:
            if len(parts) == 3 and parts[2] in ("deleted", "updated"):
                return "getDeleted" if parts[2] == "deleted" else "getUpdated"
            if len(parts) == 4 and method == "PATCH":
                return "upsert"
            return "sobject"
        return "other"

    def handle(self, request: Request) -> Response:
        base = request.host_url.rstrip("/")
        path = request.path
        soap = _SOAP.match(path)
        if soap and request.method == "POST":
            return self.auth.soap_login(request, soap.group(1), base)
        if path.rstrip("/") == "/services/oauth2/token" and request.method == "POST":
            return self.auth.token(request, base)
        if path.rstrip("/") == "/services/data":
            return json_response([{"label": f"v{self.api_version}", "version": self.api_version,
                                   "url": f"/services/data/v{self.api_version}"}])
        m = _DATA.match(path)
        if not m:
            return fail(404, "NOT_FOUND", "The requested resource does not exist")
        if not self.auth.valid(request):
            response = fail(401, "INVALID_SESSION_ID", "Session expired or invalid")
            response.headers["WWW-Authenticate"] = 'Token'
            return response
        if self.api_requests_used >= self.daily_api_limit:
            return fail(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.api_requests_used += 1
        version = m.group(1)
        try:
            if not 20.0 <= float(version) <= float(self.api_version):
                response = fail(404, "NOT_FOUND", "The requested resource does not exist")
            else:
                parts = [p for p in (m.group(2) or "").split("/") if p]
                response = _sf_rest.route(self, request, version, parts)
        except (RecordError, RequestError) as e:
            response = refused(e)
        except SoqlError as e:
            response = fail(400, e.code, e.message)
        except Exception:  # an emulator bug: keep the traceback, answer like Salesforce does
            log.exception("salesforce emulator failed on %s %s", request.method, path)
            response = fail(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={self.api_requests_used}/{self.daily_api_limit}")
        return response

    def error_response(self, status: int, message: str, retry_after: float | None) -> Response:
        kind = getattr(self._local, "kind", "other")
        if kind == "login":
            response = soap_fault(_FAULT_CODES.get(status, "UNKNOWN_EXCEPTION"), message, status)
        elif kind == "token":
            response = oauth_error("server_error" if status >= 500 else "rate_limited",
                                   message, status)
        else:
            response = fail(status, _FAULT_CODES.get(status, "UNKNOWN_EXCEPTION"), message)
        if retry_after is not None:
            response.headers["Retry-After"] = str(int(retry_after))
        return response
