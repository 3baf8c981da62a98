"""What the HubSpot emulator tests share: the token and a clock tests move by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

TOKEN = "hs_sandbox_token"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)
