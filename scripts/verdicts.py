"""Print `checkin-gate verify` JSON lines as a table a person reads at a glance."""

import json
import sys
from collections import Counter

COLOURS = {"admit": "\033[42;30m", "deny": "\033[41;97m", "refer": "\033[43;30m"}
RESET = "\033[0m"

counts: Counter[str] = Counter()
for line in sys.stdin:
    record = json.loads(line)
    counts[record["verdict"]] += 1
    person = record["credential"]["name"] if record["credential"] else "?"
    where = record["input"] if len(record["input"]) < 48 else record["input"][:45] + "..."
    verdict = f"{COLOURS.get(record['verdict'], '')} {record['verdict'].upper():5} {RESET}"
    print(f"{verdict} {record['reason']:17} {person:24} {record['message']:40} {where}")
print("  ".join(f"{verdict}: {n}" for verdict, n in sorted(counts.items())))
