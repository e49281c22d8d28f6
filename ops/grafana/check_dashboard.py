#!/usr/bin/env python3
"""Evaluates every query of a Grafana dashboard through a Prometheus HTTP API
and fails on any that is invalid or returns no series.

  check_dashboard.py --prometheus http://127.0.0.1:9090 ops/grafana/stitch.json
"""
import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def queries(dashboard):
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield panel["title"], target["refId"], target["expr"]


def evaluate(prometheus, expr):
    url = prometheus.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        body = json.load(error)
    if body.get("status") != "success":
        return None, body.get("error", "query failed")
    return body["data"]["result"], None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("dashboard")
    args = parser.parse_args()
    dashboard = json.load(open(args.dashboard))
    failures = 0
    checked = 0
    for title, ref, expr in queries(dashboard):
        checked += 1
        result, error = evaluate(args.prometheus, expr)
        if error:
            print(f"INVALID   {title} [{ref}]: {expr}\n          {error}")
            failures += 1
        elif not result:
            print(f"NO SERIES {title} [{ref}]: {expr}")
            failures += 1
        else:
            print(f"ok        {title} [{ref}]: {len(result)} series")
    print(f"{checked} queries, {failures} failed")
    sys.exit(1 if failures or not checked else 0)


if __name__ == "__main__":
    main()
