#!/usr/bin/python3
"""Helper of bench/cluster-scale.sh: speaks the nodes' control sockets, times each cluster-wide shard-count change
until every node serves it, prints the figures and writes the cluster-scale section of docs/benchmarks.md.
Standard library only.

  measure.py freeport ADDRESS...                  a TCP port that is free on every one of the addresses
  measure.py wait-up SECONDS SOCKET...            exit 0 once `status --cluster`, asked of every node's control socket,
                                                  shows as many members as sockets, all Up, reachable and in sync
  measure.py run OUT.json [options]               the changes (see `measure.py run --help`), one line each on stdout
  measure.py effective LOG                        the distributed-data intervals a node runs with, from the
                                                  configuration it logged (akka.log-config-on-start = on)
  measure.py render WORKDIR DOCS                  print the summary, write the cluster-scale section of DOCS

What "serves N" means (the same in the script's output and the document): N of the node's sockets on the port are
listening and new connections reach them.
- Scale-up: N LISTEN sockets on the node's address:port in the kernel's table (a netlink sock_diag dump of the
  listening sockets, what `ss -ltn` reads). The coordinator binds
  and listen()s the new sockets, starts their shards and re-steers the group in one step, so from the moment the
  kernel lists them they take connections. Each change starts from a settled cluster (no retiring socket left), so
  the count can only reach N through the new sockets.
- Scale-down: N shards in state "accepting" in the node's own status (its control socket). The coordinator marks the
  others retiring and attaches the reuseport program that steers new connections away from them in the same step;
  the kernel still lists a retiring socket until its accept queue has stayed empty for retire-quiet-period (200 ms
  by default) and it closes, which is measured too ("retired sockets closed") but is not what serving means.
Cross-check, from the nodes' side: each node's log says when its shards started accepting ("Shard http/5 accepting on")
or started retiring ("Shard http/5 retiring: draining"), by the node's clock, independent of when this script got the
CPU to look (the nodes and the script share the machine's CPUs).
"""

import argparse
import datetime as dt
import json
import re
import os
import random
import socket
import statistics
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchdoc import read_meta, table, write_section  # noqa: E402

SECTION = "cluster-scale"


# ---- Control socket -------------------------------------------------------------------------------------------------

def control(path, request, timeout=30.0):
    """One request line in, one reply line out (the node closes the connection)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((json.dumps(request) + "\n").encode())
        return read_reply(s)


def read_reply(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf)


def accepting_inodes(status, listener):
    """The socket inodes of the listener's accepting shards, and how many shards it has in all (retiring included)."""
    for entry in status.get("listeners", []):
        if entry["name"] == listener:
            shards = entry.get("shards", [])
            return [s["socketInode"] for s in shards if s["state"] == "accepting"], len(shards)
    return [], 0


# ---- Kernel ---------------------------------------------------------------------------------------------------------

# What `ss -ltn` asks the kernel: a sock_diag dump of the TCP sockets in state LISTEN only. It walks the listening hash
# table alone; /proc/net/tcp walks the established one too, which takes about 5 ms here even when it is empty.
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN = 10


def node_key(address, port):
    return socket.inet_aton(address), port


def listening(keys):
    """(address bytes, port) -> number of IPv4 TCP sockets in LISTEN on it, for the given keys."""
    counts = dict.fromkeys(keys, 0)
    request = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN) + bytes(48)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as s:
        s.sendall(struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
                  + request)
        while True:
            data = s.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind == NLMSG_DONE:
                    return counts
                if kind == NLMSG_ERROR:
                    raise OSError("sock_diag: the kernel refused the dump")
                # inet_diag_msg: family, state, timer, retrans, then the id: sport, dport (big-endian), src, dst, ...
                state = data[offset + 17]
                sport = struct.unpack_from("!H", data, offset + 20)[0]
                key = (data[offset + 24:offset + 28], sport)
                if state == TCP_LISTEN and key in counts:
                    counts[key] += 1
                offset += (length + 3) & ~3
            if not data:
                return counts


# ---- Commands -------------------------------------------------------------------------------------------------------

def cmd_freeport(addresses):
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        try:
            held = []
            for address in addresses:
                s = socket.socket()
                held.append(s)
                s.bind((address, port))
            for s in held:
                s.close()
            print(port)
            return 0
        except OSError:
            for s in held:
                s.close()
    print("no port free on all of " + ", ".join(addresses), file=sys.stderr)
    return 1


