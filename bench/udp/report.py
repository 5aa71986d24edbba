#!/usr/bin/python3
"""Helper of bench/udp.sh: records dnsperf and load-generator results as JSON, prints one-line progress figures and
writes the udp section of docs/benchmarks.md. Standard library only.

  report.py freeport [N]                       N ports (default 1) free on 127.0.0.1 for both UDP and TCP
  report.py dnsperf-record OUT JSON K=V...     dnsperf's output OUT as a JSON record, with the given fields added
  report.py loadgen-record LOADGEN JSON K=V... the load generator's UDP summary as a JSON record, with fields added
  report.py line JSON                          one line of figures, for the script's progress output
  report.py render WORKDIR DOCS                print the tables, write the udp section of DOCS
"""

import glob
import os
import re
import socket
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchdoc import produced_by, add_fields, load, read_meta, save, table, write_section  # noqa: E402

SECTION = "udp"
# The targets of issue "3/7 UDP listeners" (point 6): dns-static at shards = cores against the peers' queries/s.
TARGET_VS_KNOT = 0.8
TARGET_VS_NSD = 1.0

NAMES = {
    "sr-sharded": "ShardRuntime dns-static, shards = cores",
    "sr-single": "ShardRuntime dns-static, 1 socket",
    "nsd": "NSD, reuseport, servers = cores",
    "knot": "Knot DNS, udp-workers = cores",
    "sr-echo-sharded": "ShardRuntime udp-echo, shards = cores",
    "sr-echo-single": "ShardRuntime udp-echo, 1 socket",
    "dotnet-echo-sharded": "plain .NET echo, cores SO_REUSEPORT sockets",
    "dotnet-echo-single": "plain .NET echo, 1 socket",
    "shardruntime": "ShardRuntime dns-static",
}


def ms(us):
    return "-" if us is None else f"{us / 1000.0:.2f}"


def spread(values, fmt="{:,.0f}"):
    """Median of the rounds, with min-max when there is more than one."""
    if not values:
        return "-"
    text = fmt.format(statistics.median(values))
    if len(values) > 1:
        text += f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
    return text


# --- Recording --------------------------------------------------------------------------------------------------------

def parse_dnsperf(text):
    """The figures of dnsperf's (2.x) statistics block."""
    def grab(pattern, cast=float):
        m = re.search(pattern, text, re.MULTILINE)
        return cast(m.group(1)) if m else None

    rcodes = dict((k, int(v)) for k, v in re.findall(r"([A-Z]+) (\d+) \([\d.]+%\)", grab(r"Response codes:\s*(.*)$", str) or ""))
    return {
        "sent": grab(r"Queries sent:\s*(\d+)", int),
        "completed": grab(r"Queries completed:\s*(\d+)", int),
        "lost": grab(r"Queries lost:\s*(\d+)", int),
        "interrupted": grab(r"Queries interrupted:\s*(\d+)", int) or 0,
        "rcodes": rcodes,
        "request_bytes": grab(r"Average packet size:\s*request (\d+)", int),
        "response_bytes": grab(r"Average packet size:.*response (\d+)", int),
        "run_seconds": grab(r"Run time \(s\):\s*([\d.]+)"),
        "qps": grab(r"Queries per second:\s*([\d.]+)"),
        "latency_avg_ms": (lambda v: None if v is None else v * 1000)(grab(r"Average Latency \(s\):\s*([\d.]+)")),
        "latency_min_ms": (lambda v: None if v is None else v * 1000)(grab(r"Average Latency \(s\):.*\(min ([\d.]+)")),
        "latency_max_ms": (lambda v: None if v is None else v * 1000)(grab(r"Average Latency \(s\):.*max ([\d.]+)\)")),
        "latency_stddev_ms": (lambda v: None if v is None else v * 1000)(grab(r"Latency StdDev \(s\):\s*([\d.]+)")),
    }


def cmd_dnsperf_record(out, path, pairs):
    with open(out, encoding="utf-8", errors="replace") as f:
        record = parse_dnsperf(f.read())
    if record["qps"] is None or record["sent"] is None:
        print(f"no dnsperf statistics in {out}", file=sys.stderr)
        return 1
    record["tool"] = "dnsperf"
    save(path, add_fields(record, pairs))
    return 0


