"""NexaDesk rep <-> CRM user (Salesforce user, HubSpot owner), by ``rep_map`` and by email.

Active users (owners) are read only when a rep or owner cannot be resolved from ``rep_map``
alone, so a cycle that touches no owner costs no request. A connector may hand the list
to a later process (:meth:`OwnerMap.export`, :meth:`OwnerMap.adopt`): it is then trusted
exactly as in one long-running process, until :data:`USERS_TTL_SECONDS` after it was read
(a user added, deactivated or given another email meanwhile shows once it is read again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from nexasync.lead import norm_email

#: How long the list of active users is trusted before it is read again.
USERS_TTL_SECONDS = 900.0


class OwnerMap:
    def __init__(
        self,
        rep_map: Mapping[str, str],
        *,
        by_email: bool,
        load_users: Callable[[], Mapping[str, str | None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rep_to_user = dict(rep_map)
        self._user_to_rep: dict[str, str] = {}
        for rep, user in rep_map.items():
            self._user_to_rep.setdefault(user, rep)
        self._by_email = by_email
        self._load_users = load_users
        self._clock = clock
        self._rep_emails: dict[str, str] = {}
        self._users: dict[str, str] | None = None  # user id -> email
        self._users_by_email: dict[str, str] = {}
        self._loaded_at = 0.0
        # The engine maps a batch's answer while the next batch is on the wire: both may
        # find the users unread, and they must be read once.
        self._lock = threading.Lock()
        #: Records read while their owner mapped to no rep (record id -> user id): a
        #: rep learned later in the cycle, from NexaDesk's read, may be theirs.
        self._deferred: dict[str, str] = {}

    def set_rep_directory(self, rep_emails: Mapping[str, str | None]) -> None:
        """NexaDesk rep id -> email, as the NexaDesk side learned it."""
        self._rep_emails = {
            rep: email for rep, value in rep_emails.items() if (email := norm_email(value))
        }

    def user_for(self, rep_id: str) -> str | None:
        if rep_id in self._rep_to_user:
            return self._rep_to_user[rep_id]
        email = self._rep_emails.get(rep_id)
        if email is None or not self._by_email:
            return None
        self._ensure_users()
        return self._users_by_email.get(email)

    def rep_for(self, user_id: str) -> str | None:
        if user_id in self._user_to_rep:
            return self._user_to_rep[user_id]
        if not self._by_email or not self._rep_emails:
            return None
        users = self._ensure_users()
        email = users.get(user_id)
        if email is None:
            return None
        reps = sorted(rep for rep, e in self._rep_emails.items() if e == email)
        # Reps sharing one email are one person to Salesforce; pick one, always the same.
        return reps[0] if reps else None

    def defer(self, record_id: str, user_id: str) -> None:
        if self._by_email and user_id not in self._user_to_rep:
            self._deferred[record_id] = user_id

    def forget_deferred(self) -> None:
        self._deferred = {}

    def settle(self) -> dict[str, str]:
        """The reps the deferred records' owners map to now (record id -> rep id), as
        far as the rep directory now tells; forgets every deferred record."""
        deferred, self._deferred = self._deferred, {}
        if not self._rep_emails:
            return {}
        return {rid: rep for rid, user in deferred.items() if (rep := self.rep_for(user))}

    def export(self) -> dict[str, str] | None:
        """The active users read (id -> email); None when none were read or adopted."""
        return None if self._users is None else dict(self._users)

    def adopt(self, users: Mapping[str, str], age: float) -> None:
        """Users an earlier process read ``age`` seconds ago: trusted for what is left of
        :data:`USERS_TTL_SECONDS`, as if read here (a stale or future list is ignored)."""
        if self._users is not None or not 0 <= age <= USERS_TTL_SECONDS:
            return
        self._set_users(users)
        self._loaded_at = self._clock() - age

    def _ensure_users(self) -> dict[str, str]:
        with self._lock:
            stale = self._clock() - self._loaded_at > USERS_TTL_SECONDS
            if self._users is None or stale:
                self._set_users(self._load_users())
                self._loaded_at = self._clock()
            return self._users  # type: ignore[return-value]

    def _set_users(self, loaded: Mapping[str, str | None]) -> None:
        users = {uid: e for uid, v in loaded.items() if (e := norm_email(v))}
        by_email: dict[str, str] = {}
        for uid in sorted(users):
            by_email.setdefault(users[uid], uid)
        self._users, self._users_by_email = users, by_email
