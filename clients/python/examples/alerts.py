#!/usr/bin/python3
"""A partner agency's system takes its alerts from the hub, acknowledging each batch it has
handled, and (with --officer) looks up the case of each alert on an officer's behalf.

    python3 clients/python/examples/alerts.py --as police              # what is pending, then stop
    python3 clients/python/examples/alerts.py --as police --follow     # and keep waiting (Ctrl-C)
    python3 clients/python/examples/alerts.py --as police --officer PC-4471 --reason "CBO file"

Run it from the repository root while ./asbhub up serves (ASBHUB_DATA as for asbctl).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import asbhub  # noqa: E402
from asbhub import types_pb2  # noqa: E402


def describe(alert):
    d = alert.disclosure
    what = types_pb2.EventType.Name(d.event_type).replace("EVENT_TYPE_", "").lower()
    if d.order_type:
        what += " " + types_pb2.OrderType.Name(d.order_type).replace("ORDER_TYPE_", "").lower()
    return (f"alert {alert.agency_seq} [{alert.notification_rule}] case {d.case_id}: {what}; "
            f"{len(d.view.people)} people, {len(d.view.orders)} orders shared, "
            f"{len(d.redacted_paths)} fields redacted")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as", dest="principal", required=True,
                        help="agency: keys_dir/AGENCY-partner.key")
    parser.add_argument("--config", default="config/asbctl.yaml", help="client config")
    parser.add_argument("--follow", action="store_true", help="keep waiting for new alerts")
    parser.add_argument("--officer", help="look each alert's case up on this officer's behalf")
    parser.add_argument("--reason", default="reviewing a partnership alert",
                        help="why the officer looks (recorded in the access log)")
    args = parser.parse_args()

    seen_cases = set()
    count = 0
    try:
        with asbhub.Partner.from_config(args.config, principal=args.principal) as partner:
            print(f"alerts for {partner.agency} (as {partner.principal})")
            for alert in partner.alerts(follow=args.follow):
                count += 1
                print(describe(alert), flush=True)
                case_id = alert.disclosure.case_id
                if args.officer and case_id not in seen_cases:
                    seen_cases.add(case_id)
                    view = partner.get_case(case_id, on_behalf_of=asbhub.OnBehalfOf(
                        officer_id=args.officer, reason=args.reason))
                    rules = sorted({j.rule_id for j in view.justifications})
                    print(f"  case {case_id} now: {len(view.view.people)} people, "
                          f"{len(view.view.orders)} orders, under rules {', '.join(rules)}")
    except KeyboardInterrupt:
        pass
    except asbhub.HubError as e:
        print(f"alerts.py: {e}", file=sys.stderr)
        return 2 if isinstance(e, asbhub.PermissionDenied) else 1
    except asbhub.ConfigError as e:
        print(f"alerts.py: {e}", file=sys.stderr)
        return 1
    print(f"{count} alerts handled and acknowledged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