def cmd_loadgen_record(src, path, pairs):
    r = load(src)
    u = r.get("udp") or r["total"]
    record = {k: u.get(k, 0) for k in ("flows", "sent", "answered", "lost", "wrong", "duplicated", "late",
                                       "unmatched", "port_unreachable", "max_in_flight", "refused", "other_error")}
    record["send_failed"] = u.get("refused", 0) + u.get("other_error", 0)
    record["skipped_starts"] = r.get("skipped_starts", 0)
    record["elapsed_seconds"] = r.get("elapsed_seconds")
    record["per_second"] = r.get("succeeded_per_second")
    record["latency_us"] = u.get("latency_us", {})
    record["wrong_reasons"] = r.get("wrong_reply_reasons", {})
    record["other_errors"] = r.get("other_errors", {})
    record["started_at"] = r.get("started_at")
    record["timeout_ms"] = (r.get("options") or {}).get("timeout_ms")
    record["tool"] = "loadgen"
    save(path, add_fields(record, pairs))
    return 0


def cmd_line(path):
    r = load(path)
    if r["tool"] == "dnsperf":
        codes = " ".join(f"{k} {v}" for k, v in sorted(r["rcodes"].items()))
        print(f"{r['qps']:,.0f} queries/s, sent {r['sent']} lost {r['lost']}, latency avg {r['latency_avg_ms']:.3f} ms "
              f"stddev {r['latency_stddev_ms']:.3f} ms max {r['latency_max_ms']:.1f} ms; {codes}; "
              f"response {r['response_bytes']} bytes")
    else:
        lat = r["latency_us"]
        print(f"{(r['per_second'] or 0):,.0f} answered/s, sent {r['sent']} answered {r['answered']} lost {r['lost']} "
              f"send-failed {r['send_failed']} wrong {r['wrong']} duplicated {r['duplicated']} late {r['late']} "
              f"skipped {r['skipped_starts']}; p50 {ms(lat.get('p50'))} ms p99 {ms(lat.get('p99'))} ms "
              f"max {ms(lat.get('max'))} ms")
    return 0


def cmd_freeport(count):
    """Ports free for both UDP and TCP (NSD and Knot also listen on TCP), distinct."""
    ports, held = [], []
    while len(ports) < count:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            u.close()
            t.close()
            continue
        held += [u, t]
        ports.append(port)
    for s in held:
        s.close()
    print("\n".join(str(p) for p in ports))
    return 0


# --- Rendering --------------------------------------------------------------------------------------------------------

def records(workdir, kind):
    out = []
    for path in sorted(glob.glob(os.path.join(workdir, "raw", f"*-{kind}.json"))):
        out.append(load(path))
    return out


def by_server(recs, order):
    groups = {}
    for r in recs:
        groups.setdefault(r["server"], []).append(r)
    return [(s, groups[s]) for s in order if s in groups]


def dnsperf_table(recs, order):
    rows = []
    for server, rs in by_server(recs, order):
        codes = {}
        for r in rs:
            for k, v in r["rcodes"].items():
                codes[k] = codes.get(k, 0) + v
        total = sum(codes.values()) or 1
        code_text = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(codes.items()))
        rows.append([NAMES.get(server, server), rs[0].get("sockets", "-"), spread([r["qps"] for r in rs]),
                     spread([r["latency_avg_ms"] for r in rs], "{:.3f}"), spread([r["latency_stddev_ms"] for r in rs], "{:.3f}"),
                     f"{max(r['latency_max_ms'] for r in rs):.1f}",
                     f"{sum(r['lost'] for r in rs):,} of {sum(r['sent'] for r in rs):,}", code_text,
                     rs[0].get("response_bytes", "-")])
    headers = ["server", "sockets", "queries/s", "latency avg ms", "latency stddev ms", "latency max ms",
               "lost (all rounds)", "response codes", "response bytes (avg)"]
    return table(headers, rows, right={1, 2, 3, 4, 5, 6, 8})


def loadgen_table(recs, order, unit):
    rows = []
    for server, rs in by_server(recs, order):
        def pct(key):
            return spread([r["latency_us"].get(key, 0) / 1000.0 for r in rs if r["latency_us"].get("count")], "{:.2f}")
        rows.append([NAMES.get(server, server), rs[0].get("sockets", "-"), spread([r["per_second"] or 0 for r in rs]),
                     pct("p50"), pct("p90"), pct("p99"), pct("p99_9"),
                     f"{max((r['latency_us'].get('max', 0) for r in rs), default=0) / 1000.0:.1f}",
                     f"{sum(r['lost'] for r in rs):,} of {sum(r['sent'] for r in rs):,}",
                     sum(r["wrong"] for r in rs), sum(r["duplicated"] for r in rs), sum(r["send_failed"] for r in rs),
                     f"{sum(r['skipped_starts'] for r in rs):,}"])
    headers = ["server", "sockets", f"{unit}/s answered", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
               "lost (all rounds)", "wrong", "duplicated", "send failed", "skipped sends"]
    return table(headers, rows, right=set(range(1, 13)))


