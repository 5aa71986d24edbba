"""Renders the micro section of docs/benchmarks.md from a bench/micro.sh run: BenchmarkDotNet's CSV report (under
WORK/artifacts/results) and WORK/meta.tsv. Standard library only.

Usage: report.py WORK DOCS"""

import csv
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchdoc import read_meta, table, write_section  # noqa: E402

SECTION = "micro"


def read_rows(workdir):
    reports = sorted(glob.glob(os.path.join(workdir, "artifacts", "results", "*-report.csv")))
    if not reports:
        raise SystemExit(f"report.py: no BenchmarkDotNet CSV report under {workdir}/artifacts/results")
    rows = []
    for path in reports:
        with open(path, encoding="utf-8", newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


def cell(row, column, missing):
    value = (row.get(column) or "").strip()
    return value if value and value != "?" else missing


def render(meta, rows):
    out = []
    add = out.append
    add("## Micro: what one http-ok request allocates and takes (BenchmarkDotNet, memory diagnoser)")
    add("")
    add(f"Produced by `{meta['command']}` on {meta['date']} (UTC) at commit `{meta['commit']}`, with {meta['bdn']}.")
    add("")
    add(f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory']} memory, Linux {meta['kernel']}, "
        f".NET {meta['dotnet']}. The benchmarks and anything else running share these CPUs; the 1-minute load average "
        f"was {meta['loadavg']}. Times are indicative only on a shared machine; allocations do not depend on load.")
    add("")
    add("Setup (`bench/Micro`, Release, in process, 3 warm-up and 10 measured iterations per benchmark):")
    add("")
    add("- *handler*: `HttpOkHandler.OnReceived` alone on the calling thread, with a connection context whose `Write` "
        "copies into a buffer made once; the request is the head wrk sends (`GET / HTTP/1.1`, `Host`), one per call "
        "or 16 pipelined in one call. An operation is one call.")
    add("- *path*: a real node in the same process, started as user code starts one (the generic host, Akka.Hosting's "
        "`AddAkka` + `WithShardRuntime`; a local actor system, no control or upgrade socket), serving listener `http` "
        "(`http-ok`) on 127.0.0.1 port 0 from `Shards` shards: listener shards, connection actors, the handler, "
        "Akka's dispatcher, .NET's socket engine and thread pool. The client is blocking sockets on keep-alive "
        "connections opened in the setup, with buffers made up front, so it allocates nothing; it checks every "
        "response. An operation is one request answered: one GET and its response; one GET on each of 8 connections "
        "then the 8 responses (8 operations); 16 pipelined GETs on one connection and their responses (16 "
        "operations).")
    add("- *churn*: the same node with 1 shard; an operation is a whole new connection from a blocking loopback "
        "socket: connect, one GET, its response, close. `close`: the GET says `Connection: close`, so the shard "
        "answers and closes it in the connection's first turn and it never gets an actor; `keep-alive`: it gets a "
        "connection actor and ends when the client closes. The client's socket objects are counted too.")
    add("")
    headers = ["benchmark", "shards", "mean per op", "allocated per op", "allocated in the memory run", "Gen0 per 1000 ops"]
    body = []
    for row in rows:
        # BenchmarkDotNet leaves the Type column out when --filter selects one class; the method names tell the kinds apart.
        method = row["Method"].strip("'")
        kind = "handler" if method.startswith("handler") else "path"
        churn = cell(row, "Connection", "")
        label = method if kind == "handler" else f"churn ({churn}): {method}" if churn else f"path: {method}"
        body.append([label,
                     "-" if kind == "handler" else "1" if churn else cell(row, "Shards", "-"),
                     cell(row, "Mean", "?"),
                     cell(row, "Allocated", "?"),
                     cell(row, "Allocated in run", "?").replace(" ops", " operations"),
                     cell(row, "Gen0", "0")])
    add(table(headers, body, right={1, 2, 3, 4, 5}))
    add("")
    add("What \"allocated\" counts: BenchmarkDotNet's memory diagnoser makes one extra run of each benchmark and reads "
        "`GC.GetTotalAllocatedBytes(precise: true)` after a full collection before and after it: every byte allocated "
        "in the whole process during that run, on any thread: the node's actor system, socket engine and thread pool, "
        "the client, and BenchmarkDotNet itself. \"Allocated per op\" is those bytes divided by the run's operations, "
        "rounded to a whole byte (so 0 B means under half a byte per request); \"allocated in the memory run\" gives "
        "the bytes and operations it comes from, so that an allocation made once (a thread-pool thread's first use "
        "of the shared buffer pool, a queue that grows once) shows as what it is. Gen0: collections per 1000 "
        "operations (0: none in the measured runs).")
    return "\n".join(out)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    workdir, docs = argv
    section = render(read_meta(workdir), read_rows(workdir))
    write_section(docs, SECTION, section)
    print(f"wrote the {SECTION} section of {docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
