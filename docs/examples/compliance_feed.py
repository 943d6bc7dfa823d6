#!/usr/bin/env python3
"""Kefu compliance feed client (docs/compliance-feed.md): copies every message, note, system
event and audit entry of a workspace, in commit order, into a JSON Lines archive, exactly once.

    KEFU_API_KEY=kefu_sk_... python3 compliance_feed.py --api https://kefu.example.com \
        --archive kefu-archive.jsonl            # follow the feed forever
    ... --once                                  # stop when caught up (a cron job)

The state file (`<archive>.state`) holds the cursor and the archive's length after the last page.
A page is appended and flushed to disk before the state is replaced (atomically, by rename); on
start the archive is cut back to the recorded length, so a crash between the two never leaves a
duplicate or a gap. Only the Python standard library is used.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def read_state(path):
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        return state.get("next", ""), int(state.get("length", 0))
    except FileNotFoundError:
        return "", 0


def write_state(path, cursor, length):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump({"next": cursor, "length": length}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def fetch(api, key, cursor, limit):
    query = urllib.parse.urlencode({"after": cursor, "limit": limit})
    request = urllib.request.Request(
        f"{api.rstrip('/')}/api/v1/compliance/feed?{query}",
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="the api's base URL")
    parser.add_argument("--archive", required=True, help="the JSON Lines file to append to")
    parser.add_argument("--limit", type=int, default=500, help="items per request (1-1000)")
    parser.add_argument("--once", action="store_true", help="stop when caught up")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds between polls when caught up")
    args = parser.parse_args()
    key = os.environ.get("KEFU_API_KEY")
    if not key:
        sys.exit("set KEFU_API_KEY to an API key with the admin role")

    state_path = args.archive + ".state"
    cursor, length = read_state(state_path)
    with open(args.archive, "a+b") as archive:
        archive.truncate(length)  # drop a page whose state was never recorded
        archive.seek(length)
        backoff = 1.0
        while True:
            try:
                page = fetch(args.api, key, cursor, args.limit)
            except urllib.error.HTTPError as error:
                if error.code in (429, 502, 503, 504):  # busy, or the workspace is moving: retry
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 60)
                    continue
                sys.exit(f"the feed refused: {error.code} {error.read().decode('utf-8', 'replace')}")
            except urllib.error.URLError as error:
                print(f"network: {error.reason}; retrying", file=sys.stderr)
                time.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            backoff = 1.0
            for item in page["items"]:
                archive.write(json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n")
            archive.flush()
            os.fsync(archive.fileno())
            length = archive.tell()
            cursor = page["next"]
            write_state(state_path, cursor, length)
            if page["items"]:
                print(f"archived {len(page['items'])} items", file=sys.stderr)
            if not page["more"]:
                if args.once:
                    return
                time.sleep(args.wait)


if __name__ == "__main__":
    main()
