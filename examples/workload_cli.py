"""The command line shared by the claim workloads (``claim_workload.py``, ``claim_floor.py``)."""

from __future__ import annotations

import argparse


def workload_parser(description: str | None) -> argparse.ArgumentParser:
    """``setup|worker|verify <store>`` with the sizes, the worker's rep and its start time."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("command", choices=["setup", "worker", "verify"])
    parser.add_argument("store")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--rep", type=int, default=1)
    parser.add_argument("--claims", type=int, default=500)
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds")
    parser.add_argument("--strands", type=int, default=16, help="audit strands (setup)")
    return parser
