"""web3.py against a network with computing nodes: the VC contract deployed with the keys of
`platon vc setup`, `compute` called with a fee, the computing nodes' vc_pool proving it and its
`set_result` landing; the result read back and checked against an independent MiMC in Python.
Then the rejections, each a transaction that must fail and pay nothing: a forged proof, a wrong
result with a valid-looking proof, a proof replayed for another task and a second answer. Finally
the pool's proof goes to snarkjs and a Solidity verifier (js/vc.mjs).

Usage: python3 web3_vc.py CASE_JSON
  CASE_JSON: {mode: "full" | "open" | "answered", rpc, pools: [rpc], contracts, platon, work,
              setup: <platon vc setup output>, offline: <platon vc setup output>, keys: the pools'
              vc.keys_dir, contract?, task?}
"""
import json
import os
import subprocess
import sys
import time

from eth_account import Account
from web3 import Web3
from wasm_abi import call_data, deploy_data, rlp_bytes, rlp_decode_bytes, rlp_int

Account.enable_unaudited_hdwallet_features()
MNEMONIC = "test test test test test test test test test test test junk"
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
FEE = 10**15


def check(cond, what):
    if not cond:
        raise SystemExit(f"CHECK FAILED: {what}")
    print(f"ok - {what}", flush=True)


def mimc_chain(x, rounds):
    """The mimc5-chain model, written again from its definition: x <- (x + c_i)^5 mod r with
    c_0 = 0 and c_i = keccak256("platon-vc-mimc5" || i as 8 bytes) mod r."""
    for i in range(rounds):
        c = 0 if i == 0 else int.from_bytes(Web3.keccak(b"platon-vc-mimc5" + i.to_bytes(8, "big")), "big") % R
        x = pow((x + c) % R, 5, R)
    return x


def word(x):
    return x.to_bytes(32, "big")


class Chain:
    def __init__(self, url):
        from web3.middleware import ExtraDataToPOAMiddleware

        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        self.chain_id = self.w3.eth.chain_id

    def send(self, acct, data, to=None, value=0, gas=None):
        w3 = self.w3
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": w3.eth.get_transaction_count(acct.address, "pending"),
            "value": value,
            "data": data,
            "maxFeePerGas": 3 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        if to:
            tx["to"] = to
        if gas is None:
            est = {k: v for k, v in tx.items() if k in ("to", "value", "data")}
            est["from"] = acct.address
            gas = int(w3.eth.estimate_gas(est) * 1.25) + 10_000
        tx["gas"] = gas
        h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        return w3.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.1)

    def call(self, to, data):
        return self.w3.eth.call({"to": to, "data": data})

    def task(self, contract, task):
        """The contract's record of a task: (status, requester, solver, fee, due, input, result)."""
        b = rlp_decode_bytes(self.call(contract, call_data("task", rlp_bytes(task))))
        if not b:
            return None
        n = int.from_bytes(b[65:69], "big")
        return {
            "status": b[0],
            "requester": "0x" + b[1:21].hex(),
            "solver": Web3.to_checksum_address(b[21:41]),
            "fee": int.from_bytes(b[41:57], "big"),
            "due": int.from_bytes(b[57:65], "big"),
            "input": b[69 : 69 + n],
            "result": b[69 + n :],
        }

    def rpc(self, method, params=None):
        r = self.w3.provider.make_request(method, params or [])
        if "error" in r:
            raise SystemExit(f"{method}: {r['error']}")
        return r["result"]


def deploy(chain, acct, contracts_dir, setup, deadline):
    with open(os.path.join(contracts_dir, "vc.wasm"), "rb") as f:
        module = f.read()
    init = call_data(
        "init",
        rlp_bytes(setup["model"].encode()),
        rlp_bytes(bytes.fromhex(setup["vk"][2:])),
        rlp_bytes(bytes.fromhex(setup["pkHash"][2:])),
        rlp_int(setup["inputWords"]),
        rlp_int(deadline),
    )
    r = chain.send(acct, deploy_data(module, init))
    check(r.status == 1 and r.contractAddress, f"the VC contract ({setup['model']}) is deployed")
    return r.contractAddress


def compute(chain, acct, contract, x):
    r = chain.send(acct, call_data("compute", rlp_bytes(word(x))), to=contract, value=FEE)
    check(r.status == 1, f"compute({x}) with a fee of {FEE} wei")
    topic = Web3.keccak(text="VcCompute(bytes32,address,uint256)")
    logs = [l for l in r.logs if l["topics"][0] == topic]
    check(len(logs) == 1, "compute emits VcCompute")
    return bytes(logs[0]["topics"][1])


