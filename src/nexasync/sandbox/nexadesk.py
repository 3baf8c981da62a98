"""An emulator of the NexaDesk external Leads API, served over real HTTP.

It follows the published reference strictly (bearer auth, the list parameters and
their limits, POST/PATCH validation, 404s) and fills the reference's silences the
way a real service plausibly behaves, so that clients are built defensively:
updated_at has millisecond precision (ties happen), the pagination cursor is an
offset computed against the data as it is *at each request* (so it shifts when
data changes between pages), and error bodies are not part of the contract.
"""

from __future__ import annotations

import hmac
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from nexasync.sandbox._http import Emulator, Faults, json_response
from nexasync.sandbox._nexadesk_index import ListOrders
from nexasync.sandbox._nexadesk_rules import (
    Invalid,
    encode_cursor,
    format_ts,
    lead_score,
    list_params,
    matches,
    parse_ts,
    sort_key,
    to_ms,
    validate,
)
from nexasync.sandbox._nexadesk_seed import REPS, sample_leads

LEADS_PATH = "/api/v1/external/leads"

_ERROR_CODES = {
    400: "validation_error",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}
_LEAD_DEFAULTS: dict[str, Any] = {
    "visitor_name": "Sandbox Lead",
    "visitor_email": None,
    "visitor_phone": None,
    "visitor_company": None,
    "pipeline_stage": "new",
    "need_summary": None,
    "tags": [],
    "source": "api",
    "expected_billing_amount": None,
    "assigned_rep_id": None,
}


