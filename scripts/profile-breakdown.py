#!/usr/bin/env python3
"""Where a transaction's CPU goes: bins a `perf record` profile (self time per symbol) of one or more
`platon` processes into the node's cost centres, and divides the CPU time by the transactions the
run committed. `scripts/bench-load.py --profile DIR` records the profiles and calls this.

    scripts/profile-breakdown.py --freq 499 --txs 12345 DIR/cbft-1000.data

The bins are matched on symbol names, first match wins; what matches none is "other". Self time
only (no call graphs: the release build has no frame pointers), so a bin holds the time spent in
that code itself, not in what it calls.
"""
import argparse
import re
import subprocess
import sys

BINS = [
    ("sender recovery (secp256k1)", r"secp256k1"),
    ("BLS (blst)", r"blst|POINTon|_384|_383|mont_256|ct_inverse|miller_loop|final_exp|mul_mont_n|redc_mont|sgn0|sqrt_fp|is_square"),
    ("overlay signatures and TLS (ed25519, rustls, aws-lc/ring)", r"ed25519|curve25519|x25519|rustls|aws_lc|ring_core|chacha|aes_|aesni|gcm|ghash|poly1305|sha512|^ge_|^fe_|^x25519|^slide$|^sc_|ring::"),
    ("keccak", r"keccak|Keccak"),
    ("EVM (revm)", r"revm"),
    ("trie and state", r"platon_storage::(trie|state)|alloy_trie|nybbles"),
    ("RocksDB", r"rocksdb|leveldb|snappy|LZ4|lz4"),
    ("RLP and transaction decoding", r"rlp|platon_messages"),
    ("JSON-RPC and JSON", r"serde_json|jsonrpsee|hyper|http::|serde::"),
    ("async runtime and actors", r"tokio|ractor|futures|parking_lot|crossbeam|mio::"),
    ("memory (malloc, copies)", r"malloc|free|memcpy|memmove|memset|realloc|_int_|alloc::|__libc_calloc|memcmp"),
    ("hashing maps", r"hashbrown|SipHash|siphash|ahash|foldhash"),
    ("kernel: network", r"tcp_|ip_|skb|sock|net_|__sys_sendto|__sys_recvfrom|inet_|loopback|__dev_queue|netif|napi|epoll"),
    ("kernel: page faults (zeroing new memory)", r"clear_page|page_fault|do_anonymous_page|handle_mm_fault|__handle_mm|do_user_addr_fault|exc_page_fault"),
    ("kernel: disk and fsync", r"ext4|jbd2|blk_|nvme|virtio_blk|fsync|filemap|iomap|writeback|bio_"),
    ("kernel: context switches and wake-ups", r"finish_task_switch|_raw_spin_unlock|schedule|futex|try_to_wake_up|irqentry|handle_softirqs|iowrite16|__x64_sys|syscall|do_idle|native_"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="+")
    ap.add_argument("--freq", type=float, default=499.0)
    ap.add_argument("--txs", type=float, default=0.0, help="transactions committed in the profiled window")
    ap.add_argument("--pids", default=None, help="comma-separated: only these processes")
    args = ap.parse_args()
    totals = {name: 0 for name, _ in BINS}
    totals["other"] = 0
    totals["kernel: other"] = 0
    unmatched = {}
    samples = 0
    for path in args.data:
        out = subprocess.run(
            ["perf", "report", "-i", path, "--stdio", "--no-children", "--sort", "sym", "-F", "sample,sym",
             "--percent-limit", "0"] + (["--pid", args.pids] if args.pids else []),
            capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"perf report {path}: {out.stderr.strip()}")
        for line in out.stdout.splitlines():
            m = re.match(r"\s*(\d+)\s+(\[[k.]\])\s+(.*)$", line)
            if not m:
                continue
            n, kind, sym = int(m.group(1)), m.group(2), m.group(3).strip()
            samples += n
            label = f"{kind} {sym}"
            for name, pat in BINS:
                if re.search(pat, sym if not pat.startswith("^") else label):
                    totals[name] += n
                    break
            else:
                if kind == "[k]":
                    totals["kernel: other"] += n
                else:
                    totals["other"] += n
                    unmatched[sym] = unmatched.get(sym, 0) + n
    cpu_s = samples / args.freq
    per_tx = cpu_s / args.txs * 1e6 if args.txs else None
    rows = sorted(((v, k) for k, v in totals.items() if v), reverse=True)
    print(f"{samples} samples = {cpu_s:.1f} CPU s" + (f"; {per_tx:.0f} CPU µs per committed transaction" if per_tx else ""))
    print("| where | share | µs per tx |")
    print("|---|---|---|")
    for v, k in rows:
        share = v / samples * 100 if samples else 0
        us = f"{per_tx * v / samples:.0f}" if per_tx else ""
        print(f"| {k} | {share:.1f} % | {us} |")
    top = sorted(((v, k) for k, v in unmatched.items()), reverse=True)[:12]
    if top:
        print("\ntop of 'other':")
        for v, k in top:
            print(f"  {v / samples * 100:5.1f} %  {k[:110]}")


if __name__ == "__main__":
    main()
