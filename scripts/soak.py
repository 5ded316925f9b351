#!/usr/bin/env python3
"""Soak run: a 4-validator localnet under a steady transfer load for N minutes, sampling each node's
resident memory, consensus WAL size and records, the entries its consensus core retains, and how
late its consensus timer ran.

After warm-up every figure should stay flat: consensus prunes what it keeps per block, vote and view
and compacts its WAL (issue 18, item 1). With --rpc-load, that many threads send node 1 batches of
state reads (eth_getBalance, eth_getProof, eth_getBlockByNumber, eth_call) as fast as it answers;
the timer's lateness on node 1 against the others shows whether RPC work holds up consensus (issue
18, item 2). Prints a line per sample and a JSON summary at the end.

    scripts/soak.py --minutes 10 --rate 100            # release binary if built, else debug
    scripts/soak.py --minutes 10 --rpc-load 4
    scripts/soak.py --bin target/release/platon --minutes 30

Needs web3 / eth-account (scripts/prereqs.sh test installs them).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from eth_account import Account

MNEMONIC = "test test test test test test test test test test test junk"


def rpc(url, method, params=None, timeout=10):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def batch(url, calls, timeout=30):
    body = json.dumps(
        [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    ).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def memory_parts(admin_url, token):
    """The store's memory by part (bytes) from the node's /metrics: platon_memory_<part>_bytes."""
    req = urllib.request.Request(admin_url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    parts = {}
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("platon_memory_") and not line.startswith("#"):
                    name, value = line.split()[:2]
                    parts[name.removeprefix("platon_memory_").removesuffix("_bytes")] = int(float(value))
    except Exception as e:
        print(f"metrics: {e}", file=sys.stderr)
    return parts


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]


def quantile(counts, bounds, q):
    """The upper bound (ms) of the lateness bucket holding quantile q; ">2000" past the last."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(total * q))
    seen = 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= rank:
            return bounds[i] if i < len(bounds) else f">{bounds[-1]}"
    return None


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/platon-target"))
    for p in (f"{target}/release/platon", f"{target}/debug/platon"):
        if os.path.exists(p):
            return p
    sys.exit("no platon binary: build one (cargo build --release -p platon-node) or pass --bin")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=100, help="transfers offered per second")
    ap.add_argument("--every", type=float, default=30, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=60, help="seconds before the baseline sample")
    ap.add_argument("--rpc-load", type=int, default=0,
                    help="threads sending node 1 batches of state reads as fast as it answers")
    ap.add_argument("--bin", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the network's folder")
    a = ap.parse_args()
    binary = a.bin or default_bin()
    out = tempfile.mkdtemp(prefix="platon-soak-")
    subprocess.run(
        [binary, "localnet", "init", "--nodes", "4", "--validators", "4", "--out", out],
        check=True, stdout=subprocess.DEVNULL,
    )
    net = json.load(open(os.path.join(out, "localnet.json")))
    nodes = net["nodes"]
    procs = []
    for k in range(1, 5):
        log = open(os.path.join(out, f"node{k}.log"), "w")
        procs.append(subprocess.Popen([binary, "run", "--config", os.path.join(out, f"node{k}.toml")],
                                      stdout=log, stderr=log))
    urls = [n["rpc"] for n in nodes]
    admins = [n.get("admin") for n in nodes]
    token = net.get("adminToken", "")
    datadirs = [os.path.join(out, f"node{k}") for k in range(1, 5)]
    try:
        deadline = time.time() + 60
        for u in urls:
            while True:
                try:
                    rpc(u, "eth_blockNumber")
                    break
                except Exception:
                    if time.time() > deadline:
                        sys.exit(f"node {u} did not start; logs in {out}")
                    time.sleep(0.2)
        chain_id = int(rpc(urls[0], "eth_chainId")["result"], 16)
        Account.enable_unaudited_hdwallet_features()
        senders = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]
        stop = threading.Event()
        counts = {"sent": 0, "accepted": 0, "refused": 0}

        def load():
            nonces = {s.address: int(rpc(urls[0], "eth_getTransactionCount", [s.address, "pending"])["result"], 16)
                      for s in senders}
            tick = 0.2
            per_tick = max(1, int(a.rate * tick))
            i = 0
            while not stop.is_set():
                t0 = time.time()
                calls = []
                for _ in range(per_tick):
                    s = senders[i % len(senders)]
                    i += 1
                    tx = {"chainId": chain_id, "nonce": nonces[s.address], "to": senders[(i + 3) % 10].address,
                          "value": 1, "gas": 21000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
                          "type": 2}
                    nonces[s.address] += 1
                    raw = s.sign_transaction(tx).raw_transaction.hex()
                    calls.append(("eth_sendRawTransaction", ["0x" + raw.removeprefix("0x")]))
                try:
                    answers = batch(urls[i % len(urls)], calls)
                    counts["sent"] += len(calls)
                    ok = sum(1 for r in answers if "result" in r)
                    counts["accepted"] += ok
                    counts["refused"] += len(calls) - ok
                    if ok < len(calls):
                        # Resynchronise nonces from the chain after a refusal.
                        for s in senders:
                            nonces[s.address] = int(rpc(urls[0], "eth_getTransactionCount",
                                                        [s.address, "pending"])["result"], 16)
                except Exception as e:
                    print(f"load: {e}", file=sys.stderr)
                time.sleep(max(0.0, tick - (time.time() - t0)))

        th = threading.Thread(target=load, daemon=True)
        th.start()
        rpc_counts = {"batches": 0, "calls": 0, "errors": 0}

        def reads(seed):
            addrs = [x.address for x in senders]
            i = seed
            while not stop.is_set():
                calls = []
                for _ in range(25):
                    i += 1
                    who = addrs[i % len(addrs)]
                    calls.append(("eth_getBalance", [who, "latest"]))
                    calls.append(("eth_getProof", [who, ["0x" + f"{i % 7:064x}"], "latest"]))
                    calls.append(("eth_getBlockByNumber", ["latest", True]))
                    calls.append(("eth_call", [{"from": who, "to": addrs[(i + 1) % len(addrs)], "value": "0x1"},
                                               "latest"]))
                try:
                    answers = batch(urls[0], calls)
                    rpc_counts["batches"] += 1
                    rpc_counts["calls"] += len(calls)
                    rpc_counts["errors"] += sum(1 for r in answers if "result" not in r)
                except Exception as e:
                    rpc_counts["errors"] += len(calls)
                    print(f"rpc load: {e}", file=sys.stderr)
                    time.sleep(0.5)

        for n in range(a.rpc_load):
            threading.Thread(target=reads, args=(n * 1000,), daemon=True).start()
        last_counts = {}
        samples = []
        start = time.time()
        end = start + a.minutes * 60
        print("t_s  node  rss_MiB  trie_MiB  memtab_MiB  wal_KiB  wal_records  retained  committed  "
              "late_p99_ms  late_max_ms  rpc_calls")
        while time.time() < end:
            time.sleep(a.every)
            t = round(time.time() - start)
            for k, (p, u, d) in enumerate(zip(procs, urls, datadirs), 1):
                if p.poll() is not None:
                    sys.exit(f"node {k} exited with {p.returncode}; logs in {out}")
                st = rpc(u, "platon_consensusStatus").get("result", {})
                wal = os.path.getsize(os.path.join(d, "consensus", "wal"))
                late = st.get("timerLateness") or {}
                counts_now = late.get("counts") or []
                window = [c - p0 for c, p0 in zip(counts_now, last_counts.get(k, [0] * len(counts_now)))]
                last_counts[k] = counts_now
                s = {"t": t, "node": k, "rss_kib": rss_kib(p.pid), "wal_bytes": wal,
                     "wal_records": st.get("walRecords"), "retained": st.get("retainedEntries"),
                     "committed": st.get("committed"),
                     "late_p99_ms": quantile(window, late.get("bucketsLeMs") or [], 0.99),
                     "late_max_ms": late.get("maxMs"), "late_window": window,
                     "rpc_calls": rpc_counts["calls"] if k == 1 else 0,
                     "memory": memory_parts(admins[k - 1], token) if admins[k - 1] else {}}
                samples.append(s)
                mem = s["memory"]
                print(f"{t:4d}  {k}  {s['rss_kib'] / 1024:8.1f}  {mem.get('trie_node_cache', 0) / 2**20:8.1f}  "
                      f"{mem.get('rocksdb_memtables', 0) / 2**20:10.1f}  {wal / 1024:8.1f}  {s['wal_records']:>11}  "
                      f"{s['retained']:>8}  {s['committed']:>9}  {s['late_p99_ms']:>11}  "
                      f"{s['late_max_ms']:>11}  {s['rpc_calls']:>9}", flush=True)
        stop.set()
        after = [s for s in samples if s["t"] >= a.warmup] or samples
        summary = {"minutes": a.minutes, "rate": a.rate, "rpc_load": a.rpc_load, "binary": binary,
                   **counts, "rpc": rpc_counts, "nodes": []}
        for k in range(1, 5):
            mine = [s for s in after if s["node"] == k]
            total = [sum(col) for col in zip(*[s["late_window"] for s in mine])] if mine[0]["late_window"] else []
            summary["nodes"].append({
                "node": k,
                "rss_mib_first": round(mine[0]["rss_kib"] / 1024, 1),
                "rss_mib_last": round(mine[-1]["rss_kib"] / 1024, 1),
                "rss_mib_max": round(max(s["rss_kib"] for s in mine) / 1024, 1),
                "wal_kib_max": round(max(s["wal_bytes"] for s in mine) / 1024, 1),
                "wal_records_max": max(s["wal_records"] or 0 for s in mine),
                "retained_max": max(s["retained"] or 0 for s in mine),
                "committed": mine[-1]["committed"],
                "timer_late_p50_ms": quantile(total, BOUNDS, 0.5),
                "timer_late_p99_ms": quantile(total, BOUNDS, 0.99),
                "timer_late_max_ms": mine[-1]["late_max_ms"],
                "memory_mib_last": {p: round(v / 2**20, 1) for p, v in mine[-1]["memory"].items()},
            })
        print(json.dumps(summary, indent=2))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if a.keep:
            print(f"network folder: {out}")
        else:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
