"""What rsr's own check stopped would have been without it.

usage: python3 stopped.py STOP.jsonl MONITOR.jsonl [STOP.jsonl MONITOR.jsonl …]
(the same model and prompts diagnosed twice: `rsr gym diagnose … --out STOP.jsonl` under the
checkpoint's default policy `stop`, and `… --policy monitor --out MONITOR.jsonl`, which scores
the same checks and lets the answer go on)

For each answer the check stopped, its class when not stopped; and how many of the other answers
are classed the same under both (the monitor does not change what it does not stop).
"""
import collections
import json
import sys

args = sys.argv[1:]
for stop_path, mon_path in zip(args[::2], args[1::2]):
    stop = {r["id"]: r for r in map(json.loads, open(stop_path))}
    mon = {r["id"]: r for r in map(json.loads, open(mon_path))}
    assert stop.keys() == mon.keys(), f"{stop_path} and {mon_path} answer different prompts"
    stopped = [i for i, r in stop.items() if r["class"] == "stopped by a check"]
    unstopped = collections.Counter(mon[i]["class"] for i in stopped)
    same = sum(stop[i]["class"] == mon[i]["class"] for i in stop if i not in stopped)
    print(f"{stop_path}: {len(stopped)}/{len(stop)} stopped by its check; not stopped they are "
          f"{dict(unstopped)}; the other {len(stop) - len(stopped)}: {same} classed the same")
