#!/usr/bin/python3
"""An auditor asks the hub's access log who saw a case, and checks that the log was not
altered: every entry's hash, the Merkle root and the signed tree heads' Ed25519 signatures.

    python3 clients/python/examples/audit.py --case CBC-2026-0142
    python3 clients/python/examples/audit.py --public-key sth-signing.pub.pem   # the key you trust

Run it from the repository root while ./asbhub up serves (ASBHUB_DATA as for asbctl). Exit 3 if
the log does not verify.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import asbhub  # noqa: E402
from asbhub import audit_pb2  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as", dest="principal", default="dpo",
                        help="auditor: keys_dir/NAME.key or NAME-auditor.key (default dpo)")
    parser.add_argument("--config", default="config/asbctl.yaml", help="client config")
    parser.add_argument("--case", help="list who collected, saw and was sent this case")
    parser.add_argument("--public-key", help="PEM of the tree-head signing key you trust")
    args = parser.parse_args()

    try:
        with asbhub.Auditor.from_config(args.config, principal=args.principal) as auditor:
            if args.case:
                kinds = ["collection", "disclosure", "delivery", "consultation",
                         "access_refused"]
                for e in auditor.query(case_id=args.case, kinds=kinds):
                    r = e.record
                    kind = audit_pb2.AuditKind.Name(r.kind).replace("AUDIT_KIND_", "").lower()
                    to = f" to {r.recipient_agency}" if r.recipient_agency else ""
                    rules = ",".join(j.rule_id for j in r.justifications)
                    print(f"#{e.index} {r.at.ToJsonString()} {kind} by {r.actor}{to}"
                          f"{' under ' + rules if rules else ''}: {r.detail}")
            pem = None
            if args.public_key:
                with open(args.public_key, encoding="utf-8") as f:
                    pem = f.read()
            report = auditor.verify(public_key_pem=pem)
    except asbhub.VerificationFailed as e:
        print(f"NOT VERIFIED: {e.message}", file=sys.stderr)
        return 3
    except asbhub.HubError as e:
        print(f"audit.py: {e}", file=sys.stderr)
        return 2 if isinstance(e, asbhub.PermissionDenied) else 1
    except asbhub.ConfigError as e:
        print(f"audit.py: {e}", file=sys.stderr)
        return 1
    print(f"OK: {report.entries_checked} entries and {report.tree_heads} signed tree heads "
          f"verified; root {report.root_hash[:16]}… of {report.tree_size} entries"
          + (f"; 1..{report.expired_through} expired" if report.expired_through else "")
          + (f"; {len(report.erased)} erased" if report.erased else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
