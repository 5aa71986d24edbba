#!/usr/bin/python3
"""Helper of bench/aspnetcore.sh: progress lines and the report (tables, the target of issue 17, the aspnetcore section
of docs/benchmarks.md). Standard library only; wrk's figures are recorded by bench/peers/report.py, and the figures'
formatting (median with min–max, CPU per request) is bench/tls/report.py's.

  report.py line JSON             one line of a wrk record's figures, for the script's progress output
  report.py loadgen-line LOADGEN  one line of the load generator's counts (changes under load)
  report.py render WORKDIR DOCS   print the tables, write the aspnetcore section of DOCS
"""

import importlib.util
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/
BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, BENCH)
from benchdoc import produced_by, publish, load, read_meta, table, write_section  # noqa: E402


def _sibling(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCH, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_tls = _sibling("tls_report", "tls/report.py")
spread, median, ms, cpu_per_request = _tls.spread, _tls.median, _tls.ms, _tls.cpu_per_request

SECTION = "aspnetcore"
SERVERS = [
    ("sr", "the app on ShardRuntime (UseShardRuntime), shards = cores"),
    ("plain", "the same app on plain Kestrel (--plain)"),
]
TARGET = ("ka", 1.0)   # issue 17, point 3: keep-alive requests/s, ShardRuntime / plain Kestrel >= 1.0x
OUTCOMES = ["succeeded", "failed", "refused", "reset", "closed", "timed_out", "wrong_reply", "other_error"]


def line_of(r):
    text = (f"{r['rps']:,.0f}/s, p50 {ms(r['p50_us'])} ms, p99 {ms(r['p99_us'])} ms, max {ms(r['max_us'])} ms, "
            f"errors {r['socket_errors']} socket / {r['non_2xx']} non-2xx, server CPU "
            f"{cpu_per_request(r, 'requests') or 0:.1f} µs/request, wrk "
            f"{cpu_per_request(r, 'requests', 'client_cpu_s') or 0:.1f} µs/request")
    if r.get("scenario") == "churn":
        text += f", {r['responses_closing']}/{r['responses_counted']} replies said close"
    return text


def loadgen_line(path):
    r = load(path)
    parts = []
    for mode in ("churn", "keepalive"):
        m = r.get(mode)
        if m:
            parts.append(f"{mode}: " + ", ".join(f"{k} {m.get(k, 0)}" for k in ["attempts"] + OUTCOMES))
    return "; ".join(parts)


def read_records(workdir):
    records = {}
    raw = os.path.join(workdir, "raw")
    for name in sorted(os.listdir(raw)):
        if name.startswith("r") and name.endswith(".json"):
            r = load(os.path.join(raw, name))
            records.setdefault((r["server"], r["scenario"]), []).append(r)
    return records


def wrk_table(records, scenario):
    headers = ["server", "requests/s", "p50 ms", "p99 ms", "max ms", "socket errors", "non-2xx",
               "server CPU µs per request", "wrk CPU µs per request", "rounds"]
    if scenario == "churn":
        headers.append("replies with Connection: close")
    rows = []
    for key, label in SERVERS:
        rs = records.get((key, scenario), [])
        if not rs:
            continue
        row = [label, spread([r["rps"] for r in rs]), ms(median([r["p50_us"] for r in rs])),
               ms(median([r["p99_us"] for r in rs])), ms(median([r["max_us"] for r in rs])),
               sum(r["socket_errors"] for r in rs), sum(r["non_2xx"] for r in rs),
               spread([cpu_per_request(r, "requests") for r in rs], "{:.1f}"),
               spread([cpu_per_request(r, "requests", "client_cpu_s") for r in rs], "{:.1f}"), len(rs)]
        if scenario == "churn":
            counted = sum(r["responses_counted"] for r in rs)
            row.append(f"{sum(r['responses_closing'] for r in rs) / counted:.0%}" if counted else "-")
        rows.append(row)
    return table(headers, rows)


def ratio_lines(records):
    lines = []
    for scenario, what in (("ka", "keep-alive requests/s"), ("churn", "churn requests/s (Connection: close)")):
        a = median([r["rps"] for r in records.get(("sr", scenario), [])])
        b = median([r["rps"] for r in records.get(("plain", scenario), [])])
        if not a or not b:
            lines.append(f"- {what}: **not measured**")
            continue
        text = f"- {what}: ShardRuntime {a:,.0f}/s / plain Kestrel {b:,.0f}/s = **{a / b:.2f}x**"
        if scenario == TARGET[0]:
            text += f" (target ≥ {TARGET[1]}x): **{'met' if a / b >= TARGET[1] else 'not met'}**"
        else:
            text += " (measured; issue 17 sets no bound)"
        cpu_a = median([cpu_per_request(r, "requests") for r in records.get(("sr", scenario), [])])
        cpu_b = median([cpu_per_request(r, "requests") for r in records.get(("plain", scenario), [])])
        if cpu_a and cpu_b:
            text += (f"; server CPU per request: ShardRuntime {cpu_a:.1f} µs, plain Kestrel {cpu_b:.1f} µs "
                     f"(ShardRuntime / plain = {cpu_a / cpu_b:.2f}x)")
        lines.append(text)
    return lines


def read_events(workdir):
    events = {}
    path = os.path.join(workdir, "raw", "changes-events.tsv")
    with open(path, encoding="utf-8") as f:
        for line in f:
            server, change, at, took, pid, note = line.rstrip("\n").split("\t", 5)
            events.setdefault(server, []).append({"change": int(change), "at_ms": int(at), "took_ms": int(took),
                                                  "pid": int(pid), "note": note})
    return events


def changes_table(workdir, events):
    headers = ["server", "changes", "load", "attempts"] + [o.replace("_", " ") for o in OUTCOMES] + \
              ["requests/s (succeeded)"]
    rows = []
    for key, label, change in (("sr", "ShardRuntime, `shardruntime upgrade`", "upgrades"),
                               ("plain", "plain Kestrel, stopped and started again", "restarts")):
        path = os.path.join(workdir, "raw", f"changes-{key}.loadgen.json")
        if not os.path.exists(path):
            continue
        r = load(path)
        for mode, name in (("churn", "churn"), ("keepalive", "keep-alive"), ("total", "**total**")):
            m = r.get(mode)
            if not m:
                continue
            rows.append([label, f"{len(events.get(key, []))} {change}", name, m.get("attempts", 0)] +
                        [m.get(o, 0) for o in OUTCOMES] +
                        [f"{r.get('succeeded_per_second', 0):,.0f}" if mode == "total" else ""])
    return table(headers, rows, right=set(range(3, len(headers))))


def changes_timeline(events):
    sr, plain = events.get("sr", []), events.get("plain", [])
    rows = []
    for i in range(max(len(sr), len(plain))):
        a = sr[i] if i < len(sr) else None
        b = plain[i] if i < len(plain) else None
        rows.append([i + 1,
                     f"{a['at_ms'] / 1000:.1f}" if a else "-", f"{a['took_ms']:,}" if a else "-",
                     str(a["pid"]) if a else "-",
                     f"{b['at_ms'] / 1000:.1f}" if b else "-", f"{b['took_ms']:,}" if b else "-",
                     b["note"] if b else "-"])
    headers = ["change", "upgrade at s", "upgrade command ms", "successor pid", "restart at s",
               "restart ms (SIGTERM to answering)", "plain Kestrel"]
    return table(headers, rows, right={0, 1, 2, 3, 4, 5})


def cmd_render(workdir, docs):
    meta = read_meta(workdir)
    records = read_records(workdir)
    events = read_events(workdir)
    quick = meta.get("quick") == "1"
    d = meta["duration"]
    out = []
    add = out.append

    add("## ASP.NET Core on ShardRuntime against the same app on plain Kestrel")
    add("")
    add(produced_by(meta) +
        f"; the run took {meta['elapsed']}.")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}, wrk {meta['wrk']}. Load generators and servers share these CPUs over loopback; "
        f"anything else running shows in the 1-minute load average: {meta['loadavg']}.")
    add("")
    add("The app: tests/Fixtures/AspNetCoreApp (Release), an ordinary minimal API app whose `GET /` answers `200` with "
        "the body `OK` (`Content-Length: 2`), log level Warning. **ShardRuntime**: `AspNetCoreApp SOCKET --port PORT "
        f"--shards {meta['nproc']}`: `builder.WebHost.UseShardRuntime(...)`, Kestrel accepts from ShardRuntime's "
        f"{meta['nproc']} reuseport sockets, with a control socket and `EnableUpgrade()`. **Plain Kestrel**: the same "
        "app with `--plain`: `ConfigureKestrel(k => k.Listen(127.0.0.1, PORT))`, Kestrel's own socket. Kestrel's "
        "defaults otherwise in both.")
    add("")
    add(f"Throughput method: {meta['rounds']} rounds; in each round both apps take a turn, in an order rotated by one "
        f"each round ({meta['orders']}). A turn starts the app on a fresh free loopback port, waits until the kernel "
        f"lists all its listening sockets and `GET /` answers 200, warms it up ({meta['warmup']} s keep-alive and "
        f"{meta['warmup']} s churn, not counted), measures, and stops it (SIGTERM, by PID). Keep-alive: "
        f"`wrk -t2 -c{meta['connections']} -d{d}s --latency --timeout 5s`; churn: the same with "
        f"`-H 'Connection: close'` (a new connection per request). Figures are the **median of the rounds** with "
        f"min–max in brackets; latencies are medians of the rounds' values; errors are summed. Server CPU per request "
        f"is the user + system time of the app's process during the measurement (from /proc) divided by the requests "
        f"answered; wrk's is measured the same way (the shell's `times`): both share the same {meta['nproc']} CPUs.")
    add("")
    add(f"Changes under load: `shardruntime-loadgen --mode both --protocol http --rate {meta['rate']} "
        f"--connections {meta['load_connections']} --pipeline 1 --timeout {meta['load_timeout']}` (bench/LoadGen: "
        f"churn, a new connection per request started open-loop at {meta['rate']}/s, plus "
        f"{meta['load_connections']} keep-alive connections, closed-loop; each reply checked: status 200 and body "
        f"`OK`; a reply saying `Connection: close` is honoured, not a failure) against the app on ShardRuntime while "
        f"`shardruntime upgrade --control-socket SOCKET` runs {meta['changes']} times, {meta['interval']} s after the "
        f"previous one returned (the app starts itself again, the new process takes the listening sockets over SCM_RIGHTS "
        f"and the old one lets Kestrel finish its requests; the command returns after the old process's stability "
        f"period). The load starts 2 s before the first upgrade and stops 3 s after the last ({meta['load_seconds']} s "
        f"in all). Then the same load against the app `--plain`, which is stopped (SIGTERM, waiting for it to exit) and "
        f"started again on the same port at the same moments after the load's start (a restart is the only way plain "
        f"Kestrel changes code), for the same total time. Every process is ended by its PID, each upgraded successor "
        f"by the pid the command named; the predecessors exited by themselves: {meta['predecessors_exited']}.")
    add("")
    add("Reading the counts: a churn attempt is one request started on schedule, so churn's failures count requests "
        "lost. A keep-alive connection that fails is replaced at once and its request retried on the new connection, "
        "so while nothing listens the keep-alive connections count one `refused` per connect attempt, as fast as the "
        "kernel refuses: their counts measure how long nothing listened, not requests a client would have lost.")
    add("")
    if quick:
        add("**Quick mode**: short measurements and few changes; a trial of the script, the figures are not the "
            "reference.")
        add("")
    sections = [
        (f"Keep-alive, {meta['connections']} connections", wrk_table(records, "ka")),
        (f"Churn, a new connection per request ({meta['connections']} at a time)", wrk_table(records, "churn")),
        ("Changes under load: the load generator's counts (failed = refused + reset + closed + timed out + wrong "
         "reply + other)", changes_table(workdir, events)),
        ("When each change happened (seconds after the load's start)", changes_timeline(events)),
    ]
    publish(docs, SECTION, out, sections, "Target (issue 17, point 3): medians", "Target", ratio_lines(records))
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "line":
        print(line_of(load(argv[1])))
        return 0
    if len(argv) == 2 and argv[0] == "loadgen-line":
        print(loadgen_line(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "render":
        return cmd_render(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