class NexaDeskEmulator(Emulator):
    """The Leads API in memory. Direct methods (``add_lead`` ...) seed and inspect it
    without going through HTTP and are not counted as requests."""

    name = "nexadesk"

    def __init__(
        self,
        api_key: str = "nd_sandbox_key",
        *,
        rate_limit: int | None = None,
        rate_window: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        #: Where timestamps come from; tests may swap it for a controlled clock.
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(timezone.utc))
        self._leads: dict[str, dict[str, Any]] = {}
        #: The list orders, maintained on every write (see _nexadesk_index).
        self._orders = ListOrders(self._leads)
        self._reps: dict[str, tuple[str, str, str]] = {}
        self._hits: deque[float] = deque()
        #: Called under the lock before each list request is answered, so a test can
        #: change data while a client is between pages.
        self.on_request: Callable[[NexaDeskEmulator, Request], None] | None = None

    # -- direct access (tests, seeding) ----------------------------------------------
    def now(self) -> datetime:
        return to_ms(self.clock())

    def reset(self) -> None:
        """Back to empty (no leads, reps, faults, hooks or counts), keeping the server."""
        with self._lock:
            self._leads.clear()
            self._orders.clear()
            self._reps.clear()
            self._hits.clear()
            self.faults = Faults()
            self.on_request = None
            self.counts.clear()
            self._seq = 0

    def add_rep(self, first: str, last: str, email: str, id: str | None = None) -> str:
        rep_id = id or str(uuid.uuid4())
        with self._lock:
            self._reps[rep_id] = (first, last, email)
        return rep_id

    def add_lead(self, **fields: Any) -> dict[str, Any]:
        """Store a lead as given, unvalidated (so tests can plant bad data)."""
        with self._lock:
            now = self.now()
            lead = {"id": str(uuid.uuid4()), **_LEAD_DEFAULTS, **fields}
            lead["tags"] = list(lead.get("tags") or [])
            lead["created_at"] = parse_ts(fields.get("created_at", now))
            lead["updated_at"] = parse_ts(fields.get("updated_at", lead["created_at"]))
            lead.setdefault("lead_score", lead_score(lead))
            self._leads[lead["id"]] = lead
            self._orders.add(lead)
            return self._render(lead)

    def update_lead(self, id: str, **fields: Any) -> dict[str, Any]:
        """Change a lead as given; updated_at moves to now unless it is one of ``fields``."""
        with self._lock:
            lead = self._leads[id]
            self._orders.remove(lead)
            lead.update(fields)
            lead["updated_at"] = parse_ts(fields.get("updated_at", self.now()))
            if "lead_score" not in fields:
                lead["lead_score"] = lead_score(lead)
            self._orders.add(lead)
            return self._render(lead)

    def delete_lead(self, id: str) -> None:
        with self._lock:
            self._orders.remove(self._leads.pop(id))

    def get(self, id: str) -> dict[str, Any] | None:
        with self._lock:
            lead = self._leads.get(id)
            return self._render(lead) if lead else None

    def leads(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = sorted(self._leads.values(), key=lambda r: (r["created_at"], r["id"]))
            return [self._render(r) for r in rows]

    def seed(self, n: int, *, seed: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            if not self._reps:
                for i, (first, last, email) in enumerate(REPS):
                    self.add_rep(first, last, email, id=str(uuid.UUID(int=seed * 100 + i + 1)))
            rows = sample_leads(n, seed=seed, now=self.now(), rep_ids=sorted(self._reps))
            return [self.add_lead(**row) for row in rows]

    # -- HTTP ------------------------------------------------------------------------
    def classify(self, request: Request) -> str:
        if request.path.rstrip("/") != LEADS_PATH:
            return "other"
        if request.method == "GET":
            return "search" if (request.args.get("search") or "").strip() else "list"
        return {"POST": "create", "PATCH": "update", "DELETE": "delete"}.get(
            request.method, "other"
        )

    def error_response(self, status: int, message: str, retry_after: float | None) -> Response:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        body = {
            "success": False,
            "error": {"code": _ERROR_CODES.get(status, "error"), "message": message},
        }
        return json_response(body, status, headers)

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") != LEADS_PATH:
            return self.error_response(404, "not found", None)
        if not self._authorised(request):
            return self.error_response(401, "missing or invalid API key", None)
        wait = self._rate_limited()
        if wait is not None:
            return self.error_response(429, "rate limit exceeded", wait)
        try:
            if request.method == "GET":
                return self._list(request)
            if request.method == "POST":
                return self._create(request)
            if request.method == "PATCH":
                return self._update(request)
            if request.method == "DELETE":
                return self._delete(request)
        except Invalid as exc:
            return self.error_response(400, str(exc), None)
        return self.error_response(405, f"method {request.method} not allowed", None)

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        )

    def _rate_limited(self) -> float | None:
        """Seconds until the next request is allowed, or None to let this one through."""
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        while self._hits and self._hits[0] <= now - self.rate_window:
            self._hits.popleft()
        if len(self._hits) >= self.rate_limit:
            return self._hits[0] + self.rate_window - now
        self._hits.append(now)
        return None

    def _list(self, request: Request) -> Response:
        if self.on_request is not None:
            self.on_request(self, request)
        params = list_params(request.args)
        # The requested order, ties by id (ascending either way), so every page is
        # deterministic; the orders are kept sorted, so a plain list sorts nothing.
        field, desc = params["sort"], params["desc"]
        stage, search = params["stage"], params["search"]
        offset, limit = params["offset"], params["limit"]
        if stage is None and search is None:
            total = len(self._leads)
            page = [self._leads[i] for i in self._orders.page(field, desc, offset, limit)]
        else:
            rows = [r for r in self._leads.values() if matches(r, stage, search)]
            rows.sort(key=lambda r: r["id"])  # two stable sorts: the order, ties by id
            rows.sort(key=lambda r: sort_key(field, r), reverse=desc)
            total, page = len(rows), rows[offset : offset + limit]
        has_more = offset + limit < total
        pagination = {
            "has_more": has_more,
            "next_cursor": encode_cursor(offset + limit) if has_more else None,
            "total_count": total,
            "limit": limit,
        }
        data = [self._render(r) for r in page]
        return json_response({"success": True, "data": data, "pagination": pagination})

    def _create(self, request: Request) -> Response:
        fields = validate(_body(request), creating=True, reps=self._reps)
        now = self.now()
        lead = {"id": str(uuid.uuid4()), **_LEAD_DEFAULTS, **fields}
        lead.update(created_at=now, updated_at=now)
        lead["lead_score"] = lead_score(lead)
        self._leads[lead["id"]] = lead
        self._orders.add(lead)
        return json_response({"success": True, "data": self._render(lead)}, 201)

    def _update(self, request: Request) -> Response:
        lead_id = _id_param(request)
        fields = validate(_body(request), creating=False, reps=self._reps)
        lead = self._leads.get(lead_id)
        if lead is None:
            return self.error_response(404, f"lead {lead_id} not found", None)
        self._orders.remove(lead)
        lead.update(fields)
        lead["updated_at"] = self.now()
        lead["lead_score"] = lead_score(lead)
        self._orders.add(lead)
        return json_response({"success": True, "data": self._render(lead)})

    def _delete(self, request: Request) -> Response:
        lead_id = _id_param(request)
        lead = self._leads.pop(lead_id, None)
        if lead is None:
            return self.error_response(404, f"lead {lead_id} not found", None)
        self._orders.remove(lead)
        return json_response({"success": True, "data": {"deleted": True, "id": lead_id}})

    def _render(self, lead: dict[str, Any]) -> dict[str, Any]:
        rep = self._reps.get(lead.get("assigned_rep_id") or "")
        out = {k: v for k, v in lead.items() if k not in ("created_at", "updated_at")}
        out["tags"] = list(lead.get("tags") or [])
        out.update(
            rep_first_name=rep[0] if rep else None,
            rep_last_name=rep[1] if rep else None,
            rep_email=rep[2] if rep else None,
            created_at=format_ts(lead["created_at"]),
            updated_at=format_ts(lead["updated_at"]),
        )
        return out


def _body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise Invalid("request body must be valid JSON") from None


def _id_param(request: Request) -> str:
    lead_id = (request.args.get("id") or "").strip()
    if not lead_id:
        raise Invalid("id query parameter is required")
    return lead_id


__all__ = ["LEADS_PATH", "NexaDeskEmulator"]
