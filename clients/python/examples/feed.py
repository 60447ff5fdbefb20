#!/usr/bin/python3
"""A feed submits events to the hub and says what became of each one.

    python3 clients/python/examples/feed.py                       # the demo case, as the council
    python3 clients/python/examples/feed.py --as police FILE.jsonl

FILE holds one asb.v1.CaseEvent a line in protobuf's JSON mapping (config/samples/). Run it from
the repository root while ./asbhub up serves; set ASBHUB_DATA as for asbctl if the hub's data
directory is not ./var. Exit 1 if an event was refused.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import asbhub  # noqa: E402
from asbhub import SubmitResult  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default="config/samples/cbo-demo.jsonl")
    parser.add_argument("--as", dest="principal", default="council",
                        help="feed: keys_dir/NAME.key or NAME-feed.key (default council)")
    parser.add_argument("--config", default="config/asbctl.yaml", help="client config")
    args = parser.parse_args()

    with open(args.file, encoding="utf-8") as f:
        events = [line for line in f if line.strip() and not line.startswith("#")]
    refused = 0
    try:
        with asbhub.Feed.from_config(args.config, principal=args.principal) as feed:
            print(f"submitting {len(events)} events as {feed.principal} "
                  f"(agency {feed.agency})")
            # Unavailable (the hub's disk is full, say) is retried for a minute: resending
            # the same events is safe, the hub stores each source_event_id once.
            for r in feed.submit(events, retry_for=60):
                if r.outcome == SubmitResult.OUTCOME_ACCEPTED:
                    print(f"{r.source_event_id}: accepted as hub seq {r.hub_seq}")
                elif r.outcome == SubmitResult.OUTCOME_DUPLICATE:
                    print(f"{r.source_event_id}: duplicate, stored once as hub seq {r.hub_seq}")
                else:
                    refused += 1
                    what = ("CONFLICT" if r.status.code == asbhub.api_pb2.STATUS_CODE_ALREADY_EXISTS
                            else "REFUSED")
                    print(f"{r.source_event_id}: {what}: {r.status.message}")
    except asbhub.HubError as e:
        print(f"feed.py: {e}", file=sys.stderr)
        return 2 if isinstance(e, asbhub.PermissionDenied) else 1
    except asbhub.ConfigError as e:
        print(f"feed.py: {e}", file=sys.stderr)
        return 1
    print(f"{len(events) - refused} taken, {refused} refused")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
