#!/usr/bin/python3
"""Idle-connection holder of bench/peers.sh: what a server's resident memory grows by per idle keep-alive connection.
Standard library only.

  idle.py --port P --connections N --pid PID [--settle S] [--timeout T] [--in-flight K] --out JSON

1. Raises its own open-file limit to the hard limit (it needs N + a few descriptors).
2. Reads the server's resident set size: VmRSS summed over PID and all its descendants (nginx: master and workers),
   from /proc/PID/status.
3. Opens N connections to 127.0.0.1:P, at most K (default 256) connecting or waiting for their reply at a time,
   sends `GET / HTTP/1.1` on each and reads the whole 200 reply, so that the server has set up its per-connection
   state; the connection then stays open and idle.
4. Once all are established (or failed, or --timeout passed: default 120 s), waits --settle seconds (default 3).
5. Reads the server's RSS again, then checks that each connection is still open (poll: no end of stream, no error,
   no unexpected byte).
6. Writes the figures as JSON to --out (kib_per_connection = RSS delta / connections open at the measurement) and
   closes every connection with a reset (SO_LINGER 0), so no TIME_WAIT is left behind on the port.
Exit status 0 when the figures were measured (whatever they are), 1 when they could not be.
"""

import argparse
import errno
import json
import os
import re
import resource
import select
import selectors
import socket
import struct
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)


def process_tree(root):
    """root and every descendant PID (from the parent PIDs in /proc/*/stat)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(tree)


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


class Conn:
    __slots__ = ("sock", "buf", "state")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.state = "connecting"


def reply_complete(buf):
    """None while incomplete, else the status code of the reply in buf (which must be one whole reply)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    m = CONTENT_LENGTH.search(buf[:end + 2])
    length = int(m.group(1)) if m else 0
    if len(buf) < end + 4 + length:
        return None
    try:
        return int(buf.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return -1


def main():
    p = argparse.ArgumentParser(description="idle keep-alive connections and the server's RSS per connection")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="the server's root process")
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--in-flight", type=int, default=256)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.connections + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        print(f"idle.py: the open-file hard limit is {hard}, {need} are needed", file=sys.stderr)
        return 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else need, hard))

    pids = process_tree(a.pid)
    rss_before = rss_kib(pids)
    started = time.monotonic()
    deadline = started + a.timeout
    sel = selectors.DefaultSelector()
    established, failures = [], {}
    pending = 0
    opened = 0

    def fail(conn, reason):
        nonlocal pending
        failures[reason] = failures.get(reason, 0) + 1
        try:
            sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        pending -= 1

    while (opened < a.connections or pending) and time.monotonic() < deadline:
        while opened < a.connections and pending < a.in_flight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            opened += 1
            pending += 1
            conn = Conn(s)
            rc = s.connect_ex(("127.0.0.1", a.port))
            if rc not in (0, errno.EINPROGRESS):
                fail(conn, errno.errorcode.get(rc, str(rc)))
                continue
            sel.register(s, selectors.EVENT_WRITE, conn)
        for key, _ in sel.select(timeout=0.5):
            conn = key.data
            if conn.state == "connecting":
                err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(conn, errno.errorcode.get(err, str(err)))
                    continue
                try:
                    conn.sock.send(REQUEST)  # a few bytes into an empty send buffer: all of them
                except OSError as e:
                    fail(conn, errno.errorcode.get(e.errno, str(e.errno)))
                    continue
                conn.state = "reading"
                sel.modify(conn.sock, selectors.EVENT_READ, conn)
                continue
            try:
                chunk = conn.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                fail(conn, errno.errorcode.get(e.errno, str(e.errno)))
                continue
            if not chunk:
                fail(conn, "closed before the reply")
                continue
            conn.buf += chunk
            status = reply_complete(conn.buf)
            if status is None:
                continue
            if status != 200:
                fail(conn, f"status {status}")
                continue
            sel.unregister(conn.sock)
            conn.buf = b""
            conn.state = "idle"
            established.append(conn)
            pending -= 1
    open_seconds = time.monotonic() - started
    if pending:
        failures["not established within the timeout"] = pending + (a.connections - opened)
        for key in list(sel.get_map().values()):
            key.fileobj.close()
    sel.close()

    time.sleep(a.settle)
    pids = process_tree(a.pid)
    rss_after = rss_kib(pids)

    poller = select.poll()
    by_fd = {}
    for conn in established:
        poller.register(conn.sock, select.POLLIN | select.POLLRDHUP)
        by_fd[conn.sock.fileno()] = conn
    gone = {"closed by the server": 0, "unexpected bytes": 0, "error": 0}
    for fd, events in poller.poll(0):
        if events & (select.POLLERR | select.POLLHUP):
            gone["error"] += 1
            continue
        try:
            data = by_fd[fd].sock.recv(1, socket.MSG_PEEK)
        except OSError:
            gone["error"] += 1
            continue
        gone["closed by the server" if not data else "unexpected bytes"] += 1
    still_open = len(established) - sum(gone.values())

    delta = rss_after - rss_before
    result = {
        "connections": a.connections,
        "established": len(established),
        "failed": failures,
        "open_at_measurement": still_open,
        "gone_before_measurement": {k: v for k, v in gone.items() if v},
        "open_seconds": round(open_seconds, 2),
        "settle_seconds": a.settle,
        "processes": pids,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_delta_kib": delta,
        "kib_per_connection": round(delta / still_open, 3) if still_open else None,
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)

    linger = struct.pack("ii", 1, 0)
    for conn in established:
        try:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        conn.sock.close()
    return 0 if still_open else 1


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main())
