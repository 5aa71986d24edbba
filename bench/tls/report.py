#!/usr/bin/python3
"""Helper of bench/tls.sh: the TLS probe run before each turn (what was negotiated, whether a session is resumed),
the servers' CPU time, the load generator's echo summaries as JSON records, and the report (tables, targets, the tls
section of docs/benchmarks.md). Standard library only; wrk's figures are recorded by bench/peers/report.py.

  report.py probe PORT SECONDS JSON [K=V ...]  TLS probe (openssl s_client, OPENSSL_CONF from the environment): until
                                               GET / answers 200 over TLS and the server closes, or SECONDS pass;
                                               then a second connection offers the first one's session; records
                                               protocol, cipher, key exchange, signature, the reply, resumed or not
  report.py echo-ready PORT SECONDS            exit 0 once 127.0.0.1:PORT echoes 16 bytes back
  report.py cpu PID                            CPU seconds (user + system) of PID and its descendants so far
  report.py loadgen-record LOADGEN JSON K=V... the load generator's keep-alive echo summary as a JSON record
  report.py line JSON                          one line of figures, for the script's progress output
  report.py render WORKDIR DOCS                print the tables, write the tls section of DOCS
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchdoc import produced_by, publish, add_fields, load, read_meta, save, table, write_section  # noqa: E402

SECTION = "tls"

TLS_SERVERS = [
    ("sr-tls", "ShardRuntime http-ok behind tls, shards = cores"),
    ("nginx-tls", "nginx, 2 workers, reuseport, ssl"),
    ("kestrel-tls", "Kestrel minimal API, UseHttps"),
]
ECHO_SERVERS = [
    ("sr-echo", "ShardRuntime echo (span style), shards = cores"),
    ("sr-echo-async", "ShardRuntime echo-async (async style), shards = cores"),
]
PEER_NAMES = {"nginx-tls": "nginx", "kestrel-tls": "Kestrel"}
SUBJECT = "sr-tls"

# The targets of issue "4/7 Real protocols" (point 7): (scenario, peer, bound), ShardRuntime's rate / the peer's >= bound.
TARGETS = [
    ("ka", "nginx-tls", 0.9),
    ("ka", "kestrel-tls", 1.2),
    ("hs", "nginx-tls", 0.8),
]
SCENARIO_NAMES = {"ka": "TLS keep-alive, requests/s", "hs": "TLS handshakes/s (Connection: close)"}
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def ms(us):
    return "-" if us is None else f"{us / 1000.0:.2f}"


def spread(values, fmt="{:,.0f}"):
    """Median of the rounds, with min–max when there is more than one."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    text = fmt.format(statistics.median(values))
    if len(values) > 1:
        text += f" ({fmt.format(min(values))}–{fmt.format(max(values))})"
    return text


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --- Probe ------------------------------------------------------------------------------------------------------------

