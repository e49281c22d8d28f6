#!/usr/bin/env python3
"""The peer a small team might build instead of Stitch: union-find in a Redis
Lua script (one EVALSHA per event: find or create each identifier, link the
roots, append the event to the person's history), Redis with AOF fsync every
second (weaker than Stitch's fsync before every ack).

Fed the events a Stitch run stored (`stitch export events` NDJSON), encoded
as RESP before the clock starts, pipelined over one connection with a window
of commands in flight; prints one JSON line with the rate.

  redis_union_find.py --port 6390 --events events.ndjson [--window 2000]
"""
import argparse
import json
import socket
import time

# KEYS: the event's identifiers ("site|kind|value"); ARGV[1]: the event body.
# parent:<id> holds the parent; a root points to itself. The smallest root (by
# creation number) survives a union; history lives under the root's key.
SCRIPT = r"""
local function find(id)
  local root = id
  local path = {}
  while true do
    local parent = redis.call('HGET', 'parent', root)
    if parent == root then break end
    table.insert(path, root)
    root = parent
  end
  for _, node in ipairs(path) do redis.call('HSET', 'parent', node, root) end
  return root
end
local roots = {}
for _, key in ipairs(KEYS) do
  local id = redis.call('HGET', 'ident', key)
  if not id then
    id = tostring(redis.call('INCR', 'next'))
    redis.call('HSET', 'ident', key, id)
    redis.call('HSET', 'parent', id, id)
  end
  table.insert(roots, find(id))
end
local winner = roots[1]
for _, root in ipairs(roots) do
  if tonumber(root) < tonumber(winner) then winner = root end
end
for _, root in ipairs(roots) do
  if root ~= winner then
    redis.call('HSET', 'parent', root, winner)
    local moved = redis.call('LRANGE', 'history:' .. root, 0, -1)
    if #moved > 0 then
      redis.call('RPUSH', 'history:' .. winner, unpack(moved))
      redis.call('DEL', 'history:' .. root)
    end
  end
end
redis.call('RPUSH', 'history:' .. winner, ARGV[1])
return tonumber(winner)
"""


def resp(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_replies(sock, count, buffered):
    """Reads until `count` reply lines have arrived (each reply is one line:
    an integer or an error); returns the leftover bytes and the errors seen."""
    errors = 0
    while count > 0:
        if b"\n" not in buffered:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("redis closed the connection")
            buffered += chunk
            continue
        lines = buffered.split(b"\n")
        buffered = lines.pop()
        take = min(count, len(lines))
        errors += sum(1 for line in lines[:take] if line.startswith(b"-"))
        count -= take
        if take < len(lines):
            buffered = b"\n".join(lines[take:]) + b"\n" + buffered
    return buffered, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", required=True, help="NDJSON of beacons (stitch export events)")
    parser.add_argument("--window", type=int, default=2000, help="commands in flight at most")
    args = parser.parse_args()

    sock = socket.create_connection((args.host, args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(resp("SCRIPT", "LOAD", SCRIPT))
    reply = b""
    while not reply.endswith(b"\r\n\r\n") and reply.count(b"\r\n") < 2:
        reply += sock.recv(4096)
    sha = reply.split(b"\r\n")[1]

    commands = []
    with open(args.events, "rb") as lines:
        for line in lines:
            beacon = json.loads(line)
            site = beacon.get("site", 0)
            keys = ["%s|%s|%s" % (site, i.get("kind"), i.get("value")) for i in beacon.get("identifiers", [])]
            if not keys:
                continue
            commands.append(resp("EVALSHA", sha, len(keys), *keys, line.rstrip(b"\n")))

    buffered = b""
    errors = 0
    in_flight = 0
    start = time.monotonic()
    index = 0
    while index < len(commands):
        room = args.window - in_flight
        if room > 0:
            chunk = commands[index:index + room]
            sock.sendall(b"".join(chunk))
            index += len(chunk)
            in_flight += len(chunk)
        half = max(1, in_flight // 2)
        buffered, seen = read_replies(sock, half, buffered)
        errors += seen
        in_flight -= half
    buffered, seen = read_replies(sock, in_flight, buffered)
    errors += seen
    elapsed = time.monotonic() - start
    print(json.dumps({"events": len(commands), "seconds": round(elapsed, 3),
                      "events_per_second": round(len(commands) / elapsed), "errors": errors}))


if __name__ == "__main__":
    main()
