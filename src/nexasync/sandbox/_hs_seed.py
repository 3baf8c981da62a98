"""Realistic, reproducible sample contacts for the HubSpot emulator: some without an
email or a company, statuses and stages spread out, most with an owner."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from nexasync.sandbox._hs_schema import LEAD_STATUS, LIFECYCLE, ms
from nexasync.sandbox._hs_store import Store

FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken",
         "Frances", "Tim", "Radia", "Guido", "Hedy", "Edsger", "Sophie", "Anita", "Shafi")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov",
        "Thompson", "Allen", "Perlman", "van Rossum", "Lamarr", "Dijkstra", "Wilson", "Borg")
COMPANIES = ("Acme Robotics", "Globex", "Initech", "Umbrella Health", "Stark Logistics",
             "Wayne Analytics", "Hooli", "Vandelay Imports", "Tyrell Systems", None)
MESSAGES = ("Wants a chatbot for after-hours support.", "Evaluating live chat for the shop.",
            "Needs lead capture on the pricing page.", "Asked for a demo of the inbox.", None)
SOURCES = ("widget", "contact-form", "chat", "referral", None)
TAGS = ("ecommerce", "b2b", "demo-scheduled", "wordpress")
OWNERS = (("morgan.lee@example.com", "Morgan", "Lee"), ("casey.park@example.com", "Casey", "Park"))


def seed(store: Store, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    active = store.owner_ids()
    by_email = {o["email"]: i for i, o in store.owners.items() if i in active}
    owners = [by_email.get(email) or store.add_owner(email, first, last)
              for email, first, last in OWNERS]
    stages = [v for v, _ in LIFECYCLE[:6]]
    statuses = [v for v, _ in LEAD_STATUS]
    now = store.now()
    ids = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        values: dict[str, Any] = {
            "firstname": first, "lastname": last, "company": company,
            "phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "message": rng.choice(MESSAGES), "hs_lead_status": rng.choice(statuses),
            "lifecyclestage": rng.choice(stages),
            "hubspot_owner_id": rng.choice(owners) if rng.random() < 0.8 else None,
        }
        if rng.random() < 0.9:
            domain = (company or "mail").split()[0].lower() + ".example"
            values["email"] = f"{first}.{last.replace(' ', '')}.{seed}x{i}@{domain}".lower()
        if "nexadesk_source" in store.props:
            values["nexadesk_source"] = rng.choice(SOURCES)
        if "nexadesk_amount" in store.props and rng.random() < 0.5:
            values["nexadesk_amount"] = rng.randrange(500, 50000, 250)
        if "nexadesk_tags" in store.props and not store.props["nexadesk_tags"].multi:
            values["nexadesk_tags"] = ";".join(sorted(rng.sample(TAGS, rng.randint(0, 2))))
        contact = store.create({k: v for k, v in values.items() if v is not None})
        # Spread creation over the last 90 days, each touched once since.
        contact.created = ms(now - timedelta(days=rng.uniform(1, 90)))
        contact.updated = ms(min(now, contact.created + timedelta(days=rng.uniform(0, 30))))
        ids.append(contact.id)
    return ids
