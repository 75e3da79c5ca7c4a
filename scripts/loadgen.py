"""Drive a district with many simulated gates from one process (district/loadgen.py).

    python scripts/loadgen.py --url mqtt://HOST:1883 [--url mqtt://OTHER:1883]
                              [--devices 2000] [--rate 2000] [--seconds 60]
                              [--prefix load] [--root cp/v1]

Each simulated gate has its own MQTT connection, device id (`PREFIX-00001`, ...), store
id and seqs, and sends batches of the wire format (docs/protocol.md section 5) to its
records topic, resending each until the district's ack names it. The devices are spread
over the URLs given, and move to the next one when theirs fails. A progress line goes to
stderr every 10 s; the summary is one JSON line on stdout (records made and acked,
resends, publish-to-ack p50/p99/max ms). Exit 1 when records stay unacked after the
drain. The broker must let these device ids publish (a test broker, or ACLs for them).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from district.loadgen import LoadGen, Plan  # noqa: E402
from models.wire import ROOT  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True,
                        help="a broker URL; give several for failover")
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=2000.0, help="records/s in all")
    parser.add_argument("--seconds", type=float, default=60.0, help="time under load")
    parser.add_argument("--window", type=int, default=16, help="batches in flight a device")
    parser.add_argument("--ack-timeout", type=float, default=10.0)
    parser.add_argument("--drain", type=float, default=120.0,
                        help="seconds after the load to wait for the last acks")
    parser.add_argument("--prefix", default="load", help="device ids: PREFIX-00001, ...")
    parser.add_argument("--root", default=ROOT, help="topic root")
    args = parser.parse_args()
    if args.devices < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--devices, --rate and --seconds must be positive")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))    # a socket per gate
    plan = Plan(devices=args.devices, rate=args.rate, seconds=args.seconds,
                window=args.window, ack_timeout_s=args.ack_timeout, drain_s=args.drain,
                prefix=args.prefix, root=args.root)
    generator = LoadGen(args.url, plan, report=lambda counters: print(
        json.dumps({"progress": counters}), file=sys.stderr, flush=True))
    summary = generator.run()
    print(json.dumps(summary), flush=True)
    return 0 if summary["unacked"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
