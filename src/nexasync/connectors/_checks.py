"""What the connectors' ``check()`` implementations share: collecting findings, and
the field kinds the canonical lead writes (to tell a CRM field of the wrong type)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nexasync.connectors.base import Check


@dataclass
class Findings:
    """The checks of one system, in the order they ran."""

    system: str
    items: list[Check] = field(default_factory=list)

    def ok(self, name: str, detail: str = "") -> None:
        self.items.append(Check(self.system, name, True, detail))

    def fail(self, name: str, detail: str) -> None:
        self.items.append(Check(self.system, name, False, detail))

    @property
    def failed(self) -> bool:
        return any(not c.ok for c in self.items)


def listed(names: Iterable[object]) -> str:
    """``a, b, c`` of names, sorted."""
    return ", ".join(sorted(str(n) for n in names))


def key_hint(section: str, *keys: str) -> str:
    """The config keys to fix, as ``crm.auth.password (or password_file)``: a secret may
    come from either key, and the message must point at whichever the operator used."""
    secret = {"api_key", "password", "security_token", "consumer_secret", "session_id",
              "access_token"}
    parts = []
    for key in keys:
        leaf = key.rsplit(".", 1)[-1]
        text = f"{section}.{key}"
        if leaf in secret:
            text += f" (or {leaf}_file)"
        parts.append(text)
    return ", ".join(parts)


def root_cause(exc: BaseException) -> str:
    """The innermost reason of a transport failure ("[Errno 111] Connection refused",
    "CERTIFICATE_VERIFY_FAILED"), not the wrappers' retry wording around it."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException) and exc.args:
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            inner = exc.__cause__
        if inner is None:
            break
        exc = inner
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
