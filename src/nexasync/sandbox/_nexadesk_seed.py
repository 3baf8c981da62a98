"""Realistic, reproducible NexaDesk sample data: the awkward cases a sync must
survive (names too long for a CRM's LastName, blank companies, mixed-case emails,
missing emails, tags, amounts, assigned and unassigned reps)."""

from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Any

from nexasync.sandbox._nexadesk_rules import STAGES

FIRST = (
    "Jane", "John", "Aisha", "Mateo", "Yuki", "Olga", "Kwame", "Priya", "Liam", "Sofia",
    "Chen", "Fatima", "Noah", "Ingrid", "Rafael", "Amara", "Lukas", "Mei", "Diego", "Zara",
)  # fmt: skip
LAST = (
    "Smith", "Doe", "Okafor", "García", "Tanaka", "Petrova", "Mensah", "Patel", "Murphy",
    "Rossi", "Wang", "Haddad", "Johnson", "Larsen", "Costa", "Nwosu", "Weber", "Lin",
    "Hernández", "Ali",
)  # fmt: skip
#: Longer than an 80-character CRM LastName, within NexaDesk's 200.
LONG_NAMES = (
    "Maria Guadalupe Fernández de la Concepción Rodríguez-Villanueva y Santamaría de los Ríos",
    "Wolfeschlegelsteinhausenbergerdorff Hubert Blaine Zeppelin-Ferdinand von Hohenstaufen III",
)
COMPANIES = (
    "Acme Corp", "TechCorp", "Globex", "Initech", "Umbrella Retail", "Stark Logistics",
    "Wayne Foods", "Hooli", "Vandelay Imports", "Soylent GmbH", "Nakatomi Trading",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example")
TAGS = ("ecommerce", "high-priority", "wordpress", "small-business", "demo-scheduled", "b2b")
SOURCES = ("widget", "contact-form", "api", "chat", "referral")
NEEDS = (
    "Looking for AI chatbot solution for e-commerce site",
    "Needs chatbot for WordPress site",
    "Wants lead qualification in three languages",
    "Asked about pricing for 10 seats",
    "",
)
REPS = (
    ("Alex", "Rivera", "alex.rivera@nexadesk.example"),
    ("Sam", "Chen", "sam.chen@nexadesk.example"),
    ("Dana", "Kowalski", "dana.kowalski@nexadesk.example"),
)


def sample_leads(
    n: int, *, seed: int, now: datetime, rep_ids: list[str]
) -> list[dict[str, Any]]:
    """``n`` lead field sets (with ids and timestamps) spread over the last 90 days."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = rng.choice(LONG_NAMES) if rng.random() < 0.05 else f"{first} {last}"
        # ASCII local parts: most CRM orgs refuse internationalised addresses.
        local = unicodedata.normalize("NFKD", f"{first}.{last}{i}").encode("ascii", "ignore")
        email: str | None = f"{local.decode()}@{rng.choice(DOMAINS)}".lower()
        if rng.random() < 0.1:
            email = None
        elif rng.random() < 0.1 and email:
            email = email.title()  # mixed case: the sync must compare emails case-insensitively
        phone = f"+1-555-{rng.randrange(10000):04d}" if rng.random() < 0.6 else None
        company = rng.choice(COMPANIES) if rng.random() < 0.75 else rng.choice(("", None))
        created = now - timedelta(seconds=rng.uniform(3600, 90 * 86400))
        updated = created + (now - created) * rng.random()
        out.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "visitor_name": name,
                "visitor_email": email,
                "visitor_phone": phone,
                "visitor_company": company,
                "pipeline_stage": rng.choice(STAGES),
                "need_summary": rng.choice(NEEDS) or None,
                "tags": rng.sample(TAGS, rng.randrange(0, 3)),
                "source": rng.choice(SOURCES),
                "expected_billing_amount": (
                    rng.choice((500, 1200, 5000, 12500.5, 99.99)) if rng.random() < 0.5 else None
                ),
                "assigned_rep_id": rng.choice(rep_ids) if rep_ids and rng.random() < 0.4 else None,
                "created_at": created,
                "updated_at": updated,
            }
        )
    return out