def read_changes(workdir, server):
    rows = []
    path = os.path.join(workdir, f"changes-{server}.tsv")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 8:
                    rows.append({"slot": int(parts[0]), "at_ms": int(parts[1]), "kind": parts[2], "what": parts[3],
                                 "rc": int(parts[4]), "ms": int(parts[5]), "output": parts[6], "start_ms": int(parts[7])})
    return rows


def done_kind(server, change):
    """What the server did in a slot: ShardRuntime's reload/scale/upgrade, the peers' reload or restart."""
    if server == "shardruntime":
        return change["kind"]
    return "restart" if change["kind"] == "upgrade" else "reload"


PROGRESS = re.compile(r"\[\s*([\d.]+)s\] attempts \d+ ok \d+ refused (\d+) reset \d+ closed \d+ timed_out (\d+) "
                      r"wrong (\d+) other (\d+) duplicated (\d+)")


def attribute(workdir, server, record, changes):
    """Failures per change, from the load generator's once-a-second progress lines: each second's new refused,
    wrong, other and duplicated go to the last change started before the end of that second; new timeouts to the
    last change started before the end of that second minus the timeout (by when their queries were sent)."""
    path = os.path.join(workdir, "raw", f"change-{server}.txt")
    if not os.path.exists(path) or not changes:
        return []
    started = parse_time(record["started_at"]).timestamp() * 1000.0
    timeout_s = (record.get("timeout_ms") or 2000) / 1000.0
    offsets = [(c["start_ms"] - started) / 1000.0 for c in changes]
    blame = {}
    prev = (0, 0, 0, 0, 0)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = PROGRESS.search(line)
            if not m:
                continue
            t = float(m.group(1))
            cur = tuple(int(m.group(i)) for i in range(2, 7))  # refused, timed_out, wrong, other, duplicated
            delta = [c - p for c, p in zip(cur, prev)]
            prev = cur
            for value, when in ((delta[0] + delta[2] + delta[3] + delta[4], t), (delta[1], t - timeout_s)):
                if value <= 0:
                    continue
                before = [i for i, o in enumerate(offsets) if o <= when]
                key = before[-1] if before else -1
                blame[key] = blame.get(key, 0) + value
    out = []
    for key in sorted(blame):
        if key < 0:
            out.append(f"{blame[key]} before the first change")
        else:
            c = changes[key]
            out.append(f"{blame[key]} after change {c['slot']} ({c['what']}, at {offsets[key]:.1f} s)")
    return out


def parse_time(text):
    import datetime as dt
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return dt.datetime.fromisoformat(text)


def ratio_line(sr, peer, name, target):
    if sr is None:
        return f"- dns-static (shards = cores) vs {name}: not measured (ShardRuntime did not serve UDP in this run)."
    if peer is None:
        return f"- dns-static (shards = cores) vs {name}: not measured ({name} did not run)."
    ratio = sr / peer if peer else float("inf")
    verdict = "**met**" if ratio >= target else "**not met**"
    return (f"- dns-static (shards = cores) vs {name}: {sr:,.0f} / {peer:,.0f} queries/s = **{ratio:.2f}x** "
            f"(target >= {target:.1f}x): {verdict}.")