def s_client(port, extra, timeout=10):
    """One `openssl s_client` connection sending GET / with Connection: close and reading until the server closes
    (-ign_eof: the end of its input does not close the connection): its output, and the seconds it took. It times out
    (subprocess.TimeoutExpired) when the server keeps the connection open."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-ign_eof"] + extra
    started = time.monotonic()
    done = subprocess.run(argv, input=REQUEST, capture_output=True, timeout=timeout, check=False)
    return done.stdout.decode("latin-1") + done.stderr.decode("latin-1"), time.monotonic() - started


def parse_s_client(text):
    def field(pattern):
        m = re.search(pattern, text, re.MULTILINE)
        return m.group(1).strip() if m else None

    head, _, body = text.partition("HTTP/1.1 ")
    reply = "HTTP/1.1 " + body if body else ""
    status = field(r"^HTTP/1\.1 (\d{3})")
    length = field(r"^Content-Length:\s*(\d+)")
    # s_client prints the reply, then its own lines (closed, DONE, or the session block when the server closes first).
    reply_head, _, reply_rest = reply.replace("\r\n", "\n").partition("\n\n")
    chunked = re.search(r"^Transfer-Encoding:\s*chunked", reply_head, re.MULTILINE | re.IGNORECASE) is not None
    if length:
        reply_body = reply_rest[:int(length)]
    elif chunked:   # the chunks' data up to the last (empty) chunk
        reply_body, rest = "", reply_rest
        while True:
            size, _, rest = rest.partition("\n")
            if not re.fullmatch(r"[0-9a-fA-F]+", size.strip()) or int(size, 16) == 0:
                break
            reply_body += rest[:int(size, 16)]
            rest = rest[int(size, 16) + 1:]
    else:
        reply_body = reply_rest.split("\n", 1)[0]
    return {
        "handshake": field(r"^(New|Reused), (TLSv[\d.]+)"),
        "protocol": field(r"^(?:New|Reused), (TLSv[\d.]+)"),
        "cipher": field(r"^(?:New|Reused), TLSv[\d.]+, Cipher is (\S+)"),
        "key_exchange": field(r"^Server Temp Key: (.+)$"),
        "signature": field(r"^Peer signature type: (.+)$"),
        "signing_digest": field(r"^Peer signing digest: (.+)$"),
        "status": int(status) if status else None,
        "framing": f"Content-Length: {length}" if length else ("chunked" if chunked else "to end of stream"),
        "body": reply_body,
        "head_bytes": len(reply_head.replace("\n", "\r\n")) + 4 if reply else None,
    }


def cmd_probe(port, seconds, out, pairs):
    deadline = time.monotonic() + float(seconds)
    fd, session = tempfile.mkstemp(prefix="tls-probe-", suffix=".pem")
    os.close(fd)
    try:
        first, last = None, "no attempt"
        while time.monotonic() < deadline:
            try:
                text, took = s_client(port, ["-sess_out", session])
            except subprocess.TimeoutExpired:
                text, took = "openssl s_client timed out: the server did not close after its reply", None
            parsed = parse_s_client(text)
            if parsed["status"] == 200 and parsed["protocol"]:
                first = parsed
                first["closed_after_ms"] = round(took * 1000, 1)
                break
            last = text.strip().splitlines()[-1] if text.strip() else "no output"
            time.sleep(0.2)
        if first is None:
            print(f"no TLS reply 200 from 127.0.0.1:{port} within {seconds} s (openssl s_client, last: {last})",
                  file=sys.stderr)
            return 1
        second = parse_s_client(s_client(port, ["-sess_in", session])[0])
    finally:
        os.unlink(session)
    record = dict(first)
    record["resumed"] = second["handshake"] == "Reused"
    record["second_handshake"] = second["handshake"]
    record["second_status"] = second["status"]
    save(out, add_fields(record, pairs))
    return 0


def cmd_echo_ready(port, seconds):
    deadline = time.monotonic() + float(seconds)
    last = "no attempt"
    payload = bytes(range(16))
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as s:
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    got += chunk
            if got == payload:
                return 0
            last = f"got {got!r}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    print(f"127.0.0.1:{port} did not echo within {seconds} s (last: {last})", file=sys.stderr)
    return 1


# --- CPU time ---------------------------------------------------------------------------------------------------------

def cpu_seconds(root):
    """utime + stime of `root` and of every descendant (nginx's workers) still running, in seconds."""
    parent, ticks = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="latin-1") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(name)] = int(rest[1])
        ticks[int(name)] = int(rest[11]) + int(rest[12])  # utime, stime (fields 14 and 15)
    total, frontier = ticks.get(root, 0), [root]
    while frontier:
        children = [p for p, pp in parent.items() if pp in frontier]
        total += sum(ticks[c] for c in children)
        frontier = children
    return total / os.sysconf("SC_CLK_TCK")


# --- Records ----------------------------------------------------------------------------------------------------------

def cmd_loadgen_record(src, path, pairs):
    r = load(src)
    k = r.get("keepalive") or r["total"]
    record = {key: k.get(key, 0) for key in ("attempts", "succeeded", "failed", "refused", "reset", "closed",
                                             "timed_out", "wrong_reply", "other_error", "connections_opened")}
    record["rps"] = r.get("succeeded_per_second") or 0.0
    record["elapsed_seconds"] = r.get("elapsed_seconds")
    record["latency_us"] = k.get("latency_us", {})
    record["options"] = r.get("options", {})
    save(path, add_fields(record, pairs))
    return 0


def cpu_per_request(r, requests_key, cpu_key="cpu_s"):
    """Microseconds of CPU per request: the server's (cpu_s) or the load generator's (client_cpu_s)."""
    requests = r.get(requests_key) or 0
    if r.get(cpu_key) is None or not requests:
        return None
    return r[cpu_key] * 1e6 / requests