def cmd_wait_up(seconds, paths):
    """Every node must see every member Up: a node that still sees itself Joining refuses to write a change."""
    deadline = time.monotonic() + float(seconds)
    last = "no answer yet"
    while time.monotonic() < deadline:
        views = []
        for i, path in enumerate(paths, 1):
            try:
                reply = control(path, {"command": "status", "cluster": True}, timeout=10)
                members = reply.get("result", {}).get("members", [])
                up = [m for m in members if m["status"] == "Up" and m["reachable"] and m.get("following") == "in sync"]
                views.append((len(members), len(up)))
                last = f"node {i} sees {len(up)} of {len(members)} members Up, reachable and in sync (want {len(paths)})"
            except (OSError, ValueError, KeyError) as e:
                last = f"node {i}: status --cluster: {e}"
                break
            if views[-1] != (len(paths), len(paths)):
                break
        if len(views) == len(paths) and all(v == (len(paths), len(paths)) for v in views):
            print(f"every node sees {len(paths)} members Up, reachable and in sync")
            return 0
        time.sleep(0.5)
    print(f"not up after {seconds} s: {last}", file=sys.stderr)
    return 1


class Node:
    def __init__(self, index, address, sock, port):
        self.index = index
        self.address = address
        self.sock = sock
        self.key = node_key(address, port)


def settled(nodes, listener, count):
    """True when every node lists exactly `count` sockets in the kernel and has `count` shards, all accepting."""
    kernel = listening([n.key for n in nodes])
    for n in nodes:
        if kernel[n.key] != count:
            return False, f"node {n.index}: {kernel[n.key]} LISTEN sockets in the kernel"
        status = control(n.sock, {"command": "status"}, timeout=10)["status"]
        accepting, total = accepting_inodes(status, listener)
        if len(accepting) != count or total != count:
            return False, f"node {n.index}: {len(accepting)} accepting of {total} shards in its status"
    return True, ""


def status_poller(node, listener, target, t0, interval, deadline, result, stop):
    """Polls the node's status until it shows `target` accepting shards; records when (ms after t0)."""
    while not stop.is_set() and time.monotonic() < deadline:
        sent = time.monotonic()
        try:
            status = control(node.sock, {"command": "status"}, timeout=max(0.1, deadline - sent))["status"]
        except (OSError, ValueError, KeyError) as e:
            result["error"] = str(e)
            time.sleep(interval)
            continue
        got = time.monotonic()
        accepting, _ = accepting_inodes(status, listener)
        result["polls"] = result.get("polls", 0) + 1
        if len(accepting) == target:
            result["status_ms"] = (got - t0) * 1000.0
            result["status_sent_ms"] = (sent - t0) * 1000.0
            return
        time.sleep(max(0.0, interval - (time.monotonic() - sent)))


