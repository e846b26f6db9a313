"""`python -m tui.sim.control --url URL scale-workers N`: drive the simulator's /_sim/ controls from a shell."""

from __future__ import annotations

import argparse
import os
import sys

import httpx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.sim.control", description=__doc__)
    parser.add_argument("--url", required=True, help="the simulator's base URL")
    sub = parser.add_subparsers(dest="command", required=True)
    scale = sub.add_parser("scale-workers", help="set the worker pool size")
    scale.add_argument("replicas", type=int)
    advance = sub.add_parser("advance", help="move the virtual clock forward")
    advance.add_argument("seconds", type=float)
    sub.add_parser("state", help="print a summary of the simulated engine")
    args = parser.parse_args(argv)
    token = os.environ.get("PLATOS_SIM_TOKEN")
    if not token:
        print("error: set PLATOS_SIM_TOKEN to the simulator's admin token", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if args.command == "scale-workers":
            response = httpx.post(f"{args.url}/_sim/workers", json={"size": args.replicas}, headers=headers)
        elif args.command == "advance":
            response = httpx.post(f"{args.url}/_sim/advance", json={"seconds": args.seconds}, headers=headers)
        else:
            response = httpx.get(f"{args.url}/_sim/state", headers=headers)
    except httpx.HTTPError as exc:
        print(f"error: cannot reach the simulator at {args.url} ({type(exc).__name__})", file=sys.stderr)
        return 1
    print(response.text)
    return 0 if response.is_success else 1


if __name__ == "__main__":
    raise SystemExit(main())
