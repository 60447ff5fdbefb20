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


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    alert = json.loads(line)
    d = alert.get("disclosure", {})
    event = d.get("eventType", "").replace("EVENT_TYPE_", "").lower()
    order = d.get("orderType", "").replace("ORDER_TYPE_", "").lower()
    rules = ",".join(j.get("ruleId", "") for j in d.get("justifications", []))
    view = paths(d.get("view", {}))
    people = sorted({p for p in view if p.startswith("people.")})
    print(f"  #{alert.get('agencySeq')} {event}{' ' + order if order else ''} "
          f"(rule {alert.get('notificationRule')}; allowed by {rules})")
    print(f"     fields received: {len(view)}; about people: "
          f"{', '.join(p[7:] for p in people) or 'none'}")
    redacted = d.get("redactedPaths", [])
    if redacted:
        print(f"     withheld (present, redacted): {', '.join(redacted)}")