def one_change(nodes, sender, listener, start, target, args):
    """Sends the scale request to `sender` and watches every node until it serves `target` (and, scaling down, until
    the retired sockets closed). Returns the change's record."""
    up = target > start
    request = {"command": "scale", "listener": listener, "shards": target, "cluster": True}
    record = {"from": start, "to": target, "direction": "up" if up else "down", "sender": sender.index,
              "nodes": {}, "reply_ms": None, "reply": None}
    results = {n.index: {} for n in nodes}
    stop = threading.Event()
    reply_box = {}

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    s.connect(sender.sock)
    record["wall_start"] = time.time()
    t0 = time.monotonic()
    s.sendall((json.dumps(request) + "\n").encode())
    deadline = t0 + args.timeout

    def read():
        try:
            reply_box["reply"] = read_reply(s)
            reply_box["ms"] = (time.monotonic() - t0) * 1000.0
        except (OSError, ValueError) as e:
            reply_box["reply"] = {"ok": False, "error": f"no reply: {e}"}
        finally:
            s.close()

    threads = [threading.Thread(target=read, daemon=True)]
    # Status is polled only scaling down: scaling up, the kernel's table tells (and more cheaply: every poller takes CPU
    # from the nodes and from the kernel poll below; the settling check before the next change confirms the status).
    for n in ([] if up else nodes):
        threads.append(threading.Thread(target=status_poller, daemon=True, args=(
            n, listener, target, t0, args.status_poll_ms / 1000.0, deadline, results[n.index], stop)))
    for t in threads:
        t.start()

    kernel_ms = {}
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        counts = listening([n.key for n in nodes])
        now = (time.monotonic() - t0) * 1000.0
        for n in nodes:
            if n.index not in kernel_ms and counts[n.key] == target:
                kernel_ms[n.index] = now
        if len(kernel_ms) == len(nodes) and "reply" in reply_box \
                and (up or all("status_ms" in results[n.index] for n in nodes)):
            break
        if "reply" in reply_box and not reply_box["reply"].get("ok"):
            break  # refused: nothing changes
        time.sleep(args.poll_ms / 1000.0)
    record["kernel_poll_period_ms"] = (time.monotonic() - t0) * 1000.0 / polls
    stop.set()
    for t in threads:
        t.join(timeout=max(1.0, args.timeout))

    record["reply"] = reply_box.get("reply")
    record["reply_ms"] = reply_box.get("ms")
    for n in nodes:
        r = results[n.index]
        node = {"kernel_ms": kernel_ms.get(n.index), "status_ms": r.get("status_ms"),
                "status_sent_ms": r.get("status_sent_ms"), "status_polls": r.get("polls", 0)}
        if "error" in r:
            node["status_error"] = r["error"]
        if not up and r.get("polls"):
            node["status_poll_period_ms"] = (r["status_ms"] if "status_ms" in r else args.timeout * 1000.0) / r["polls"]
        node["serving_ms"] = node["kernel_ms"] if up else node["status_ms"]
        # Scaling down, the kernel's count reaches the target once the retired sockets closed.
        node["closed_ms"] = None if up else node["kernel_ms"]
        record["nodes"][str(n.index)] = node
    serving = [record["nodes"][str(n.index)]["serving_ms"] for n in nodes]
    ok = bool(record["reply"] and record["reply"].get("ok")) and all(v is not None for v in serving)
    record["ok"] = ok
    record["all_serving_ms"] = max(serving) if ok else None
    record["first_serving_ms"] = min(v for v in serving if v is not None) if any(v is not None for v in serving) else None
    record["sender_serving_ms"] = record["nodes"][str(sender.index)]["serving_ms"]
    if not up:
        closed = [record["nodes"][str(n.index)]["closed_ms"] for n in nodes]
        record["all_closed_ms"] = max(closed) if all(v is not None for v in closed) else None
    return record


def sequence(start, changes):
    """Shard counts after each change: alternately up and down, by 1 to 5, every one a real change."""
    cycle = [4, 2, 5, 3, 6, 1, 3, 2]
    out = []
    current = start
    i = 0
    while len(out) < changes:
        nxt = cycle[i % len(cycle)]
        i += 1
        if nxt == current:
            continue
        out.append(nxt)
        current = nxt
    return out


def fmt(v):
    return "-" if v is None else f"{v:.0f}"


