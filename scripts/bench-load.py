#!/usr/bin/env python3
"""Throughput and finality from outside: `platon bench load` (pre-signed EIP-1559 transfers from
fresh senders, JSON-RPC batches of 100, open loop) against, one after the other in the same run:

  1. a `--dev` node (one producer, no consensus),
  2. anvil with 0.25 s interval mining and a 1 G gas limit (the reference),
  3. four validators from `platon localnet init`, the load spread over all four.

Each system runs alone while it is measured (they share this machine's cores). The per-connection
request and connection limits (`http.max_requests_per_sec`, `http.max_connections`: guards against
one abusive client) are raised for the run, since one generator carries all the load. Prints one JSON line per measurement and
a table at the end.

    scripts/bench-load.py                          # rates 1000,3000,6000; 10 s each
    scripts/bench-load.py --rates 500,1000 --seconds 20 --skip anvil
    scripts/bench-load.py --kind erc20             # Token.sol transfers (needs Node.js, solc-js)
    scripts/bench-load.py --responsive-ms 50       # the validators with responsive CBFT pacing
    scripts/bench-load.py --responsive-ms 50 --progress-timeout-ms 0   # ... without its progress timeout
    scripts/bench-load.py --rss --seconds 600 --rates 500 --skip dev,anvil   # memory over 10 min
    scripts/bench-load.py --profile /tmp/prof      # perf profiles of every platon process, binned
                                                   # per transaction (scripts/profile-breakdown.py)

The nodes' data folders are removed at the end (`--keep` keeps them, with the logs).

Uses target/release/platon when built (cargo build --release -p platon-node), else the debug build.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/platon-target"))


def platon_bin(explicit):
    if explicit:
        return explicit
    for p in (f"{TARGET}/release/platon", f"{TARGET}/debug/platon"):
        if os.path.exists(p):
            return p
    sys.exit("no platon binary: cargo build --release -p platon-node")


def wait_rpc(url, timeout=60):
    end = time.time() + timeout
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    while time.time() < end:
        try:
            req = urllib.request.Request(url, body, {"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=5) as r:
                return int(json.load(r)["result"], 16)
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


PERF_FREQ = 499


def profiled(path):
    """perf record of the whole machine (self time, no call graphs) until SIGINT, in the
    background: `-p` would miss the threads a process starts later (tokio's blocking pool)."""
    return subprocess.Popen(["perf", "record", "-a", "-F", str(PERF_FREQ), "-o", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples each process's resident set every `every` seconds while the load runs."""

    def __init__(self, pids, every=10):
        self.pids, self.every, self.samples = list(pids), every, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        start = time.time()
        while not self.done.wait(self.every):
            self.samples.append((round(time.time() - start), [rss_mib(p) for p in self.pids]))

    def stop(self):
        self.done.set()
        self.thread.join()
        if not self.samples:
            return {}
        # The first minute is warm-up (caches fill); flat means the last sample is near the one at
        # one minute.
        ref = next((v for t, v in self.samples if t >= 60), self.samples[0][1])
        last = self.samples[-1][1]
        peak = [max(v[i] or 0 for _, v in self.samples) for i in range(len(self.pids))]
        # Caches fill for minutes under a heavy load; the second half of the run shows whether RSS
        # still climbs: its range and its least-squares slope (MiB a minute).
        end = self.samples[-1][0]
        half = [(t, v) for t, v in self.samples if t >= end / 2]
        band, slope = [], []
        for i in range(len(self.pids)):
            pts = [(t, v[i]) for t, v in half if v[i] is not None]
            if len(pts) < 2:
                band.append(None)
                slope.append(None)
                continue
            mx = sum(t for t, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            var = sum((t - mx) ** 2 for t, _ in pts)
            band.append([round(min(y for _, y in pts)), round(max(y for _, y in pts))])
            slope.append(round(sum((t - mx) * (y - my) for t, y in pts) / var * 60, 1) if var else 0.0)
        return {
            "rss_mib_at_60s": [round(x or 0) for x in ref],
            "rss_mib_at_end": [round(x or 0) for x in last],
            "rss_mib_peak": [round(x) for x in peak],
            "rss_growth_after_60s_mib": [round((b or 0) - (a or 0)) for a, b in zip(ref, last)],
            "rss_mib_second_half_range": band,
            "rss_mib_per_minute_second_half": slope,
            "rss_samples": self.samples,
        }


def load(platon, urls, rate, seconds, kind, token, senders):
    cmd = [platon, "bench", "load", "--rpc", ",".join(urls), "--rate", str(rate),
           "--seconds", str(seconds), "--senders", str(senders), "--kind", kind]
    if token:
        cmd += ["--token", token]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    return json.loads(out.stdout)


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="1000,3000,6000")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--senders", type=int, default=500)
    ap.add_argument("--kind", choices=["transfer", "erc20"], default="transfer")
    ap.add_argument("--skip", default="", help="comma-separated: dev,anvil,cbft")
    ap.add_argument("--platon", default=None)
    ap.add_argument("--responsive-ms", type=int, default=None,
                    help="validators use responsive CBFT pacing with this minimum block interval")
    ap.add_argument("--period-ms", type=int, default=None, help="CBFT view window of the validators")
    ap.add_argument("--progress-timeout-ms", type=int, default=None,
                    help="the validators' cbft.progress_timeout_ms (responsive pacing; 0: off)")
    ap.add_argument("--profile", default=None, help="folder for perf profiles of the platon processes")
    ap.add_argument("--keep", action="store_true",
                    help="keep the nodes' data folders and logs (by default removed at the end)")
    ap.add_argument("--rss", action="store_true",
                    help="sample each platon process's resident memory every 10 s of the run")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    platon = platon_bin(args.platon)
    tmp = tempfile.mkdtemp(prefix="bench-load-")
    token = None
    if args.kind == "erc20":
        token = f"{tmp}/contracts.json"
        with open(token, "w") as f:
            subprocess.run(["node", f"{ROOT}/integration/tests/js/compile.mjs"], stdout=f, check=True)
    results = {}

    def measure(system, urls, pids=()):
        for r in rates:
            rec = None
            if args.profile and pids:
                os.makedirs(args.profile, exist_ok=True)
                rec = f"{args.profile}/{system}-{r}.data"
                perf = profiled(rec)
            sampler = RssSampler(pids) if args.rss and pids else None
            res = load(platon, urls, r, args.seconds, args.kind, token, args.senders)
            res["system"] = system
            if sampler:
                res.update(sampler.stop())
            if rec:
                perf.send_signal(signal.SIGINT)
                perf.wait()
                # The profile covers the whole run: funding the senders, the load, the drain.
                txs = res.get("committed", 0) + args.senders
                out = subprocess.run([sys.executable, f"{ROOT}/scripts/profile-breakdown.py",
                                      "--freq", str(PERF_FREQ), "--txs", str(txs),
                                      "--pids", ",".join(str(p) for p in pids), rec],
                                     capture_output=True, text=True)
                print(f"profile of {system} at {r} tx/s ({rec}, {len(pids)} processes):\n"
                      f"{out.stdout}{out.stderr}", file=sys.stderr, flush=True)
            print(json.dumps(res), flush=True)
            results[(system, r)] = res

    def spawn(cmd, name):
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/{name}.log", "w"))

    def system(name, cmd, url, profile=True):
        """Starts one system, measures it at every rate, and stops it."""
        p = spawn(cmd, name)
        try:
            wait_rpc(url)
            measure(name, [url], [p.pid] if profile else ())
        finally:
            stop([p])

    if "dev" not in skip:
        cfg = f"{tmp}/dev.toml"
        with open(cfg, "w") as f:
            f.write("[http]\nport = 18545\nmax_requests_per_sec = 1000000\nmax_connections = 2000\n")
        system("dev", [platon, "run", "--dev", "--config", cfg, "--admin.enabled", "false",
                       "--log", "warn"], "http://127.0.0.1:18545")
    if "anvil" not in skip:
        anvil = f"{ROOT}/integration/tests/js/node_modules/.bin/anvil"
        system("anvil", [anvil, "--port", "18546", "--block-time", "0.25", "--gas-limit",
                         "1000000000", "--silent"], "http://127.0.0.1:18546", profile=False)
    if "cbft" not in skip:
        init = [platon, "localnet", "init", "--nodes", "4", "--validators", "4", "--subnet", "78",
                "--out", f"{tmp}/net"]
        if args.responsive_ms is not None:
            init += ["--responsive-ms", str(args.responsive_ms)]
        if args.period_ms is not None:
            init += ["--period-ms", str(args.period_ms)]
        subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
        net = json.load(open(f"{tmp}/net/localnet.json"))
        procs = []
        try:
            for n in net["nodes"]:
                text = open(n["config"]).read().replace(
                    "max_requests_per_sec = 10000", "max_requests_per_sec = 1000000").replace(
                    "max_connections = 200", "max_connections = 2000")
                if args.progress_timeout_ms is not None:
                    text = text.replace("progress_timeout_ms = 2000",
                                        f"progress_timeout_ms = {args.progress_timeout_ms}")
                open(n["config"], "w").write(text)
                procs.append(spawn([platon, "run", "--config", n["config"], "--log", "warn"],
                                   n["name"]))
            urls = [n["rpc"] for n in net["nodes"]]
            for u in urls:
                wait_rpc(u)
            while wait_rpc(urls[0]) < 3:
                time.sleep(0.2)
            measure("cbft", urls, [p.pid for p in procs])
        finally:
            stop(procs)

    if args.keep:
        print(f"data folders and logs kept in {tmp}", file=sys.stderr)
    else:
        # A 10-minute run leaves gigabytes of chain data; a dozen runs would fill the disk.
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nplaton: {platon}; {os.cpu_count()} cores; {args.kind}, {args.senders} senders, "
          f"batches of 100, {args.seconds} s per rate")
    print("| system | offered tx/s | accepted tx/s | committed tx/s | refused | p50 s | p99 s | max s |")
    print("|---|---|---|---|---|---|---|---|")
    for (system, r), res in results.items():
        if "error" in res:
            print(f"| {system} | {r} | error: {res['error'][:80]} | | | | | |")
            continue
        f = res["finality_s"]
        print(f"| {system} | {r} | {res['accepted_tps']:.0f} | {res['committed_tps']:.0f} | "
              f"{res['refused']} | {f['p50']:.2f} | {f['p99']:.2f} | {f['max']:.2f} |")
    for r in rates:
        d, a = results.get(("dev", r)), results.get(("anvil", r))
        if d and a and "error" not in d and "error" not in a and a["committed_tps"]:
            print(f"rate {r}: dev / anvil committed = {d['committed_tps'] / a['committed_tps']:.2f}")


if __name__ == "__main__":
    main()
