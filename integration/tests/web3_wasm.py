"""web3.py against a running node: the SDK's example WASM contracts deployed and used with raw
signed transactions, read with eth_call, estimated with eth_estimateGas, events read back with
eth_getLogs, a refused module and a revert. Prints a JSON summary (gas, outputs, logs, the final
state root) as its last line so that runs on two engines can be compared.

Usage: python3 web3_wasm.py HTTP_URL CONTRACTS_DIR
"""
import json
import os
import sys

from eth_account import Account
from web3 import Web3
from wasm_abi import call_data, deploy_data, rlp_bytes, rlp_decode_bytes, rlp_int

Account.enable_unaudited_hdwallet_features()
MNEMONIC = "test test test test test test test test test test test junk"


def check(cond, what):
    if not cond:
        raise SystemExit(f"CHECK FAILED: {what}")
    print(f"ok - {what}")


def main(http_url, contracts_dir):
    w3 = Web3(Web3.HTTPProvider(http_url))
    # Validator networks put the proposer's VRF proof (100 bytes) in extraData, past the 32 bytes
    # web3.py's default block formatter allows; its proof-of-authority middleware lifts that limit.
    from web3.middleware import ExtraDataToPOAMiddleware
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    alice, bob = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(2)]
    chain_id = w3.eth.chain_id
    summary = []

    def send(acct, data, to=None, value=0, gas=None, expect_ok=True):
        tx = {
            "type": 2,
            "chainId": chain_id,
            "nonce": w3.eth.get_transaction_count(acct.address, "pending"),
            "value": value,
            "data": data,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        if to:
            tx["to"] = to
        est = {k: v for k, v in tx.items() if k in ("to", "value", "data")}
        est["from"] = acct.address
        tx["gas"] = gas if gas else int(w3.eth.estimate_gas(est) * 1.25) + 10_000
        signed = acct.sign_transaction(tx)
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        r = w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05)
        if expect_ok:
            check(r.status == 1, f"transaction {h.hex()[:10]} succeeded")
        summary.append({"gasUsed": r.gasUsed, "status": r.status, "logs": [l["data"].hex() for l in r.logs]})
        return r

    def call(to, data, sender=None):
        out = w3.eth.call({"to": to, "data": data, "from": (sender or alice).address})
        summary.append({"call": out.hex()})
        return out

    def read(name):
        with open(os.path.join(contracts_dir, f"{name}.wasm"), "rb") as f:
            return f.read()

    # The token: deployed with PlatON's envelope and init(supply).
    r = send(alice, deploy_data(read("token"), call_data("init", rlp_int(10**6))))
    token = r.contractAddress
    check(token and w3.eth.get_code(token)[:4] == b"\0asm", "WASM token deployed; eth_getCode shows the module")
    r = send(alice, call_data("transfer", rlp_bytes(bytes.fromhex(bob.address[2:])), rlp_int(250)), to=token)
    transfer_topic = Web3.keccak(text="Transfer(address,address,uint256)")
    check(len(r.logs) == 1 and r.logs[0]["topics"][0] == transfer_topic, "the transfer's event is in the receipt")
    logs = w3.eth.get_logs({"address": token, "fromBlock": 0, "toBlock": "latest", "topics": [Web3.to_hex(transfer_topic)]})
    check(len(logs) == 1 and int.from_bytes(logs[0]["data"], "big") == 250, "eth_getLogs finds the Transfer event")
    check(logs[0]["topics"][2][12:] == bytes.fromhex(bob.address[2:]), "the event's topic names the recipient")
    bal = call(token, call_data("balance_of", rlp_bytes(bytes.fromhex(bob.address[2:]))))
    check(int.from_bytes(rlp_decode_bytes(bal), "big") == 250, "balance_of(bob) through eth_call")
    bal = call(token, call_data("balance_of", rlp_bytes(bytes.fromhex(alice.address[2:]))))
    check(int.from_bytes(rlp_decode_bytes(bal), "big") == 999_750, "balance_of(alice) through eth_call")

    # A revert: eth_call reports the revert data; the transaction fails and changes nothing.
    over = call_data("transfer", rlp_bytes(bytes.fromhex(alice.address[2:])), rlp_int(10**9))
    resp = w3.provider.make_request("eth_call", [{"to": token, "data": "0x" + over.hex(), "from": bob.address}, "latest"])
    err = resp.get("error", {})
    check(err.get("code") == 3 and bytes.fromhex(err.get("data", "0x")[2:]) == b"insufficient balance",
          "eth_call of an overdraft: code 3 with the revert data")
    r = send(bob, over, to=token, gas=200_000, expect_ok=False)
    check(r.status == 0, "the overdraft transaction fails")
    bal = call(token, call_data("balance_of", rlp_bytes(bytes.fromhex(bob.address[2:]))))
    check(int.from_bytes(rlp_decode_bytes(bal), "big") == 250, "the failed transfer changed nothing")

    # The registry: a bare module, events with topics, owners.
    r = send(alice, read("registry"))
    registry = r.contractAddress
    send(alice, call_data("set", rlp_bytes(b"name"), rlp_bytes(b"platon")), to=registry)
    set_topic = Web3.keccak(text="Set(string)")
    logs = w3.eth.get_logs({"address": registry, "fromBlock": 0, "toBlock": "latest",
                            "topics": [Web3.to_hex(set_topic), Web3.to_hex(Web3.keccak(text="name"))]})
    check(len(logs) == 1 and logs[0]["data"] == b"platon", "eth_getLogs filters the registry's event by topic")
    got = call(registry, call_data("get", rlp_bytes(b"name")))
    check(rlp_decode_bytes(got) == b"platon", "registry get through eth_call")
    steal = call_data("set", rlp_bytes(b"name"), rlp_bytes(b"mine"))
    resp = w3.provider.make_request("eth_call", [{"to": registry, "data": "0x" + steal.hex(), "from": bob.address}, "latest"])
    check(bytes.fromhex(resp.get("error", {}).get("data", "0x")[2:]) == b"not the owner", "only the owner may set")

    # A WASM contract that calls an EVM contract: the EVM contract stores its call data word and
    # returns its caller. Its runtime code is deployed by a plain EVM creation.
    runtime = bytes([0x5F, 0x35, 0x5F, 0x55, 0x33, 0x5F, 0x52, 0x60, 0x20, 0x5F, 0xF3])
    init = bytes([0x60, len(runtime), 0x60, 0x0C, 0x5F, 0x39, 0x60, len(runtime), 0x5F, 0xF3, 0x00, 0x00]) + runtime
    r = send(alice, init)
    evm = r.contractAddress
    r = send(alice, read("evm_caller"), value=1000)
    caller = r.contractAddress
    word = (0x2A).to_bytes(32, "big")
    data = call_data("call_evm", rlp_bytes(bytes.fromhex(evm[2:])), rlp_bytes(word), rlp_int(5))
    send(alice, data, to=caller)
    check(int.from_bytes(w3.eth.get_storage_at(evm, 0), "big") == 0x2A, "the WASM contract's call wrote the EVM contract's storage")
    check(w3.eth.get_balance(evm) == 5, "and sent it 5 wei")
    out = call(caller, data)
    check(rlp_decode_bytes(out)[12:] == bytes.fromhex(caller[2:]), "the EVM callee saw the WASM contract as its caller")

    # A refused module: the deploy fails with the reason as revert data; eth_call shows it.
    floaty = bytes.fromhex("0061736d010000000105016000017d030201000a09010700430000c03f0b")
    resp = w3.provider.make_request("eth_call", [{"data": "0x" + floaty.hex(), "from": alice.address}, "latest"])
    reason = bytes.fromhex(resp.get("error", {}).get("data", "0x")[2:])
    check(b"invalid wasm module" in reason, f"a float module is refused: {reason!r}")
    r = send(alice, floaty, gas=3_000_000, expect_ok=False)
    check(r.status == 0 and not r.contractAddress, "its deploy transaction fails")

    block = w3.eth.get_block("latest")
    summary.append({"stateRoot": block.stateRoot.hex(), "number": block.number})
    print("ALL CHECKS PASSED")
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