def cmd_run(argv):
    p = argparse.ArgumentParser(prog="measure.py run")
    p.add_argument("out")
    p.add_argument("--node", action="append", required=True, metavar="ADDRESS=CONTROL_SOCKET",
                   help="a node: the address its listeners bind and its control socket (repeat per node)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--listener", default="http")
    p.add_argument("--start", type=int, default=2, help="the shard count every node has before the first change")
    p.add_argument("--changes", type=int, default=50)
    p.add_argument("--warmup", type=int, default=2, help="changes made and timed first but not counted")
    p.add_argument("--poll-ms", type=float, default=5.0, help="kernel table polling interval")
    p.add_argument("--status-poll-ms", type=float, default=10.0, help="status polling interval, per node")
    p.add_argument("--gap-ms", default="200-500", help="random pause after the cluster settled, before the next change")
    p.add_argument("--timeout", type=float, default=20.0, help="longest wait for one change")
    p.add_argument("--settle-timeout", type=float, default=30.0, help="longest wait for the cluster to settle")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    nodes = []
    for i, spec in enumerate(args.node, 1):
        address, sock = spec.split("=", 1)
        nodes.append(Node(i, address, sock, args.port))
    gap_lo, gap_hi = (float(x) for x in args.gap_ms.split("-"))
    rng = random.Random(args.seed)
    records = []
    current = args.start
    failure = None
    plan = sequence(args.start, args.warmup + args.changes)
    for k, target in enumerate(plan, 1 - args.warmup):
        deadline = time.monotonic() + args.settle_timeout
        while True:
            ok, why = settled(nodes, args.listener, current)
            if ok:
                break
            if time.monotonic() > deadline:
                failure = f"before change {k}: the cluster did not settle at {current} shards within {args.settle_timeout:.0f} s ({why})"
                break
            time.sleep(0.05)
        if failure:
            break
        time.sleep(rng.uniform(gap_lo, gap_hi) / 1000.0)
        sender = nodes[(k - 1) % len(nodes)]
        r = one_change(nodes, sender, args.listener, current, target, args)
        r["index"] = k
        r["warmup"] = k < 1
        records.append(r)
        per_node = " ".join(f"n{i}={fmt(r['nodes'][str(i)]['serving_ms'])}" for i in range(1, len(nodes) + 1))
        name = f"warm-up {k + args.warmup}/{args.warmup}" if k < 1 else f"change {k:2d}/{args.changes}"
        line = (f"{name}: {r['from']} -> {r['to']} ({r['direction']:4s}) via node {sender.index}: "
                f"reply {fmt(r['reply_ms'])} ms, all serving {fmt(r['all_serving_ms'])} ms ({per_node})")
        if r["direction"] == "down":
            line += f", retired sockets closed {fmt(r.get('all_closed_ms'))} ms"
        if not r["ok"]:
            line += f"  FAILED: {json.dumps(r['reply'])[:300]}"
        print(line, flush=True)
        if not r["ok"]:
            failure = f"change {k} ({r['from']} -> {r['to']}) did not complete within {args.timeout:.0f} s"
            break
        current = target
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"changes": records, "failure": failure, "nodes": len(nodes), "port": args.port,
                   "poll_ms": args.poll_ms, "status_poll_ms": args.status_poll_ms, "gap_ms": args.gap_ms,
                   "start": args.start, "planned": args.changes, "warmup": args.warmup}, f, indent=1)
    if failure:
        print(failure, file=sys.stderr)
        return 1
    return 0


def cmd_effective(path):
    """The `akka.cluster.distributed-data` intervals from the configuration a node logged at start."""
    found = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for i, line in enumerate(lines):
        if line.strip() == "distributed-data : {":
            for inner in lines[i + 1:i + 40]:
                key, sep, value = inner.strip().partition(" : ")
                if sep and key in ("notify-subscribers-interval", "gossip-interval") and key not in found:
                    found[key] = value.strip('"')
            break
    if len(found) < 2:
        print("unknown (the node logged no distributed-data configuration)")
        return 1
    print(f"notify-subscribers-interval {found['notify-subscribers-interval']}, gossip-interval {found['gossip-interval']}")
    return 0


# ---- Report ---------------------------------------------------------------------------------------------------------