def cpu_text(r, requests_key):
    server, client = cpu_per_request(r, requests_key), cpu_per_request(r, requests_key, "client_cpu_s")
    return (f"CPU per request: server {'-' if server is None else f'{server:.1f}'} µs, load generator "
            f"{'-' if client is None else f'{client:.1f}'} µs")


def line_of(r):
    scenario = r.get("scenario")
    if scenario == "probe":
        return (f"{r['protocol']} {r['cipher']}, key exchange {r['key_exchange']}, signature {r['signature']}, "
                f"{'would resume' if r['resumed'] else 'would not resume'} a session offered; reply {r['status']}, "
                f"body {r['body']!r} ({r['framing']}), head {r['head_bytes']} bytes; the server closed the connection "
                f"(the probe's connection took {r['closed_after_ms']:.0f} ms)")
    if scenario == "echo":
        lat = r["latency_us"]
        return (f"{r['rps']:,.0f} echoes/s, p50 {ms(lat.get('p50'))} ms, p99 {ms(lat.get('p99'))} ms, "
                f"max {ms(lat.get('max'))} ms, failed {r['failed']}, {cpu_text(r, 'succeeded')}")
    text = (f"{r['rps']:,.0f}/s, p50 {ms(r['p50_us'])} ms, p99 {ms(r['p99_us'])} ms, max {ms(r['max_us'])} ms, "
            f"errors {r['socket_errors']} socket / {r['non_2xx']} non-2xx, {cpu_text(r, 'requests')}")
    if scenario == "hs":
        text += f", {r['responses_closing']}/{r['responses_counted']} replies said close"
    return text


def cmd_line(path):
    print(line_of(load(path)))
    return 0


# --- Report -----------------------------------------------------------------------------------------------------------

def read_records(workdir):
    records = {}
    raw = os.path.join(workdir, "raw")
    for name in sorted(os.listdir(raw)):
        if name.endswith(".json") and not name.endswith(".loadgen.json"):
            r = load(os.path.join(raw, name))
            if "server" in r and "scenario" in r:
                records.setdefault((r["server"], r["scenario"]), []).append(r)
    return records


def probe_table(records):
    rows = []
    for key, label in TLS_SERVERS:
        rs = records.get((key, "probe"), [])
        if not rs:
            continue

        def values(field):
            return ", ".join(sorted({str(r.get(field)) for r in rs}))
        rows.append([label, values("protocol"), values("cipher"), values("key_exchange"),
                     f"{values('signature')} ({values('signing_digest')})",
                     f"{sum(1 for r in rs if r['resumed'])} of {len(rs)}",
                     values("body"), values("framing"), values("head_bytes")])
    headers = ["server", "protocol", "cipher", "key exchange", "signature", "would resume (turns)", "body",
               "body framing", "reply head bytes"]
    return table(headers, rows, right={5, 7, 8})


def closing_share(rs):
    counted = sum(r["responses_counted"] for r in rs)
    closing = sum(r["responses_closing"] for r in rs)
    return f"{closing / counted:.0%}" if counted else "-"


def server_closed(probes):
    """How many turns' probes saw the server close the connection after its reply, and how soon (median)."""
    closed = [p["closed_after_ms"] for p in probes if p.get("closed_after_ms") is not None]
    return f"{len(closed)} of {len(probes)}" + (f" ({statistics.median(closed):.0f} ms)" if closed else "")


def wrk_table(records, scenario, unit, handshakes=False):
    headers = ["server", unit, "p50 ms", "p99 ms", "max ms", "socket errors", "non-2xx", "server CPU µs per request",
               "wrk CPU µs per request", "rounds"]
    if handshakes:
        headers += ["replies with Connection: close", "server closed after its reply (probe turns; probe's run ms)"]
    rows = []
    for key, label in TLS_SERVERS:
        rs = records.get((key, scenario), [])
        if not rs:
            continue
        row = [label, spread([r["rps"] for r in rs]), ms(median([r["p50_us"] for r in rs])),
               ms(median([r["p99_us"] for r in rs])), ms(median([r["max_us"] for r in rs])),
               sum(r["socket_errors"] for r in rs), sum(r["non_2xx"] for r in rs),
               spread([cpu_per_request(r, "requests") for r in rs], "{:.1f}"),
               spread([cpu_per_request(r, "requests", "client_cpu_s") for r in rs], "{:.1f}"), len(rs)]
        if handshakes:
            row += [closing_share(rs), server_closed(records.get((key, "probe"), []))]
        rows.append(row)
    return table(headers, rows)


