"""Realistic, reproducible sample data for the Salesforce emulator."""

from __future__ import annotations

import random
from typing import Any

from nexasync.sandbox._sf_store import Store

FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara",
         "Ken", "Frances", "Tim", "Radia", "Guido", "Hedy", "Edsger", "Sophie", "Yukihiro",
         "Anita", "Niklaus", "Shafi")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov",
        "Thompson", "Allen", "Berners-Lee", "Perlman", "van Rossum", "Lamarr", "Dijkstra",
        "Wilson", "Matsumoto", "Borg", "Wirth", "Goldwasser")
COMPANIES = ("Acme Robotics", "Globex", "Initech", "Umbrella Health", "Stark Logistics",
             "Wayne Analytics", "Hooli", "Vandelay Imports", "Soylent Foods", "Tyrell Systems",
             "Cyberdyne Labs", "Wonka Confectionery")
TITLES = ("Head of Support", "CTO", "Operations Manager", "Customer Success Lead",
          "VP Sales", "Founder", "IT Director", None)
NEEDS = ("Wants a chatbot for after-hours support.", "Evaluating live chat for the web shop.",
         "Needs lead capture on the pricing page.", "Asked for a demo of the ticket inbox.", None)
SOURCES = ("Web", "Web", "Phone Inquiry", "Partner Referral", "Other")
STATUSES = ("Open - Not Contacted", "Open - Not Contacted", "Working - Contacted",
            "Closed - Not Converted")
REPS = (("avery.stone@example.com", "Avery Stone"), ("jordan.reyes@example.com", "Jordan Reyes"))


def seed(store: Store, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    by_email = {u["Email"]: i for i, u in store.users.items()}
    owners = [by_email.get(email) or store.add_user(email, name) for email, name in REPS]
    has_amount = "Expected_Amount__c" in store.fields["Lead"]
    ids = []
    for i in range(n):
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
        domain = company.split()[0].lower() + ".example"
        values: dict[str, Any] = {
            "FirstName": first, "LastName": last, "Company": company,
            "Email": f"{first}.{last.replace(' ', '')}{seed}x{i}@{domain}".lower(),
            "Phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            "Title": rng.choice(TITLES), "Description": rng.choice(NEEDS),
            "LeadSource": rng.choice(SOURCES), "Status": rng.choice(STATUSES),
            "OwnerId": rng.choice(owners),
        }
        if has_amount and rng.random() < 0.5:
            values["Expected_Amount__c"] = float(rng.randrange(500, 50000, 250))
        ids.append(store.create(values))
    return ids
