#!/usr/bin/python3
"""Helper of bench/peers.sh: free ports, readiness checks, the wrk summaries as JSON records, and the report (tables,
targets, chart, the peers section of docs/benchmarks.md). Standard library only (the chart uses gnuplot, or
matplotlib when the script found no working gnuplot).

  report.py freeport N                         N distinct free TCP ports on 127.0.0.1, one a line
  report.py http-ready PORT PATH SECONDS       exit 0 once GET PATH on 127.0.0.1:PORT answers 200
  report.py control-ready SOCKET SECONDS       exit 0 once a ShardRuntime node answers status on its control socket
  report.py wrk-record WRKOUT JSON [K=V ...]   the PEERS_JSON line of a wrk output as a JSON record, plus K=V fields
  report.py line JSON                          one line of figures, for the script's progress output
  report.py render WORKDIR DOCS PNG            print the tables, draw the chart, write the peers section of DOCS
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchdoc import produced_by, read_meta, table, write_section  # noqa: E402

SECTION = "peers"

# Servers in the order of the tables; the script starts them in a rotated order each round.
SERVERS = [
    ("sr-sharded", "ShardRuntime, shards = cores", "SR\nsharded"),
    ("sr-single", "ShardRuntime, 1 socket", "SR\n1 socket"),
    ("nginx-reuseport", "nginx, reuseport", "nginx\nreuseport"),
    ("nginx-mutex-on", "nginx, 1 socket, accept_mutex on", "nginx\nmutex on"),
    ("nginx-mutex-off", "nginx, 1 socket, accept_mutex off", "nginx\nmutex off"),
    ("kestrel", "Kestrel minimal API", "Kestrel"),
    ("raw", ".NET raw sockets (no actors)", ".NET raw\nsockets"),
]
LABEL = {k: label for k, label, _ in SERVERS}
SHORT = {k: short for k, _, short in SERVERS}
SCENARIOS = ["ka32", "ka256", "churn", "large", "idle"]
SUBJECT = "sr-sharded"

# The targets of issue "5/5 Performance" for ShardRuntime (sharded): (scenario, metric, peer, bound, higher is better).
TARGETS = [
    ("ka32", "rps", "nginx-reuseport", 0.9, True),
    ("ka32", "rps", "kestrel", 1.2, True),
    ("ka32", "rps", "raw", 0.95, True),
    ("ka256", "rps", "nginx-reuseport", 0.9, True),
    ("ka256", "rps", "kestrel", 1.2, True),
    ("ka256", "rps", "raw", 0.95, True),
    ("churn", "rps", "nginx-reuseport", 0.9, True),
    ("ka32", "p99_us", "nginx-reuseport", 1.2, False),
    ("ka256", "p99_us", "nginx-reuseport", 1.2, False),
    ("churn", "p99_us", "nginx-reuseport", 1.2, False),
]
IDLE_TARGET_KIB = 2.0
SERVER_CLOSED_MIN = 0.9   # churn: at least this share of the TIME_WAIT sockets must be on the server's side


# ---- Small commands used by the script -------------------------------------------------------------------------------

def cmd_freeport(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    print("\n".join(str(p) for p in ports))
    return 0


def http_get(port, path, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def cmd_http_ready(port, path, seconds):
    deadline = time.monotonic() + float(seconds)
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            status, body = http_get(int(port), path)
            if status == 200:
                print(f"GET {path}: 200, {len(body)} bytes")
                return 0
            last = f"status {status}"
        except (OSError, ValueError, IndexError) as e:
            last = str(e)
        time.sleep(0.1)
    print(f"GET {path} on port {port} did not answer 200 within {seconds} s (last: {last})", file=sys.stderr)
    return 1


def cmd_control_ready(path, seconds):
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(path)
                s.sendall(b'{"command":"status"}\n')
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            if "status" in json.loads(buf):
                return 0
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return 1


def parse_value(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def cmd_wrk_record(wrkout, out, pairs):
    record = None
    with open(wrkout, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("PEERS_JSON "):
                record = json.loads(line[len("PEERS_JSON "):])
    if record is None:
        print(f"no PEERS_JSON line in {wrkout}", file=sys.stderr)
        return 1
    seconds = record["duration_us"] / 1e6
    record["rps"] = record["requests"] / seconds if seconds else 0.0
    record["bytes_per_s"] = record["bytes"] / seconds if seconds else 0.0
    e = record["errors"]
    record["socket_errors"] = e["connect"] + e["read"] + e["write"] + e["timeout"]
    record["non_2xx"] = e["status"]
    for pair in pairs:
        k, _, v = pair.partition("=")
        record[k] = parse_value(v)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    return 0


def line_of(r):
    if r.get("scenario") == "idle":
        per = r.get("kib_per_connection")
        return (f"{r['established']}/{r['connections']} established, {r['open_at_measurement']} open at the "
                f"measurement, RSS {r['rss_before_kib'] / 1024:.1f} -> {r['rss_after_kib'] / 1024:.1f} MiB: "
                f"{'-' if per is None else f'{per:.2f}'} KiB per connection")
    text = (f"{r['rps']:.0f}/s, {r['bytes_per_s'] / 1e6:.1f} MB/s, p50 {r['p50_us'] / 1000:.2f} ms, "
            f"p99 {r['p99_us'] / 1000:.2f} ms, max {r['max_us'] / 1000:.1f} ms, "
            f"errors {r['socket_errors']} socket / {r['non_2xx']} non-2xx")
    if r.get("scenario") == "churn":
        text += (f", {r['responses_closing']}/{r['responses_counted']} replies said close, TIME_WAIT on the "
                 f"server's side {r.get('tw_server', '?')}, on the client's {r.get('tw_client', '?')}")
    return text


def cmd_line(path):
    with open(path, encoding="utf-8") as f:
        print(line_of(json.load(f)))
    return 0


# ---- Report ---------------------------------------------------------------------------------------------------------

def read_records(workdir):
    records = {}
    raw = os.path.join(workdir, "raw")
    for name in sorted(os.listdir(raw)):
        if name.endswith(".json"):
            with open(os.path.join(raw, name), encoding="utf-8") as f:
                r = json.load(f)
            records.setdefault((r["server"], r["scenario"]), []).append(r)
    return records


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})"


def ms(us):
    return "-" if us is None else f"{us / 1000.0:.2f}"


def k_fmt(v):
    return f"{v:,.0f}"


def summary(records, server, scenario, metric):
    """median, min, max of a metric over the rounds (None when missing)."""
    values = [r.get(metric) for r in records.get((server, scenario), []) if r.get(metric) is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def wrk_table(records, scenario, value_metric, value_header, value_fmt, extra=None):
    headers = ["server", value_header, "p50 ms", "p99 ms", "max ms", "stddev ms", "socket errors", "non-2xx", "rounds"]
    if extra:
        headers += [h for h, _ in extra]
    rows = []
    for key, label, _ in SERVERS:
        rs = records.get((key, scenario), [])
        if not rs:
            continue
        row = [label, spread([r[value_metric] for r in rs], value_fmt),
               ms(median([r["p50_us"] for r in rs])), ms(median([r["p99_us"] for r in rs])),
               ms(median([r["max_us"] for r in rs])), ms(median([r["stdev_us"] for r in rs])),
               sum(r["socket_errors"] for r in rs), sum(r["non_2xx"] for r in rs), len(rs)]
        if extra:
            row += [f(rs) for _, f in extra]
        rows.append(row)
    return table(headers, rows)


def churn_closing(rs):
    counted = sum(r["responses_counted"] for r in rs)
    closing = sum(r["responses_closing"] for r in rs)
    return f"{closing / counted:.0%}" if counted else "-"


def churn_server_closed(rs):
    server = sum(max(0, r.get("tw_server", 0)) for r in rs)
    client = sum(max(0, r.get("tw_client", 0)) for r in rs)
    if server + client == 0:
        return "-"
    share = server / (server + client)
    return f"{share:.0%}{'' if share >= SERVER_CLOSED_MIN else ' (**does not close**)'}"


def idle_table(records):
    headers = ["server", "KiB per connection", "RSS before MiB", "RSS after MiB", "established (min of rounds)",
               "open at measurement (min)", "processes", "rounds"]
    rows = []
    for key, label, _ in SERVERS:
        rs = records.get((key, "idle"), [])
        if not rs:
            continue
        rows.append([label, spread([r["kib_per_connection"] for r in rs], lambda v: f"{v:.2f}"),
                     f"{median([r['rss_before_kib'] for r in rs]) / 1024:.1f}",
                     f"{median([r['rss_after_kib'] for r in rs]) / 1024:.1f}",
                     f"{min(r['established'] for r in rs)} of {rs[0]['connections']}",
                     min(r["open_at_measurement"] for r in rs),
                     max(len(r["processes"]) for r in rs), len(rs)])
    return table(headers, rows)


def targets(records):
    lines = []
    names = {"ka32": "keep-alive, 32 connections", "ka256": "keep-alive, 256 connections", "churn": "churn"}
    for scenario, metric, peer, bound, higher in TARGETS:
        a = summary(records, SUBJECT, scenario, metric)
        b = summary(records, peer, scenario, metric)
        what = ("requests/s" if scenario != "churn" else "connections/s") if metric == "rps" else "p99 latency"
        if a is None or b is None or not b[0]:
            lines.append(f"- {names[scenario]}, {what}: ShardRuntime / {LABEL[peer]} "
                         f"{'≥' if higher else '≤'} {bound}x: **not measured**")
            continue
        ratio = a[0] / b[0]
        met = ratio >= bound if higher else ratio <= bound
        fmt = (lambda v: f"{v:,.0f}/s") if metric == "rps" else (lambda v: f"{v / 1000:.2f} ms")
        lines.append(f"- {names[scenario]}, {what}: ShardRuntime {fmt(a[0])} / {LABEL[peer]} {fmt(b[0])} = "
                     f"**{ratio:.2f}x** (target {'≥' if higher else '≤'} {bound}x): **{'met' if met else 'not met'}**")
    idle = summary(records, SUBJECT, "idle", "kib_per_connection")
    if idle is None:
        lines.append(f"- idle memory < {IDLE_TARGET_KIB:g} KiB per connection: **not measured**")
    else:
        rs = records[(SUBJECT, "idle")]
        short = [r for r in rs if r["open_at_measurement"] < r["connections"]]
        met = idle[0] < IDLE_TARGET_KIB and not short
        note = "" if not short else (f" (in {len(short)} of {len(rs)} rounds fewer than all {rs[0]['connections']} "
                                     f"connections were open at the measurement)")
        lines.append(f"- idle memory: ShardRuntime {idle[0]:.2f} KiB per connection (target < {IDLE_TARGET_KIB:g} "
                     f"KiB){note}: **{'met' if met else 'not met'}**")
    return lines


CHART_PANELS = [
    ("ka32", "rps", 1.0, "keep-alive, 32 connections", "requests/s"),
    ("ka256", "rps", 1.0, "keep-alive, 256 connections", "requests/s"),
    ("churn", "rps", 1.0, "churn (Connection: close)", "connections/s"),
    ("large", "bytes_per_s", 1e-6, "64 KiB responses, 32 connections", "MB/s"),
    ("idle", "kib_per_connection", 1.0, "idle keep-alive connections", "KiB per connection (lower is better)"),
]


def chart_data(records):
    panels = []
    for scenario, metric, scale, title, unit in CHART_PANELS:
        rows = []
        for key, _, short in SERVERS:
            s = summary(records, key, scenario, metric)
            if s is not None:
                rows.append((short, s[0] * scale, s[1] * scale, s[2] * scale))
        panels.append((title, unit, rows))
    return panels


def chart_gnuplot(panels, png, workdir, subtitle):
    lines = ['set terminal png size 1900,1100 font ",10"', f'set output "{png}"',
             f'set multiplot layout 2,3 title "ShardRuntime and its peers, {subtitle}: medians of the rounds, '
             f'bars from min to max" font ",13"',
             "set style fill solid 0.6 border -1", "set boxwidth 0.7", "set grid ytics", "set yrange [0:*]",
             "set xtics nomirror font \",8\"", "set bmargin 4", "set key off", "set offsets 0.5, 0.5, 0, 0"]
    for i, (title, unit, rows) in enumerate(panels):
        data = os.path.join(workdir, f"chart-{i}.dat")
        with open(data, "w", encoding="utf-8") as f:
            for j, (short, med, lo, hi) in enumerate(rows):
                colour = 0xd9822b if short.startswith("SR") else 0x4a7ab5
                f.write(f"{j} {med} {lo} {hi} {colour}\n")
        tics = ", ".join('"' + short.replace("\n", "\\n") + f'" {j}' for j, (short, _, _, _) in enumerate(rows))
        lines += [f'set title "{title}"', f'set ylabel "{unit}"', f"set xtics ({tics})",
                  f'plot "{data}" using 1:2:5 with boxes lc rgb variable, '
                  f'"" using 1:2:3:4 with yerrorbars lc rgb "black" pt 0 lw 1.5']
    lines.append("unset multiplot")
    script = os.path.join(workdir, "chart.gp")
    with open(script, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["gnuplot", script], check=True, timeout=120)


def chart_matplotlib(panels, png, subtitle):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    fig.suptitle(f"ShardRuntime and its peers, {subtitle}: medians of the rounds, bars from min to max")
    for ax, (title, unit, rows) in zip(axes.flat, panels):
        x = range(len(rows))
        med = [r[1] for r in rows]
        ax.bar(x, med, color="#4a7ab5",
               yerr=[[m - r[2] for m, r in zip(med, rows)], [r[3] - m for m, r in zip(med, rows)]], capsize=4)
        ax.set_xticks(list(x), [r[0] for r in rows], fontsize=8)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.4)
    axes.flat[-1].axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def cmd_render(workdir, docs, png):
    meta = read_meta(workdir)
    records = read_records(workdir)
    out = []
    add = out.append
    quick = meta.get("quick") == "1"
    d = meta["duration"]

    add("## Peers: ShardRuntime side by side with nginx, Kestrel and plain .NET sockets")
    add("")
    add(produced_by(meta) +
        f"; the run took {meta['elapsed']}.")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}, {meta['nginx']}, wrk {meta['wrk']}. Load generator and servers share these CPUs "
        f"over loopback; anything else running shows in the 1-minute load average: {meta['loadavg']}. Kernel "
        f"settings as found (the script changes none): {meta['sysctls']}. Open-file limit of every server: "
        f"{meta['nofile']}.")
    add("")
    add(f"Method: {meta['rounds']} rounds; in each round every server in turn, in an order rotated by one each round "
        f"(round orders: {meta['orders']}), so that drift of the machine falls on all of them alike. Each turn starts "
        f"the server on fresh free loopback ports, waits until it listens with all its sockets and answers, warms it "
        f"up ({meta['warmup']}, not counted), then runs the scenarios in this order: idle connections, keep-alive "
        f"32, keep-alive 256, churn, 64 KiB; then stops the server (SIGTERM). Figures are the **median of the rounds** "
        f"with the spread (min–max) in brackets; latencies are medians of the rounds' values; errors are summed over "
        f"the rounds. Raw per-run JSON stays in a temporary directory (`--keep` keeps it).")
    add("")
    add("Scenarios (wrk with `bench/peers/wrk.lua`, whose `done()` prints the figures as JSON):")
    add("")
    add(f"- keep-alive: `wrk -t2 -c32 -d{d}s --latency --timeout 5s http://127.0.0.1:PORT/` and the same with "
        f"`-c256`: requests/s.")
    add(f"- churn: `wrk -t2 -c32 -d{d}s -H 'Connection: close'`: a new connection per request, so connections/s = "
        f"requests/s. Checked per run: the share of replies that carried `Connection: close` (counted in the Lua "
        f"`response()`), and who closed first: the TIME_WAIT sockets on the port that appeared during the run, on "
        f"the server's side (it closed first) and on the client's side (wrk closed first); a server that does not "
        f"close itself is marked when under {SERVER_CLOSED_MIN:.0%} of them are the server's.")
    add(f"- 64 KiB: `wrk -t2 -c32 -d{d}s` on a 64 KiB response body, keep-alive: MB/s (10^6 bytes, headers "
        f"included, as wrk counts them).")
    add(f"- idle: `bench/peers/idle.py` opens {meta['idle_connections']} connections (at most 256 in progress), "
        f"sends one `GET /` on each and reads the reply, then holds them idle; the server's RSS (VmRSS summed over "
        f"its processes: nginx master and workers, the one .NET process otherwise) is read just before opening and "
        f"{meta['settle']} s after the last one was established; KiB per connection = RSS delta / connections still "
        f"open at the measurement (each checked for end of stream or error). RSS counts user-space memory only; the "
        f"kernel's socket buffers are not in it. The connections are then reset (SO_LINGER 0) so that no TIME_WAIT "
        f"is left on the port.")
    add("")
    add("Servers (each started by the script, tracked by PID, on its own ports):")
    add("")
    add(f"- **ShardRuntime, shards = cores**: the Release host, `dotnet src/Host/bin/Release/net10.0/shardruntime.dll "
        f"run --config FILE`, one node per turn serving two listeners: `http` (handler `http-ok`, `shards = 0`, i.e. "
        f"{meta['nproc']} sockets) and `http-64k` (`handler-assembly` = bench/Peers/Http64k's "
        f"`Peers.Http64k.dll`, `handler-type = ShardRuntime.Peers.Http64k.Http64kHandlerFactory`: `http-ok` with a "
        f"64 KiB body, same shards) on a second port; `idle-timeout = 300s`, `control.socket-path` in the temporary "
        f"directory, `shutdown.drain-timeout = 5s`; everything else as in reference.conf, the node's single-node "
        f"cluster (Akka.Remote on a free loopback port) included, as shipped. Ready when its control socket answers "
        f"`status`, the kernel lists all its sockets and `GET /` answers 200 on both ports.")
    add("- **ShardRuntime, 1 socket**: the same with `shards = 1` on both listeners (one shared accept queue).")
    add("- **nginx, reuseport**: `worker_processes 2`, `listen 127.0.0.1:PORT reuseport backlog=511`, `location / { "
        "return 200 \"OK\"; }`, `location = /64k` a 64 KiB file (`sendfile on`), `access_log off`, "
        "`keepalive_requests 1000000`, `keepalive_timeout 300s`, `worker_connections 20000`, "
        f"`worker_rlimit_nofile {meta['nofile']}` (bench/peers/nginx.conf.template).")
    add("- **nginx, 1 socket, accept_mutex on / off**: the same without `reuseport` (both workers accept from one "
        "socket), with `accept_mutex on` or `off` (nginx's default).")
    add("- **Kestrel minimal API**: bench/Peers/Kestrel (Release), `WebApplication.CreateBuilder()`, "
        "`MapGet(\"/\", () => \"OK\")`, `MapGet(\"/64k\", ...)` a static 64 KiB array, logging at Warning, Kestrel's "
        "defaults (the Web SDK's server GC included) except `Listen(127.0.0.1, PORT)` and `KeepAliveTimeout = 300 s`.")
    add("- **.NET raw sockets**: bench/Peers/RawSockets (Release): two SO_REUSEPORT listening sockets, an async accept "
        "loop each, per connection an async receive/send loop with its own 4 KiB buffer that answers every complete "
        "request (up to `\\r\\n\\r\\n`) with a fixed `200 OK` (`Content-Length`, no `Date`), keeps the connection "
        "unless `Connection: close`; `GET /64k` gets the 64 KiB body. No actors: the floor of .NET sockets here.")
    add("")
    if quick:
        add("**Quick mode**: short measurements and fewer idle connections; a trial of the script, the figures are "
            "not the reference.")
        add("")

    sections = []
    t = wrk_table(records, "ka32", "rps", "requests/s", k_fmt)
    sections.append(("Keep-alive, 32 connections", t))
    t = wrk_table(records, "ka256", "rps", "requests/s", k_fmt)
    sections.append(("Keep-alive, 256 connections", t))
    t = wrk_table(records, "churn", "rps", "connections/s", k_fmt,
                  extra=[("replies with Connection: close", churn_closing),
                         ("TIME_WAIT on the server's side", churn_server_closed)])
    sections.append(("Connection churn (a new connection per request, 32 at a time)", t))
    t = wrk_table(records, "large", "bytes_per_s", "MB/s", lambda v: f"{v / 1e6:,.0f}",
                  extra=[("requests/s", lambda rs: k_fmt(median([r["rps"] for r in rs])))])
    sections.append(("64 KiB responses, keep-alive, 32 connections", t))
    t = idle_table(records)
    sections.append((f"{meta['idle_connections']} idle keep-alive connections: resident memory per connection", t))
    for title, t in sections:
        add(f"### {title}")
        add("")
        add(t)
        add("")

    target_lines = targets(records)
    add("### Targets (issue \"5/5 Performance\"): ShardRuntime with shards = cores against its peers, medians")
    add("")
    add("\n".join(target_lines))
    add("")

    chart_note = ""
    subtitle = f"{meta['rounds']} rounds of {d} s" + (" (quick)" if quick else "")
    try:
        panels = chart_data(records)
        if meta.get("chart") == "matplotlib":
            chart_matplotlib(panels, png, subtitle)
        else:
            chart_gnuplot(panels, png, workdir, subtitle)
        rel = os.path.relpath(png, os.path.dirname(os.path.abspath(docs)))
        add(f"![Requests/s, connections/s, MB/s and KiB per idle connection per server, medians with min–max]({rel})")
        add("")
        add("Chart: SR = ShardRuntime, in orange; \"nginx mutex on/off\" are nginx with one listening socket. Bars are "
            "medians of the rounds, whiskers the min–max.")
        add("")
        chart_note = f"wrote {png} ({meta.get('chart', 'gnuplot')})"
    except Exception as e:  # the tables matter more than the chart
        chart_note = f"the chart could not be drawn: {e}"
        add(f"(No chart: {e}.)")
        add("")

    section = "\n".join(out).rstrip() + "\n"
    print()
    for title, t in sections:
        print(f"{title}:")
        print(t)
        print()
    print("Targets:")
    print("\n".join(target_lines))
    print()
    print(chart_note)
    write_section(docs, SECTION, section)
    print(f"wrote the {SECTION} section of {docs}")
    return 0


def main(argv):
    cmds = {
        "freeport": (1, lambda a: cmd_freeport(int(a[0]))),
        "http-ready": (3, lambda a: cmd_http_ready(*a)),
        "control-ready": (2, lambda a: cmd_control_ready(*a)),
        "line": (1, lambda a: cmd_line(a[0])),
        "render": (3, lambda a: cmd_render(*a)),
    }
    if len(argv) >= 3 and argv[0] == "wrk-record":
        return cmd_wrk_record(argv[1], argv[2], argv[3:])
    if argv and argv[0] in cmds and len(argv) - 1 == cmds[argv[0]][0]:
        return cmds[argv[0]][1](argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
