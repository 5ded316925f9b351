#!/usr/bin/env python3
"""CBFT benchmark: four validators from `platon localnet init` on loopback, signed transfers offered
at rising rates; sustained transactions per second and commit latency (p50, p99) from submission to
finality, then the same cluster with empty blocks for the consensus-only ceiling. The baseline, in the
same run, is a single `--dev` node (one producer, no consensus) under the same offered load; each
row reports ours / baseline.

Usage: scripts/bench-cbft.py [--rates 50,100,200] [--seconds 10] [--platon PATH]
"""
import argparse, json, os, signal, subprocess, sys, tempfile, threading, time, urllib.request

from eth_account import Account

MNEMONIC_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
]
TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def rpc(url, method, params=()):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        out = json.load(r)
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


def wait_rpc(url, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            return rpc(url, "eth_chainId")
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


class Watcher(threading.Thread):
    """Polls committed blocks on one node and records when each transaction first appears."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.seen, self.blocks, self.stop = url, {}, [], False
        self.next = int(rpc(url, "eth_blockNumber"), 16) + 1

    def run(self):
        while not self.stop:
            try:
                head = int(rpc(self.url, "eth_blockNumber"), 16)
                while self.next <= head:
                    b = rpc(self.url, "eth_getBlockByNumber", [hex(self.next), False])
                    now = time.time()
                    self.blocks.append((now, len(b["transactions"])))
                    for h in b["transactions"]:
                        self.seen.setdefault(h.lower(), now)
                    self.next += 1
            except Exception:
                pass
            time.sleep(0.02)


def offer(urls, chain_id, rate, seconds, nonces):
    """Sends `rate` transfers per second for `seconds`, round-robin over the nodes; returns
    {hash: submit time}."""
    accounts = [Account.from_key(k) for k in MNEMONIC_KEYS]
    sent, total = {}, int(rate * seconds)
    start = time.time()
    for i in range(total):
        target = start + i / rate
        delay = target - time.time()
        if delay > 0:
            time.sleep(delay)
        acct = accounts[i % len(accounts)]
        n = nonces[acct.address]
        tx = acct.sign_transaction({"to": TO, "value": 1, "gas": 21000, "maxFeePerGas": 50 * 10**9,
                                    "maxPriorityFeePerGas": 10**9, "nonce": n, "chainId": chain_id, "type": 2})
        raw = "0x" + tx.raw_transaction.hex().removeprefix("0x")
        try:
            h = rpc(urls[i % len(urls)], "eth_sendRawTransaction", [raw])
            nonces[acct.address] = n + 1
            sent[h.lower()] = time.time()
        except Exception as e:  # a full pool is a measured outcome, not a crash
            print(f"    send refused: {e}", file=sys.stderr)
    return sent


def measure(urls, chain_id, rate, seconds, watcher, nonces):
    sent = offer(urls, chain_id, rate, seconds, nonces)
    deadline = time.time() + 30
    while time.time() < deadline and not all(h in watcher.seen for h in sent):
        time.sleep(0.1)
    lat = sorted(watcher.seen[h] - t for h, t in sent.items() if h in watcher.seen)
    final = len(lat)
    if not lat:
        return 0.0, float("nan"), float("nan"), 0
    span = max(watcher.seen[h] for h in sent if h in watcher.seen) - min(sent.values())
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return final / max(span, 1e-9), p(0.5), p(0.99), final


def nonces_of(url):
    return {Account.from_key(k).address: int(rpc(url, "eth_getTransactionCount", [Account.from_key(k).address, "pending"]), 16) for k in MNEMONIC_KEYS}


def empty_rate(watcher, seconds):
    start, before = time.time(), len(watcher.blocks)
    time.sleep(seconds)
    return (len(watcher.blocks) - before) / (time.time() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="50,100,200")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--platon", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/platon-target")), "debug", "platon"))
    ap.add_argument("--amount", type=int, default=10)
    ap.add_argument("--period-ms", type=int, default=2000)
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench-cbft-")
    procs = []
    try:
        subprocess.run([args.platon, "localnet", "init", "--nodes", "4", "--validators", "4", "--subnet", "77",
                        "--amount", str(args.amount), "--period-ms", str(args.period_ms), "--out", f"{tmp}/net"],
                       check=True, stdout=subprocess.DEVNULL)
        net = json.load(open(f"{tmp}/net/localnet.json"))
        for n in net["nodes"]:
            procs.append(subprocess.Popen([args.platon, "run", "--config", n["config"], "--log", "warn"],
                                          stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/{n['name']}.log", "w")))
        dev_port = 18545
        procs.append(subprocess.Popen([args.platon, "run", "--dev", "--http.port", str(dev_port), "--admin.enabled", "false", "--log", "warn"],
                                      stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/dev.log", "w")))
        urls = [n["rpc"] for n in net["nodes"]]
        dev = f"http://127.0.0.1:{dev_port}"
        for u in urls + [dev]:
            wait_rpc(u)
        while int(rpc(urls[0], "eth_blockNumber"), 16) < 3:
            time.sleep(0.2)
        chain_id = net["chainId"]
        w, wd = Watcher(urls[0]), Watcher(dev)
        w.start(); wd.start()
        ceiling = empty_rate(w, args.seconds)
        print(f"machine: {os.cpu_count()} cores; 4 validators on loopback, amount {args.amount}, period {args.period_ms} ms "
              f"(target {1000 * args.amount / args.period_ms:.1f} blocks/s)")
        print(f"empty blocks: {ceiling:.2f} committed blocks/s (consensus-only ceiling at this period)")
        print("| offered tx/s | CBFT tx/s | p50 s | p99 s | --dev tx/s | p50 s | p99 s | tx/s ratio |")
        print("|---|---|---|---|---|---|---|---|")
        n_cbft, n_dev = nonces_of(urls[0]), nonces_of(dev)
        for r in rates:
            tps, p50, p99, _ = measure(urls, chain_id, r, args.seconds, w, n_cbft)
            dtps, dp50, dp99, _ = measure([dev], 1337, r, args.seconds, wd, n_dev)
            print(f"| {r:.0f} | {tps:.1f} | {p50:.2f} | {p99:.2f} | {dtps:.1f} | {dp50:.2f} | {dp99:.2f} | {tps / dtps if dtps else float('nan'):.2f} |")
        w.stop = wd.stop = True
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()


if __name__ == "__main__":
    main()