def echo_table(records):
    rows = []
    for key, label in ECHO_SERVERS:
        rs = records.get((key, "echo"), [])
        if not rs:
            continue

        def pct(name):
            return spread([r["latency_us"].get(name) / 1000.0 for r in rs if r["latency_us"].get(name) is not None],
                          "{:.2f}")
        rows.append([label, spread([r["rps"] for r in rs]), pct("p50"), pct("p99"), pct("p99_9"),
                     f"{max((r['latency_us'].get('max', 0) for r in rs), default=0) / 1000.0:.1f}",
                     sum(r["failed"] for r in rs), spread([cpu_per_request(r, "succeeded") for r in rs], "{:.1f}"),
                     spread([cpu_per_request(r, "succeeded", "client_cpu_s") for r in rs], "{:.1f}"), len(rs)])
    headers = ["server", "echoes/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "failed", "server CPU µs per echo",
               "load generator CPU µs per echo", "rounds"]
    return table(headers, rows)


def target_lines(records, meta):
    lines = []
    for scenario, peer, bound in TARGETS:
        what = SCENARIO_NAMES[scenario]
        a = median([r["rps"] for r in records.get((SUBJECT, scenario), [])])
        b = median([r["rps"] for r in records.get((peer, scenario), [])])
        if a is None:
            reason = meta.get("sr_tls_skipped") or "ShardRuntime's TLS turn did not run"
            lines.append(f"- {what}: ShardRuntime / {PEER_NAMES[peer]} ≥ {bound}x: **not measured** ({reason})")
            continue
        if b is None or not b:
            lines.append(f"- {what}: ShardRuntime / {PEER_NAMES[peer]} ≥ {bound}x: **not measured** ({peer} did not run)")
            continue
        ratio = a / b
        verdict = "met" if ratio >= bound else "not met"
        text = (f"- {what}: ShardRuntime {a:,.0f}/s / {PEER_NAMES[peer]} {b:,.0f}/s = **{ratio:.2f}x** "
                f"(target ≥ {bound}x): **{verdict}**")
        cpu_a = median([cpu_per_request(r, "requests") for r in records.get((SUBJECT, scenario), [])])
        cpu_b = median([cpu_per_request(r, "requests") for r in records.get((peer, scenario), [])])
        wrk_b = median([cpu_per_request(r, "requests", "client_cpu_s") for r in records.get((peer, scenario), [])])
        if cpu_a and cpu_b:
            bound_note = ("; wrk needed more CPU per request than the peer, so the load generator bounds these rates "
                          "too" if wrk_b and wrk_b > cpu_b else "")
            text += (f"; server CPU per request: ShardRuntime {cpu_a:.1f} µs, {PEER_NAMES[peer]} {cpu_b:.1f} µs "
                     f"({PEER_NAMES[peer]} / ShardRuntime = {cpu_b / cpu_a:.2f}x){bound_note}")
        lines.append(text)
    span = records.get(("sr-echo", "echo"), [])
    async_ = records.get(("sr-echo-async", "echo"), [])
    if not async_:
        reason = meta.get("sr_async_skipped") or "the echo-async turn did not run"
        lines.append(f"- async style's overhead against the span style: **not measured** ({reason})")
    elif span:
        s_rps, a_rps = median([r["rps"] for r in span]), median([r["rps"] for r in async_])
        s_cpu = median([cpu_per_request(r, "succeeded") for r in span])
        a_cpu = median([cpu_per_request(r, "succeeded") for r in async_])
        s_p99 = median([r["latency_us"].get("p99") for r in span])
        a_p99 = median([r["latency_us"].get("p99") for r in async_])
        text = f"- async style's overhead against the span style (echo-async / echo): echoes/s {a_rps / s_rps:.2f}x"
        if s_cpu and a_cpu:
            text += f", server CPU per echo {a_cpu / s_cpu:.2f}x ({a_cpu:.1f} against {s_cpu:.1f} µs)"
        if s_p99 and a_p99:
            text += f", p99 latency {a_p99 / s_p99:.2f}x"
        lines.append(text + " (measured; issue 17 sets no bound)")
    return lines


