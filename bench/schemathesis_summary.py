"""Summarises one schemathesis run for bench/schemathesis: cases and status classes per
operation, every 5xx (request and response), the other checks' failures (reported, not fatal)
and errors. Exits 1 when there was a 5xx or an error (a crash, a transport failure).

    python3 bench/schemathesis_summary.py NAME EVENTS.ndjson OUTPUT.txt
"""

import base64
import json
import sys
from collections import defaultdict


def text(content):
    if not content:
        return ""
    if "$base64" in content:
        raw = base64.b64decode(content["$base64"])
        return raw.decode("utf-8", "replace")
    return str(content)


def main():
    name, events_path, output_path = sys.argv[1:4]
    cases = defaultdict(set)
    classes = defaultdict(lambda: defaultdict(int))
    server_errors = []
    errors = []
    failed_checks = defaultdict(int)
    report = None
    with open(events_path) as events:
        for line in events:
            event = json.loads(line)
            kind, body = next(iter(event.items()))
            if kind == "NonFatalError" or kind == "FatalError":
                errors.append(json.dumps(body)[:600])
            if kind != "ScenarioFinished":
                continue
            recorder = body["recorder"]
            label = recorder["label"]
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check["status"] == "failure":
                        failed_checks[check["name"]] += 1
            for case_id, interaction in recorder.get("interactions", {}).items():
                cases[label].add(case_id)
                response = interaction.get("response")
                if response is None:
                    errors.append(f"{label} case {case_id}: no response")
                    continue
                status = response["status_code"]
                classes[label][f"{status // 100}xx"] += 1
                if status >= 500:
                    request = interaction["request"]
                    server_errors.append(
                        f"{request['method']} {request['uri']}\n"
                        f"      request body: {text(request.get('body'))[:300]!r}\n"
                        f"      -> {status}: {text(response.get('content'))[:300]!r}"
                    )
    print(f"   {'operation':64} {'cases':>6} {'2xx':>5} {'4xx':>5} {'5xx':>5}")
    for label in sorted(cases):
        c = classes[label]
        print(
            f"   {label:64} {len(cases[label]):6} {c['2xx']:5} {c['4xx']:5} {c['5xx']:5}"
        )
    total = sum(len(v) for v in cases.values())
    print(f"   {name}: {total} cases over {len(cases)} operations, {len(server_errors)} answers 5xx")
    for e in server_errors:
        print(f"   5xx: {e}")
    if failed_checks:
        reported = ", ".join(f"{k}: {v}" for k, v in sorted(failed_checks.items()))
        print(f"   other checks that failed (reported only): {reported}")
    for e in errors:
        print(f"   error: {e}")
    with open(output_path) as out:
        tail = out.read()
    if "Traceback" in tail or "Internal Error" in tail:
        print(f"   schemathesis itself failed; see {output_path}")
        errors.append("schemathesis crashed")
    return 1 if server_errors or errors else 0


if __name__ == "__main__":
    sys.exit(main())
