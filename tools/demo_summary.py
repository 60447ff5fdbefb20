#!/usr/bin/env python3
"""Summarises asbctl alert JSON lines for the demo: per alert, what the agency received."""
import json
import sys


def paths(value, prefix=""):
    """Leaf field paths present in a JSON object (lists collapse to their element paths)."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out |= paths(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(value, list):
        for v in value:
            out |= paths(v, prefix)
    else:
        out.add(prefix)
    return out


def person(p):
    """A person of a view as the agency received them: role and name, or what stands in."""
    role = p.get("role", "").replace("PERSON_ROLE_", "").lower().replace("_", "/") or "?"
    name = " ".join(x for x in (p.get("givenName"), p.get("familyName")) if x)
    if not name:
        name = "pseudonymised" if p.get("personId", "").startswith("ps_") else "no name"
    return f"{role} ({name})"


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    alert = json.loads(line)
    d = alert.get("disclosure", {})
    event = d.get("eventType", "").replace("EVENT_TYPE_", "").lower()
    order = d.get("orderType", "").replace("ORDER_TYPE_", "").lower()
    rules = ",".join(j.get("ruleId", "") for j in d.get("justifications", []))
    view = d.get("view", {})
    fields = paths(view)
    people = sorted({p for p in fields if p.startswith("people.")})
    print(f"  #{alert.get('agencySeq')} {d.get('caseId', '')} {event}{' ' + order if order else ''} "
          f"(rule {alert.get('notificationRule')}; allowed by {rules})")
    print(f"     people: {', '.join(person(p) for p in view.get('people', [])) or 'none'}")
    print(f"     fields received: {len(fields)}; about people: "
          f"{', '.join(p[7:] for p in people) or 'none'}")
    redacted = d.get("redactedPaths", [])
    if redacted:
        print(f"     withheld (present, redacted): {', '.join(redacted)}")