def wait_answered(chain, contract, task, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = chain.task(contract, task)
        if t and t["status"] == 2:
            return t
        time.sleep(0.2)
    raise SystemExit(f"CHECK FAILED: task 0x{task.hex()} was not answered in {timeout} s")


def platon(case, *args):
    out = subprocess.run([case["platon"], *args], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"platon {' '.join(args[:2])} failed: {out.stderr}")
    return json.loads(out.stdout)


def rounds_of(model):
    return int(model.split(":")[1])


def full(case):
    chain = Chain(case["rpc"])
    w3 = chain.w3
    alice, bob, carol = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in (0, 1, 3)]
    setup = case["setup"]
    rounds = rounds_of(setup["model"])

    # 1. Deploy, compute, and a computing node answers.
    vc = deploy(chain, alice, case["contracts"], setup, 1000)
    x = 123456789
    task = compute(chain, bob, vc, x)
    check(w3.eth.get_balance(vc) == FEE, "the fee is escrowed in the contract")
    t = wait_answered(chain, vc, task)
    want = word(mimc_chain(x, rounds))
    check(t["result"] == want, "the computing node's result equals MiMC computed independently in Python")
    pools = [Chain(u) for u in case["pools"]]
    accounts = [p.rpc("platon_vcTasks")["account"] for p in pools]
    check(t["solver"].lower() in [a.lower() for a in accounts], "the solver is a computing node's account")
    check(w3.eth.get_balance(vc) == 0, "the fee was paid out of the escrow")
    logs = w3.eth.get_logs({"address": vc, "fromBlock": 0, "toBlock": "latest",
                            "topics": [Web3.to_hex(Web3.keccak(text="VcResult(bytes32,address)"))]})
    check(len(logs) == 1 and bytes(logs[0]["data"]) == want, "eth_getLogs finds one VcResult with the result")

    # Each computing node lists it: answered by the winner, dropped by the others.
    states = {}
    proof = None
    for p in pools:
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = p.rpc("platon_vcTasks")
            mine = [e for e in listed["tasks"] if e["task"] == "0x" + task.hex()]
            if mine and mine[0]["state"] in ("answered", "answered by another node"):
                break
            time.sleep(0.2)
        check(mine, f"{listed['account']} lists the task")
        states[listed["account"].lower()] = mine[0]["state"]
        if mine[0]["state"] == "answered":
            proof = bytes.fromhex(mine[0]["proof"][2:])
    check(states.get(t["solver"].lower()) == "answered", "the winner lists the task as answered, with its proof")
    check(all(s == "answered by another node" for a, s in states.items() if a != t["solver"].lower()),
          "every other computing node dropped it as answered by another node")
    check(proof is not None and len(proof) == 256, "the winner's proof is 256 bytes")

    # 2. Rejections, on a contract whose proving key no computing node has: nobody else answers.
    off = case["offline"]
    vc2 = deploy(chain, alice, case["contracts"], off, 1000)
    t_a = compute(chain, bob, vc2, 7)
    t_b = compute(chain, bob, vc2, 7)
    for p in pools:
        deadline = time.time() + 60
        while time.time() < deadline:
            mine = [e for e in p.rpc("platon_vcTasks")["tasks"] if e["task"] == "0x" + t_a.hex()]
            if mine and mine[0]["state"] == "skipped":
                break
            time.sleep(0.2)
        check(mine and "no proving key" in mine[0].get("reason", ""),
              "a computing node without the model's proving key skips the task and says why")
    off_rounds = rounds_of(off["model"])
    proved = platon(case, "vc", "prove", "--model", off["model"], "--pk", off["pkFile"],
                    "--task", "0x" + t_a.hex(), "--input", "0x" + word(7).hex())
    result = bytes.fromhex(proved["result"][2:])
    good = bytes.fromhex(proved["proof"][2:])
    check(result == word(mimc_chain(7, off_rounds)), "platon vc prove (real_compute) gives the same result as Python")

    def refused(what, task, result, proof, reason, contract=None):
        contract = contract or vc2
        before = w3.eth.get_balance(carol.address)
        escrow = w3.eth.get_balance(contract)
        data = call_data("set_result", rlp_bytes(task), rlp_bytes(result), rlp_bytes(proof))
        resp = w3.provider.make_request("eth_call", [{"to": contract, "data": "0x" + data.hex(), "from": carol.address}, "latest"])
        got = bytes.fromhex(resp.get("error", {}).get("data", "0x")[2:])
        check(reason in got, f"{what}: eth_call reverts with {got!r}")
        r = chain.send(carol, data, to=contract, gas=600_000)
        spent = r.gasUsed * r.effectiveGasPrice
        check(r.status == 0, f"{what}: the transaction fails")
        check(w3.eth.get_balance(contract) == escrow and w3.eth.get_balance(carol.address) == before - spent,
              f"{what}: no payout (the escrow is intact, the sender only paid gas)")

    forged = bytes(os.urandom(256))
    refused("a forged proof (random bytes)", t_a, result, forged, b"malformed")
    # A point that is on the curve but not the proof: A replaced by C.
    swapped = good[192:256] + good[64:256]
    refused("a forged proof (valid points)", t_a, result, swapped, b"does not verify")
    wrong = word((int.from_bytes(result, "big") + 1) % R)
    refused("a wrong result with a valid-looking proof", t_a, wrong, good, b"does not verify")
    refused("a proof replayed for another task with the same input", t_b, result, good, b"does not verify")
    r = chain.send(carol, call_data("set_result", rlp_bytes(t_a), rlp_bytes(result), rlp_bytes(good)), to=vc2, gas=600_000)
    check(r.status == 1, "the right proof for the right task is accepted")
    check(chain.task(vc2, t_a)["status"] == 2 and w3.eth.get_balance(vc2) == FEE, "it paid exactly one fee")
    refused("a second answer to an answered task", t_a, result, good, b"already answered")
    refused("the computing node's proof sent again", task, want, proof, b"already answered", vc)

    # 3. The pool's proof checked by snarkjs and a Solidity verifier on this node's EVM.
    public = ["0x" + task.hex(), "0x" + word(x).hex(), "0x" + want.hex()]
    # Tampered with a valid point (a flipped bit is almost never on the curve): -A for A.
    ay = (21888242871839275222246405745257275088696311157297823662689037894645226208583 - int.from_bytes(proof[32:64], "big"))
    tampered = proof[:32] + ay.to_bytes(32, "big") + proof[64:]
    vk = setup["vk"]
    sj = platon(case, "vc", "snarkjs", "--vk", vk, "--proof", "0x" + proof.hex(), "--public", ",".join(public))
    sj_bad = platon(case, "vc", "snarkjs", "--vk", vk, "--proof", "0x" + tampered.hex())
    check(rlp_decode_bytes(chain.call(vc, call_data("vk"))) == bytes.fromhex(vk[2:]), "the contract stores the verifying key given at deploy")
    path = os.path.join(case["work"], "vc_case.json")
    with open(path, "w") as f:
        json.dump({"vk": vk, "proof": "0x" + proof.hex(), "tampered": "0x" + tampered.hex(), "public": public,
                   "snarkjs": sj, "snarkjsTampered": sj_bad["proof"]}, f)
    js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js", "vc.mjs")
    out = subprocess.run(["node", js, case["rpc"], path], capture_output=True, text=True, timeout=300)
    print(out.stdout, flush=True)
    check(out.returncode == 0 and "ALL CHECKS PASSED" in out.stdout, f"snarkjs and the Solidity verifier agree: {out.stderr}")

    # 4. The operator adds the second model's proving key: the pools take up its open task and a
    # new one, without a restart.
    import shutil
    shutil.copy(off["pkFile"], case["keys"])
    t_c = compute(chain, bob, vc2, 11)
    check(wait_answered(chain, vc2, t_c)["result"] == word(mimc_chain(11, off_rounds)),
          "a task of a model whose key was added later is answered")
    check(wait_answered(chain, vc2, t_b)["result"] == word(mimc_chain(7, off_rounds)),
          "and the task skipped for want of its key is answered too")
    print("ALL CHECKS PASSED")