def percentile(values, q):
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    v = sorted(values)
    rank = max(1, -(-len(v) * q // 100))
    return v[int(rank) - 1]


def stats(values):
    values = [x for x in values if x is not None]
    if not values:
        return ["0", "-", "-", "-", "-"]
    return [str(len(values)), f"{min(values):.0f}", f"{statistics.median(values):.0f}",
            f"{percentile(values, 90):.0f}", f"{max(values):.0f}"]


def measured(data):
    return [c for c in data["changes"] if not c.get("warmup") and c["ok"]]


def series_summary(data):
    ch = measured(data)
    up = [c for c in ch if c["direction"] == "up"]
    down = [c for c in ch if c["direction"] == "down"]
    rows = [
        ["**every node serves the new count**", *stats([c["all_serving_ms"] for c in ch])],
        ["&nbsp;&nbsp;scale-up (kernel: N listening sockets)", *stats([c["all_serving_ms"] for c in up])],
        ["&nbsp;&nbsp;scale-down (status: N accepting shards)", *stats([c["all_serving_ms"] for c in down])],
        ["the scale reply (the change stored by all nodes)", *stats([c["reply_ms"] for c in ch])],
        ["the first node serves", *stats([c["first_serving_ms"] for c in ch])],
        ["the node that got the request serves", *stats([c["sender_serving_ms"] for c in ch])],
        ["every node serves, minus the reply", *stats([c["all_serving_ms"] - c["reply_ms"] for c in ch])],
        ["scale-down: the retired sockets closed (kernel)", *stats([c.get("all_closed_ms") for c in down])],
        ["cross-check: the last node's log line of the change", *stats([c.get("logs_ms") for c in ch])],
    ]
    headers = ["from writing the request to ... (ms)", "changes", "min", "median", "p90", "max"]
    return table(headers, rows, right={1, 2, 3, 4, 5})


def per_change_table(data):
    rows = []
    n = data["nodes"]
    for c in data["changes"]:
        index = f"w{c['index'] + data.get('warmup', 0)}" if c.get("warmup") else c["index"]
        rows.append([index, f"{c['from']} -> {c['to']}", c["sender"], fmt(c["reply_ms"]),
                     *[fmt(c["nodes"][str(i)]["serving_ms"]) for i in range(1, n + 1)],
                     f"**{fmt(c['all_serving_ms'])}**", fmt(c.get("all_closed_ms")) if c["direction"] == "down" else "",
                     fmt(c.get("logs_ms")), "" if c["ok"] else "FAILED"])
    headers = ["#", "shards", "sent to node", "reply", *[f"node {i}" for i in range(1, n + 1)], "all serve",
               "retired closed", "logs", ""]
    return table(headers, rows, right=set(range(2, 7 + n)))


LOG_LINE = re.compile(r"^\[(\d\d:\d\d:\d\d\.\d{3}) \w+ \d+ g\d+\] Shard (\S+)/\d+ (accepting on|retiring: draining)")


def add_log_times(data, logs, listener="http"):
    """Per change: when each node's log says it applied it (its shards accepting scaling up, retiring scaling down),
    ms after the request, and the latest of those ("logs_ms"). The logs carry the time of day (local time)."""
    events = {}
    for node, path in logs.items():
        events[node] = []
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = LOG_LINE.match(line)
                if m and m.group(2) == listener:
                    events[node].append((m.group(1), "up" if m.group(3) == "accepting on" else "down"))
    changes = sorted(data["changes"], key=lambda c: c["wall_start"])
    for k, c in enumerate(changes):
        start = c["wall_start"]
        end = changes[k + 1]["wall_start"] if k + 1 < len(changes) else float("inf")
        day = dt.datetime.fromtimestamp(start).date()
        latest = {}
        for node, lines in events.items():
            for clock, kind in lines:
                t = dt.datetime.combine(day, dt.time.fromisoformat(clock)).timestamp()
                if t < start - 43200:
                    t += 86400  # past midnight
                if kind == c["direction"] and start <= t < end:
                    latest[node] = max(latest.get(node, t), t)
        for node, t in latest.items():
            c["nodes"][node]["log_ms"] = (t - start) * 1000.0
        c["logs_ms"] = max(latest.values()) * 1000.0 - start * 1000.0 if len(latest) == len(events) else None


def poll_text(data):
    """How often the script actually looked (the nodes and the script share the CPUs, so it can fall behind)."""
    ch = measured(data)
    kernel = [c["kernel_poll_period_ms"] for c in ch if c.get("kernel_poll_period_ms")]
    status = [n["status_poll_period_ms"] for c in ch for n in c["nodes"].values() if n.get("status_poll_period_ms")]
    text = "Resolution: the kernel's table was read every "
    text += f"{statistics.median(kernel):.1f} ms (median over the changes; worst {max(kernel):.1f} ms)" if kernel else "- ms"
    if status:
        text += (f", a node's status every {statistics.median(status):.1f} ms (median; worst {max(status):.1f} ms, "
                 "request to answer included)")
    return text + "."


def warmup_text(data):
    w = [c for c in data["changes"] if c.get("warmup")]
    if not w:
        return ""
    return ("Warm-up (made first, not counted): " + "; ".join(
        f"{c['from']} -> {c['to']}: reply {fmt(c['reply_ms'])} ms, every node serves {fmt(c['all_serving_ms'])} ms"
        for c in w) + ".")


def cmd_render(workdir, docs):
    meta = read_meta(workdir)
    series = [s for s in meta["series"].split(",") if s]
    out = []
    add = out.append
    add("## Cluster scale: from a `scale --cluster` request until every node serves the new shard count")
    add("")
    add(f"Produced by `{meta['command']}` on {meta['date']} (UTC) at commit `{meta['commit']}`.")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}. The nodes, the measuring script and anything else running share these CPUs; the "
        f"1-minute load average was {meta['loadavg']}.")
    add("")
    add(f"Setup: {meta['nodes']} node processes (`shardruntime run`, Release) on this machine in one Akka.Cluster "
        f"over loopback remoting: node i binds remoting and listeners on 127.0.0.(10+i); node 1 forms the cluster on "
        f"an ephemeral port read from its log, the others join it. Every node serves listener `http` (`http-ok`) on "
        f"its own address, port {meta['port']}, from {meta['start']} shards. No client traffic. "
        f"{meta['warmup']} warm-up changes, then {meta['changes']} timed ones, each "
        "`{\"command\":\"scale\",\"listener\":\"http\",\"shards\":N,\"cluster\":true}` written straight to "
        f"a node's control socket (no CLI process), to node 1, 2, 3, 1, ... in turn; N = {meta['sequence']}: "
        "alternately up and down, by 1 to 5 shards. Before each change the script waits until every node has settled "
        f"at the current count (kernel and status agree, no retiring socket left), then a random {meta['gap_ms']} ms "
        "more, so that changes fall at random points of the nodes' timers. Each series runs on a cluster of its own.")
    add("")
    add("What is timed: from writing the request to the control socket until every node serves the new count. A "
        "node serves N when N of its sockets on the port listen and new connections reach them. Scaling up: the "
        "kernel lists N LISTEN sockets on the node's address:port (a netlink sock_diag dump of the listening sockets, "
        "what `ss -ltn` reads, every "
        f"{meta['poll_ms']} ms); the coordinator binds the new sockets, starts their shards and re-steers the "
        "reuseport group in one step, and every change starts with no retiring socket left, so the count reaches N "
        "only through the new sockets. Scaling down: the node's own `status` shows N accepting shards (polled, only while "
        "scaling down, every "
        f"{meta['status_poll_ms']} ms per node over its control socket, timed when the answer arrives); the "
        "coordinator marks the other shards retiring and attaches the BPF program that steers new connections away "
        "from them in that same step. A retiring socket stays in the kernel's table until its accept queue has been "
        "empty for `retire-quiet-period` (200 ms) and it closes: shown apart as \"retired sockets closed\", not "
        "serving. The scale reply comes once the change is stored by all nodes (Akka.DistributedData WriteAll; every "
        "node was reachable); a node's coordinator applies it when the node's replicator notifies its subscribers, "
        "every `notify-subscribers-interval`. Cross-check from the nodes' side (\"logs\"): the time of the last line "
        "in which a node's shard says it accepts (`Shard http/5 accepting on ...`) or retires (`Shard http/5 "
        "retiring: draining ...`), by the node's clock, so independent of when the script got a CPU to look; the shard "
        "actor logs it a moment after the coordinator's step, and the time of day has millisecond resolution.")
    add("")
    loaded = {}
    for name in series:
        data = json.load(open(os.path.join(workdir, f"series-{name}.json"), encoding="utf-8"))
        add_log_times(data, {str(i): os.path.join(workdir, name, f"node{i}.log") for i in range(1, data["nodes"] + 1)})
        loaded[name] = data
        add(f"### {meta[f'series_{name}']}")
        add("")
        add(f"In effect on the nodes (from the configuration node 1 logged at start, `akka.log-config-on-start`): "
            f"`akka.cluster.distributed-data` {meta[f'effective_{name}']}.")
        add("")
        add(series_summary(data))
        add("")
        add(poll_text(data))
        add("")
        if data.get("failure"):
            add(f"**The series stopped early**: {data['failure']}.")
            add("")
        if warmup_text(data):
            add(warmup_text(data))
            add("")
        add("<details><summary>Every change (ms from writing the request; node columns: when that node served)"
            "</summary>")
        add("")
        add(per_change_table(data))
        add("")
        add("</details>")
        add("")
    add("Min, median, p90 (nearest rank) and max over the timed changes of a series. \"Minus the reply\": how much "
        "later than the scale reply the last node served (negative: before it).")
    section = "\n".join(out)

    for name in series:
        data = loaded[name]
        print()
        print(f"{meta[f'series_{name}']} (in effect: {meta[f'effective_{name}']})")
        print(series_summary(data))
    write_section(docs, SECTION, section)
    print(f"\nwrote the {SECTION} section of {docs}")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "freeport":
        return cmd_freeport(argv[1:])
    if len(argv) >= 3 and argv[0] == "wait-up":
        return cmd_wait_up(argv[1], argv[2:])
    if len(argv) == 2 and argv[0] == "effective":
        return cmd_effective(argv[1])
    if len(argv) >= 1 and argv[0] == "run":
        return cmd_run(argv[1:])
    if len(argv) == 3 and argv[0] == "render":
        return cmd_render(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
