#!/usr/bin/python3
"""Helper of bench/handover.sh: reads the load generator's JSON summaries and the script's logs, decides the ramp,
prints the tables and writes the handover section of docs/benchmarks.md. Standard library only.

  report.py freeport                          a free TCP port on 127.0.0.1
  report.py verdict JSON RATE SECONDS         exit 0 if the load generator kept up (prints the reason either way)
  report.py line JSON                         one line of figures, for the script's progress output
  report.py render WORKDIR DOCS               print the tables, write the handover section of DOCS
"""

import datetime as dt
import json
import os
import re
import socket
import sys

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchdoc import produced_by, table, write_section  # noqa: E402

SECTION = "handover"
# What "kept up" means in the ramp; the script and the document both use these.
MAX_SKIPPED_FRACTION = 0.01
MAX_P99_MS = 50.0
FAILURE_FIELDS = ["refused", "reset", "closed", "timed_out", "wrong_reply", "other_error"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def ms(us):
    return "-" if us is None else f"{us / 1000.0:.1f}"


def churn(report):
    return report.get("churn") or report["total"]


def keep_up(report, rate, seconds):
    """(kept_up, reason): skipped starts at most 1% of the starts due, no failure, p99 under the bar."""
    c = churn(report)
    skipped = report.get("skipped_starts", 0)
    due = c["attempts"] + skipped
    reasons = []
    if due and skipped / due > MAX_SKIPPED_FRACTION:
        reasons.append(f"skipped {skipped / due:.1%} of starts")
    if c["failed"]:
        reasons.append(f"{c['failed']} failed")
    p99 = c["latency_us"]["p99"] if c["latency_us"]["count"] else None
    if p99 is None:
        reasons.append("no successful attempt")
    elif p99 / 1000.0 >= MAX_P99_MS:
        reasons.append(f"p99 {p99 / 1000.0:.1f} ms >= {MAX_P99_MS:.0f} ms")
    if due < 0.9 * rate * seconds:
        reasons.append(f"only {due} starts due of {rate * seconds}")
    return (not reasons, "; ".join(reasons) if reasons else "kept up")


def read_tsv(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("\t"))
    return rows


def read_meta(workdir):
    return {k: v for k, v in (r[:2] if len(r) >= 2 else (r[0], "") for r in read_tsv(os.path.join(workdir, "meta.tsv")))}


def parse_time(text):
    # .NET writes 7 fractional digits; Python wants at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return dt.datetime.fromisoformat(text)


def progress_failures(path):
    """Per second of the run: the failures that completed in it, from the --progress lines (cumulative counters)."""
    pattern = re.compile(r"^\[\s*([\d.]+)s\] attempts (\d+) ok (\d+) refused (\d+) reset (\d+) closed (\d+) "
                         r"timed_out (\d+) wrong (\d+) other (\d+)")
    previous = [0] * 6
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = pattern.match(line)
            if not m:
                continue
            t = float(m.group(1))
            counts = [int(m.group(i)) for i in range(4, 10)]
            delta = [c - p for c, p in zip(counts, previous)]
            previous = counts
            if any(delta):
                out.append((t, dict(zip(FAILURE_FIELDS, delta))))
    return out


def changes_of(workdir, server):
    """Rows of changes-<server>.tsv: index, planned offset ms, start epoch ms, end epoch ms, kind, from, to, rc, output."""
    rows = []
    for r in read_tsv(os.path.join(workdir, f"changes-{server}.tsv")):
        index, planned, start, end, kind, before, after, rc = r[:8]
        rows.append({"index": int(index), "planned_ms": int(planned), "start_ms": int(start), "end_ms": int(end),
                     "kind": kind, "from": before, "to": after, "rc": int(rc), "output": r[8] if len(r) > 8 else ""})
    return rows


def describe_change(c, t0_ms):
    at = (c["start_ms"] - t0_ms) / 1000.0
    what = c["kind"]
    if c["kind"] == "scale":
        what = f"scale {c['from']}->{c['to']}"
    elif c["kind"] == "workers":
        what = f"reload to {c['to']} workers (from {c['from']})"
    elif c["kind"] == "reload":
        what = "reload" + (f" (workers stay {c['to']})" if c["to"] else "")
    return f"#{c['index']} {what} at {at:.1f} s"


def command_ms(changes):
    times = sorted(c["end_ms"] - c["start_ms"] for c in changes)
    if not times:
        return "-"
    return f"{times[len(times) // 2]} / {times[-1]}"


def cmd_freeport():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_verdict(path, rate, seconds):
    ok, reason = keep_up(load(path), int(rate), float(seconds))
    print(reason)
    return 0 if ok else 1


def cmd_line(path):
    r = load(path)
    c = churn(r)
    lat = c["latency_us"]
    fails = " ".join(f"{k}={c[k]}" for k in FAILURE_FIELDS if c[k])
    print(f"attempts {c['attempts']} succeeded {c['succeeded']} failed {c['failed']}"
          f"{' (' + fails + ')' if fails else ''} skipped {r.get('skipped_starts', 0)}"
          f" p50 {ms(lat['p50'])} ms p99 {ms(lat['p99'])} ms max {ms(lat['max'])} ms")


def cmd_render(workdir, docs):
    meta = read_meta(workdir)
    names = {"shardruntime": "ShardRuntime", "nginx": "nginx"}
    out = []
    add = out.append

    add(f"## Handover under connection churn: ShardRuntime and nginx")
    add("")
    add(produced_by(meta) +
        ".")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}, {meta['nginx']}. Load generator, servers and command-line tool share these CPUs "
        f"over loopback; anything else running shows in the 1-minute load average: {meta['loadavg']}. Kernel settings as found (the script changes none): {meta['sysctls']}.")
    add("")
    add("Scenario: `shardruntime-loadgen --mode churn` (a new connection per `GET /`, open-loop at a fixed rate, "
        f"timeout {meta['timeout']} per connect and per reply, {meta['source_addresses']} source addresses) against "
        f"ShardRuntime (`http-ok`, starting at 4 shards) and against nginx (`listen ... reuseport`, `return 200 \"OK\"`, "
        "`access_log off`, starting at 4 workers), one server at a time, same rate, same duration, same change times.")
    add("")

    # Ramp.
    ramp = read_tsv(os.path.join(workdir, "ramp.tsv"))
    add(f"### Ramp: the highest rate the machine holds ({meta['ramp_seconds']} s per step, no changes)")
    add("")
    rows = []
    for rate, server, path, verdict in ramp:
        r = load(path)
        c = churn(r)
        lat = c["latency_us"]
        rows.append([rate, names[server], c["attempts"], c["succeeded"], c["failed"], r.get("skipped_starts", 0),
                     ms(lat["p50"]), ms(lat["p99"]), ms(lat["max"]), verdict])
    headers = ["rate (conn/s)", "server", "attempts", "succeeded", "failed", "skipped starts",
               "p50 ms", "p99 ms", "max ms", "kept up?"]
    ramp_table = table(headers, rows, right={0, 2, 3, 4, 5, 6, 7, 8})
    add(ramp_table)
    add("")
    add(f"Kept up = at most {MAX_SKIPPED_FRACTION:.0%} of the starts due were skipped (all "
        f"`--max-in-flight` busy), no attempt failed, p99 under {MAX_P99_MS:.0f} ms. The ramp stops at the first "
        "rate ShardRuntime does not keep up with; nginx runs each step right after ShardRuntime, for reference only.")
    add("")
    add(f"**Chosen rate: {meta['rate']} connections/s** ({meta['rate_reason']}).")
    add("")

    # Scenario.
    duration = meta["scenario_seconds"]
    reloads = meta["reloads"]
    scales = meta["scales"]
    add(f"### Handover: {meta['rate']} connections/s for {duration} s while the server is changed every "
        f"{meta['interval']} s")
    add("")
    if meta.get("reload_available") == "1":
        add(f"ShardRuntime: {reloads} handler reloads (`shardruntime reload http`) and {scales} shard-count changes "
            f"(`shardruntime scale http N`, N = {meta['sequence']}), alternating, evenly spread. nginx at the same "
            f"moments: a `nginx -s reload` with an unchanged worker count where ShardRuntime reloads its handler, and "
            f"a `nginx -s reload` to the next worker count (same sequence) where ShardRuntime changes its shard count.")
    else:
        add(f"**The `shardruntime` at this commit has no `reload` command** (not in `shardruntime --help`), so "
            f"ShardRuntime got only the {scales} shard-count changes (`shardruntime scale http N`, N = "
            f"{meta['sequence']}), and nginx only its {scales} `nginx -s reload` to the next worker count, at the "
            f"same moments; the handler-reload slots stayed empty on both.")
    add("")
    rows = []
    bars = []
    details = []
    for server in ("shardruntime", "nginx"):
        path = os.path.join(workdir, f"scenario-{server}.json")
        if not os.path.exists(path):
            continue
        r = load(path)
        c = churn(r)
        lat = c["latency_us"]
        changes = changes_of(workdir, server)
        done = [x for x in changes if x["rc"] == 0]
        failed_changes = [x for x in changes if x["rc"] != 0]
        kinds = {"reload": sum(1 for x in done if x["kind"] == "reload"),
                 "scale": sum(1 for x in done if x["kind"] in ("scale", "workers"))}
        change_text = f"{len(done)} of {len(changes)} ({kinds['reload']} reload, {kinds['scale']} " \
                      f"{'scale' if server == 'shardruntime' else 'worker count'})"
        rows.append([names[server], c["attempts"], c["succeeded"], c["refused"], c["reset"], c["closed"],
                     c["timed_out"], c["wrong_reply"], c["other_error"], r.get("skipped_starts", 0),
                     ms(lat["p50"]), ms(lat["p99"]), ms(lat["max"]), change_text, command_ms(changes)])
        lost = c["failed"]
        if lost == 0 and not failed_changes:
            bars.append(f"- {names[server]}: **met the zero-loss bar**: {c['attempts']} of {c['attempts']} "
                        f"connections succeeded across {len(done)} changes.")
        else:
            parts = ", ".join(f"{c[k]} {k.replace('_', ' ')}" for k in FAILURE_FIELDS if c[k])
            text = f"- {names[server]}: **did not meet the zero-loss bar**: "
            text += f"{lost} of {c['attempts']} connections failed ({parts})" if lost else "no connection failed"
            if failed_changes:
                text += f"; {len(failed_changes)} change(s) failed: " + "; ".join(
                    f"{describe_change(x, done[0]['start_ms'] if done else x['start_ms'])} exit {x['rc']}: "
                    f"{x['output'][:200]}" for x in failed_changes)
            bars.append(text + ".")
        # Where the failures fell, from the once-a-second progress lines.
        if lost:
            t0 = int(parse_time(r["started_at"]).timestamp() * 1000)
            for t, delta in progress_failures(os.path.join(workdir, f"scenario-{server}.progress")):
                before = [x for x in changes if (x["start_ms"] - t0) / 1000.0 <= t]
                near = describe_change(before[-1], t0) if before else "before the first change"
                counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in delta.items() if v)
                details.append(f"  - {names[server]}, second ending at {t:.0f} s: {counts} (last change before: {near})")
    headers = ["server", "attempts", "succeeded", "refused", "reset", "closed", "timed out", "wrong", "other",
               "skipped starts", "p50 ms", "p99 ms", "max ms", "changes performed", "change command ms (median / max)"]
    result_table = table(headers, rows, right=set(range(1, 13)))
    add(result_table)
    add("")
    add("\n".join(bars))
    if details:
        add("")
        add("  Failures by the second in which they completed (a timed-out attempt completes one timeout after it "
            "started):")
        add("\n".join(details))
    add("")
    add("Skipped starts are starts the load generator could not make because all of its in-flight slots were busy; "
        "they are not attempts and not losses. Latency is from connect start to the full reply, successful attempts "
        "only. The change command time is the wall time of one `shardruntime scale`/`reload` process (a .NET "
        "process that starts, asks the node over its control socket and waits for the answer) or of one "
        "`nginx -s reload` (which signals the master and returns before the workers change); both run on the same "
        "CPUs as the server and the load generator.")

    section = "\n".join(out).rstrip() + "\n"

    # Stdout: the tables.
    print()
    print(f"Ramp ({meta['ramp_seconds']} s per step):")
    print(ramp_table)
    print(f"Chosen rate: {meta['rate']} connections/s ({meta['rate_reason']})")
    print()
    print(f"Handover: {meta['rate']} connections/s, {duration} s, a change every {meta['interval']} s:")
    print(result_table)
    print("\n".join(bars))
    if details:
        print("\n".join(details))

    # The document: replace our section, keep the rest.
    write_section(docs, SECTION, section)
    print(f"\nwrote the handover section of {docs}")
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "freeport":
        return cmd_freeport()
    if len(argv) == 4 and argv[0] == "verdict":
        return cmd_verdict(*argv[1:])
    if len(argv) == 2 and argv[0] == "line":
        return cmd_line(argv[1])
    if len(argv) == 3 and argv[0] == "render":
        return cmd_render(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