def open_task(case):
    chain = Chain(case["rpc"])
    alice, bob = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in (0, 1)]
    vc = deploy(chain, alice, case["contracts"], case["setup"], 1000)
    task = compute(chain, bob, vc, 99)
    print(json.dumps({"contract": vc, "task": "0x" + task.hex()}))


def answered(case):
    chain = Chain(case["rpc"])
    task = bytes.fromhex(case["task"][2:])
    t = wait_answered(chain, case["contract"], task)
    check(t["result"] == word(mimc_chain(99, rounds_of(case["setup"]["model"]))), "the resumed task's result is right")
    print("ALL CHECKS PASSED")


def hostile(case):
    """A contract that only imitates the VC events (an EVM contract emitting VcCompute with no
    getters behind it): the pool lists the task as skipped with the reason and goes on."""
    chain = Chain(case["rpc"])
    alice = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/4")
    topic = Web3.keccak(text="VcCompute(bytes32,address,uint256)")
    fake = bytes([0x1F]) + bytes(31)
    requester = bytes(12) + bytes.fromhex(alice.address[2:])
    # LOG3(0, 64, topic, fake, requester); STOP
    runtime = b"\x7f" + requester + b"\x7f" + fake + b"\x7f" + bytes(topic) + bytes([0x60, 0x40, 0x5F, 0xA3, 0x00])
    init = bytes([0x60, len(runtime), 0x80, 0x60, 9, 0x5F, 0x39, 0x5F, 0xF3]) + runtime
    r = chain.send(alice, init)
    check(r.status == 1 and r.contractAddress, "an EVM contract imitating a VC contract is deployed")
    r = chain.send(alice, b"", to=r.contractAddress, gas=100_000)
    check(r.status == 1 and len(r.logs) == 1 and r.logs[0]["topics"][0] == topic, "it emits a VcCompute event")
    deadline = time.time() + 60
    mine = []
    while time.time() < deadline:
        mine = [e for e in chain.rpc("platon_vcTasks")["tasks"] if e["task"] == "0x" + fake.hex()]
        if mine and mine[0]["state"] == "skipped":
            break
        time.sleep(0.2)
    check(mine and mine[0]["state"] == "skipped" and mine[0].get("reason"),
          f"the pool skips the imitation's task and says why: {mine}")
    check(chain.w3.eth.block_number > 0 and chain.rpc("platon_accelerator")["backend"], "the node goes on")
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        case = json.load(f)
    {"full": full, "open": open_task, "answered": answered, "hostile": hostile}[case["mode"]](case)