def cmd_render(workdir, docs):
    meta = read_meta(workdir)
    out = []
    add = out.append
    dns_order = ["sr-sharded", "sr-single", "nsd", "knot"]
    echo_order = ["sr-echo-sharded", "sr-echo-single", "dotnet-echo-sharded", "dotnet-echo-single"]
    sr_skipped = meta.get("sr_skipped", "")

    add("## UDP: dns-static against NSD and Knot DNS, udp-echo against plain .NET, zero loss through changes")
    add("")
    add(produced_by(meta) +
        f"; "
        f"{meta['rounds']} round(s), {meta['seconds']} s per measurement, in {meta['elapsed']}.")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}; {meta['nsd']}, {meta['knot']}, {meta['dnsperf']}. Clients and servers share these "
        f"CPUs over loopback (127.0.0.1); anything else running shows in the 1-minute load average: "
        f"{meta['loadavg']}. Kernel settings as found (the script changes none): {meta['sysctls']}.")
    add("")
    if sr_skipped:
        add(f"**ShardRuntime was not measured in this run**: {sr_skipped} Its rows are missing below and its "
            "targets are not measured; the peers' figures stand on their own.")
        add("")
    add(f"Every server serves the same zone `shardruntime.test.` (SOA, NS, `localhost` A 127.0.0.1 and AAAA ::1, "
        f"`www` two A records, `txt` and `serial` TXT records; TTL 300) on its own free 127.0.0.1 port, started by the script as "
        f"a foreground process with its own configuration under a temporary directory and ended by its PID. "
        f"Servers take turns in rounds, the order rotated by one each round ({meta['orders']}); each turn starts "
        f"the server afresh, warms it up for {meta['warmup']} s (not counted) and stops it after its measurements. "
        f"Figures are the median of the rounds with min-max in brackets.")
    add("")

    add(f"### DNS: dnsperf, closed loop ({meta['dnsperf_args']})")
    add("")
    add(f"Query mix (each name in turn, no EDNS0): {meta['query_mix']}. NSD: `server-count` = cores, `reuseport: yes`, "
        "`minimal-responses: yes`, response rate limiting off (`rrl-ratelimit: 0`; Debian's build has it on). Knot: "
        "`udp-workers` = cores (one SO_REUSEPORT socket per worker), no modules. ShardRuntime: a `dns-static` "
        "listener with the same records.")
    add("")
    dns = records(workdir, "dnsperf")
    add(dnsperf_table(dns, dns_order))
    add("")
    qps = {s: statistics.median([r["qps"] for r in rs]) for s, rs in by_server(dns, dns_order)}
    add("Targets (issue \"3/7 UDP listeners\"), medians of the rounds:")
    add("")
    add(ratio_line(qps.get("sr-sharded"), qps.get("knot"), "Knot", TARGET_VS_KNOT))
    add(ratio_line(qps.get("sr-sharded"), qps.get("nsd"), "NSD", TARGET_VS_NSD))
    add("")
    add("dnsperf 2.10 reports the average, standard deviation, minimum and maximum of its latencies but no "
        "percentiles; the percentiles are in the next table, measured by the load generator at a fixed rate. "
        "Lost = dnsperf's lost queries (no reply within its timeout).")
    add("")

    add(f"### DNS: a fixed rate, latency percentiles ({meta['dns_rate_args']})")
    add("")
    add(loadgen_table(records(workdir, "dnsrate"), dns_order, "queries"))
    add("")
    add("`shardruntime-loadgen --mode udp --protocol dns` sends numbered queries for `localhost.shardruntime.test.` A "
        "open-loop at the rate and checks every reply (id, question, NOERROR, the A record 127.0.0.1). Lost = no "
        "reply within the timeout; skipped sends = sends due while the in-flight bound was reached (not sent, not "
        "lost).")
    add("")

    add(f"### udp-echo: ShardRuntime against a plain .NET echo loop")
    add("")
    add(f"Saturation ({meta['echo_max_args']}): the in-flight bound makes the client closed-loop, so datagrams/s "
        f"is what client and server together reach on these CPUs.")
    add("")
    add(loadgen_table(records(workdir, "echomax"), echo_order, "datagrams"))
    add("")
    add(f"Fixed rate ({meta['echo_rate_args']}):")
    add("")
    add(loadgen_table(records(workdir, "echorate"), echo_order, "datagrams"))
    add("")
    add("The plain .NET echo (`bench/Peers/UdpEcho`) is a thread per socket in a blocking `ReceiveFrom`/`SendTo` "
        "loop, nothing else: the floor of what .NET sockets cost. Every reply is checked byte for byte.")
    add("")

    add(f"### Zero loss through changes: a numbered DNS query stream while the server is changed")
    add("")
    add(f"One stream per server ({meta['change_args']}): a change every {meta['change_interval']} s, and at least "
        f"that long after the previous change ended (an upgrade's CLI takes 10 s or more: it returns once the old "
        f"process let go of the sockets); the stream goes on for one more interval after the last change (at least "
        f"{meta['change_seconds']} s in all), then ends by SIGINT. "
        f"NSD and Knot are changed at the moments ShardRuntime's changes started (s from the stream's start: "
        f"{meta['change_moments']}). ShardRuntime: "
        f"`shardruntime reload dns` (the config file read again, with a new `serial` TXT record: a new dns-static "
        f"generation), `shardruntime scale dns N` (N = {meta['change_sequence']}; the config file follows) and "
        f"`shardruntime upgrade` (a successor process adopts the sockets), through its control socket. At the same "
        f"moments NSD and Knot get: a zone reload (new serial and `serial` TXT record in the zone file, then `nsd-control reload` / "
        f"`knotc reload`) where ShardRuntime reloads or scales (neither can change its thread count without a "
        f"restart), and a restart (SIGTERM, wait for the exit, start again) where ShardRuntime upgrades. "
        f"{meta['change_counts']}.")
    add("")
    rows = []
    bars = []
    for server in ("shardruntime", "nsd", "knot"):
        path = os.path.join(workdir, "raw", f"change-{server}.json")
        if not os.path.exists(path):
            continue
        r = load(path)
        changes = read_changes(workdir, server)
        done = [c for c in changes if c["rc"] == 0]
        kinds = {}
        for c in done:
            kinds[done_kind(server, c)] = kinds.get(done_kind(server, c), 0) + 1
        kind_text = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        times = sorted(c["ms"] for c in changes)
        lat = r["latency_us"]
        rows.append([NAMES.get(server, server).split(",")[0], f"{len(done)} of {len(changes)} ({kind_text})",
                     f"{r['elapsed_seconds']:.1f}", f"{r['sent']:,}", f"{r['answered']:,}", f"**{r['lost']:,}**", r["send_failed"], r["wrong"],
                     f"**{r['duplicated']}**", r["late"], r["port_unreachable"], r["skipped_starts"],
                     ms(lat.get("p99")), ms(lat.get("max")), r.get("udp_rcvbuf_errors", "-"),
                     f"{times[len(times) // 2]} / {times[-1]}" if times else "-"])
        failed = [c for c in changes if c["rc"] != 0]
        lost = r["lost"] + r["send_failed"] + r["wrong"]
        name = NAMES.get(server, server).split(",")[0]
        if lost == 0 and r["duplicated"] == 0 and not failed:
            bars.append(f"- {name}: 0 lost, 0 duplicated, every reply right, through {len(done)} changes.")
        else:
            text = (f"- {name}: {r['lost']} lost, {r['send_failed']} sends refused (nothing listening), {r['wrong']} "
                    f"wrong, {r['duplicated']} duplicated through {len(done)} changes")
            if failed:
                text += f"; {len(failed)} change(s) failed: " + "; ".join(f"{c['what']} exit {c['rc']}: {c['output'][:160]}" for c in failed)
            where = attribute(workdir, server, r, changes)
            if where:
                text += "; by the change before them: " + "; ".join(where)
            bars.append(text + ".")
    headers = ["server", "changes done", "stream s", "sent", "answered", "lost", "send failed", "wrong", "duplicated", "late",
               "port unreachable", "skipped sends", "p99 ms", "max ms", "kernel UDP buffer drops", "change command ms (median / max)"]
    add(table(headers, rows, right=set(range(2, 16))))
    add("")
    add("Target: ShardRuntime 0 lost and 0 duplicated through every change.")
    add("")
    add("\n".join(bars))
    add("")
    add("Lost = no reply within the timeout; send failed = the send was refused (ICMP port unreachable: nothing "
        "listened on the port, as during a restart); late = a reply after its query was counted lost; kernel UDP buffer drops = the rise of `RcvbufErrors` in "
        "/proc/net/snmp during the stream (the whole machine's UDP sockets, so other traffic counts too). The change "
        "command time is the wall time of one `shardruntime` CLI process (a .NET process) or of one "
        "`nsd-control`/`knotc` call, or of a whole restart (stop, start, listening again).")

    section = "\n".join(out).rstrip() + "\n"
    print()
    print(section)
    write_section(docs, SECTION, section)
    print(f"wrote the {SECTION} section of {docs}")
    return 0


def main(argv):
    if argv and argv[0] == "freeport" and len(argv) <= 2:
        return cmd_freeport(int(argv[1]) if len(argv) == 2 else 1)
    if len(argv) >= 3 and argv[0] == "dnsperf-record":
        return cmd_dnsperf_record(argv[1], argv[2], argv[3:])
    if len(argv) >= 3 and argv[0] == "loadgen-record":
        return cmd_loadgen_record(argv[1], argv[2], argv[3:])
    if len(argv) == 2 and argv[0] == "line":
        return cmd_line(argv[1])
    if len(argv) == 3 and argv[0] == "render":
        return cmd_render(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