def cmd_render(workdir, docs):
    meta = read_meta(workdir)
    records = read_records(workdir)
    quick = meta.get("quick") == "1"
    d = meta["duration"]
    out = []
    add = out.append

    add("## TLS: ShardRuntime over TLS against nginx and Kestrel; the async handler style against the span style")
    add("")
    add(produced_by(meta) +
        f"; the run took {meta['elapsed']}.")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}, {meta['nginx']} ({meta['nginx_openssl']}), wrk {meta['wrk']} ({meta['openssl']} "
        f"on the client side). Load generators and servers share these CPUs over loopback; anything else running "
        f"shows in the 1-minute load average: {meta['loadavg']}.")
    add("")
    add(f"Method: {meta['rounds']} rounds; in each round every server of a group takes a turn, in an order rotated "
        f"by one each round (round orders: {meta['orders']}). A turn starts the server on a fresh free loopback "
        f"port, waits until the kernel lists all its listening sockets and it answers, warms it up "
        f"({meta['warmup']}, not counted), measures, and stops it (SIGTERM). Figures are the **median of the rounds** "
        f"with min–max in brackets; latencies are medians of the rounds' values; errors are summed. Server CPU per "
        f"request is the user + system time the server's processes (nginx: master and workers) used during the "
        f"measurement, from /proc, divided by the requests answered; the load generator's (wrk, or "
        f"shardruntime-loadgen for echo) is measured the same way (the script's shell `times`) and shown next to "
        f"it, because both share the same {meta['nproc']} CPUs: where the load generator needs more CPU per request "
        f"than the server, it bounds the rate as much as the server does. Raw JSON stays in a temporary directory "
        f"(`--keep` keeps it).")
    add("")
    add(f"TLS: one certificate for every server, made by the script with openssl: **ECDSA P-256** (prime256v1), "
        f"self-signed, CN and subjectAltName localhost / 127.0.0.1, the key as PKCS#8 PEM. The client side is pinned "
        f"through an OpenSSL configuration (`OPENSSL_CONF`) that wrk and the probe both load: {meta['client_pin']}. "
        f"So every server negotiates the same protocol, cipher and key exchange whatever its own preference; the "
        f"probe (`openssl s_client` with the same configuration, before each turn) records what was negotiated. "
        f"nginx and Kestrel are also given the same server-side preference: TLS 1.3 and 1.2, "
        f"{meta['server_ciphers']}; ShardRuntime's `tls` block has no cipher setting, so it keeps .NET's "
        f"(OpenSSL's) defaults.")
    add("")
    add("Session resumption: wrk 4.1 keeps one OpenSSL `SSL` object per connection slot and between two connections "
        "calls `SSL_shutdown` then `SSL_clear`, which keeps the session; so every reconnect offers the previous "
        "session (a TLS 1.3 ticket, or a TLS 1.2 session id or ticket) and wrk resumes whenever the server lets it. "
        "Servers differ there (.NET's `SslStream` resumes TLS 1.3 sessions by default; nginx without a session cache "
        "or tickets does not; the probe below records which would). To measure the same thing on every server, wrk runs "
        "with `bench/tls/noresume.c` preloaded (`LD_PRELOAD`; Debian's wrk links libssl dynamically), a wrapper of "
        "`SSL_connect` that drops the session before a handshake starts: every connection is a full handshake, "
        "whatever the server allows. Checked at the start of the run against an nginx that does resume (session "
        f"cache and tickets on, `$ssl_session_reused` logged per request): {meta['resume_check']}. nginx is also set "
        "to refuse resumption (`ssl_session_cache off`, `ssl_session_tickets off`: no ticket is made, its cheapest "
        "full handshake). The .NET servers keep .NET's default, `AllowTlsResume = true`: with false, .NET 10 makes a "
        "new OpenSSL `SSL_CTX` for every handshake instead of reusing a cached one (ShardRuntime's server CPU per "
        "handshake rose from about 1.1 to 1.5 ms when tried), so false is the slower full handshake, not a fairer "
        "one; ShardRuntime's `tls` block has no such setting. The probe before each turn records whether the "
        "server would resume (a second connection offers the first one's session: `s_client -sess_out`, then "
        "`-sess_in`); wrk never offers one.")
    add("")
    add("Scenarios:")
    add("")
    add(f"- TLS keep-alive: `wrk -t2 -c32 -d{d}s --latency --timeout 5s https://127.0.0.1:PORT/` "
        f"(bench/peers/wrk.lua prints the figures): requests/s; 32 handshakes, then requests only.")
    add(f"- TLS handshakes: the same with `-H 'Connection: close'`: a new connection, so a full handshake, per "
        f"request; handshakes/s = requests/s. Checked: the share of replies that carried `Connection: close` "
        f"(counted in the Lua `response()`; wrk keeps a connection whose reply does not say close), and, in the probe "
        f"before each turn, that the server closes the connection itself after such a reply (`s_client -ign_eof` "
        f"waits for the server's close, bounded by 10 s). TIME_WAIT counts, which bench/peers.sh uses to see who "
        f"closed first, are no witness here: in trial runs most TLS connections left no TIME_WAIT on either side.")
    add(f"- Async against span style, plain TCP: `shardruntime-loadgen --mode keepalive --protocol echo "
        f"--connections {meta['echo_connections']} --pipeline 1 --payload-bytes {meta['echo_payload']} "
        f"--duration {d}s` (bench/LoadGen: each echo is checked byte for byte) against the built-in `echo` (span "
        f"callback on the I/O loop) and `echo-async` (the async pipe style, off the loops), same node settings.")
    add("")
    add("Servers (each started by the script, tracked by PID, on its own port):")
    add("")
    add(f"- **ShardRuntime**: the Release host, `dotnet src/Host/bin/Release/net10.0/shardruntime.dll run --config "
        f"FILE`, one listener `handler = http-ok`, `shards = 0` ({meta['nproc']} sockets), `idle-timeout = 300s`, "
        f"`tls {{ certificate = CERT, key = KEY }}`, everything else as in reference.conf. http-ok answers "
        f"`200 OK` with the body `OK` (2 bytes).")
    add("- **nginx**: `worker_processes 2`, `listen 127.0.0.1:PORT ssl reuseport backlog=511`, "
        "`location / { return 200 \"OK\"; }` (the same 2-byte body), `ssl_protocols TLSv1.3 TLSv1.2`, the cipher "
        "preference above with `ssl_prefer_server_ciphers on`, no session cache or tickets, `access_log off`, "
        "`keepalive_requests 1000000`, `keepalive_timeout 300s` (bench/tls/nginx.conf.template).")
    add("- **Kestrel**: bench/Peers/Kestrel (Release) with `--https CERT KEY`: `MapGet(\"/\", () => \"OK\")`, "
        "`UseHttps` with the same PEM pair, HTTP/1.1 only, TLS 1.3 and 1.2, the same cipher preference "
        "(`CipherSuitesPolicy`), Kestrel's defaults otherwise (`AllowTlsResume = true`, server GC, "
        "`KeepAliveTimeout = 300 s`).")
    add("- **ShardRuntime echo / echo-async**: the same host, one listener `handler = echo` or `echo-async`, "
        "`shards = 0`, plain TCP.")
    add("")
    if quick:
        add("**Quick mode**: short measurements; a trial of the script, the figures are not the reference.")
        add("")
    for key in ("sr_tls_skipped", "sr_async_skipped"):
        if meta.get(key):
            add(f"**Not measured**: {meta[key]}")
            add("")

    sections = [
        ("What each server negotiated (the probe before each turn)", probe_table(records)),
        ("TLS keep-alive, 32 connections", wrk_table(records, "ka", "requests/s")),
        ("TLS handshakes (a new connection per request, 32 at a time)", wrk_table(records, "hs", "handshakes/s",
                                                                                   handshakes=True)),
        ("Async style against span style: keep-alive echo, plain TCP", echo_table(records)),
    ]
    publish(docs, SECTION, out, sections, "Targets (issue \"4/7 Real protocols\", point 7): medians", "Targets", target_lines(records, meta))
    return 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "probe":
        return cmd_probe(argv[1], argv[2], argv[3], argv[4:])
    if len(argv) >= 3 and argv[0] == "loadgen-record":
        return cmd_loadgen_record(argv[1], argv[2], argv[3:])
    if len(argv) == 3 and argv[0] == "echo-ready":
        return cmd_echo_ready(argv[1], argv[2])
    if len(argv) == 2 and argv[0] == "cpu":
        print(f"{cpu_seconds(int(argv[1])):.2f}")
        return 0
    if len(argv) == 2 and argv[0] == "line":
        return cmd_line(argv[1])
    if len(argv) == 3 and argv[0] == "render":
        return cmd_render(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
