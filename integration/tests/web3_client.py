"""Drives a `platon run --dev` node with web3.py and eth-account exactly as a user would.

Usage: python3 web3_client.py http://127.0.0.1:6789
Exits non-zero on the first failed check.
"""
import json
import sys

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

URL = sys.argv[1]
w3 = Web3(Web3.HTTPProvider(URL, request_kwargs={"timeout": 30}))
KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ACCT = Account.from_key(KEY0)
RECIPIENT = "0x000000000000000000000000000000000000bEEF"


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def expect_error(fn, needle, what):
    try:
        fn()
    except Exception as e:  # web3 raises Web3RPCError (v7) or ValueError (v6)
        msg = str(e)
        check(needle in msg, f"{what}: error mentions {needle!r} ({msg[:120]})")
        return
    check(False, f"{what}: an error was expected")


check(w3.is_connected(), "connected")
check(w3.eth.chain_id == 1337, "chain id 1337")
accounts = w3.eth.accounts
check(len(accounts) == 10 and accounts[0] == ACCT.address, "ten dev accounts, first is the printed key's")
check(w3.eth.get_balance(ACCT.address) > 0, "funded")


def send_and_check(tx, label):
    sender_before = w3.eth.get_balance(ACCT.address)
    rec_before = w3.eth.get_balance(RECIPIENT)
    nonce_before = w3.eth.get_transaction_count(ACCT.address)
    signed = ACCT.sign_transaction(tx)
    raw = getattr(signed, "raw_transaction", None) or signed.rawTransaction
    h = w3.eth.send_raw_transaction(raw)
    r = w3.eth.wait_for_transaction_receipt(h, timeout=30)
    check(r["status"] == 1, f"{label}: receipt status 1")
    block = w3.eth.get_block(r["blockNumber"], full_transactions=True)
    base = block["baseFeePerGas"]
    if tx.get("type") == 2:
        expected_price = min(tx["maxFeePerGas"], base + tx["maxPriorityFeePerGas"])
    else:
        expected_price = tx["gasPrice"]
    check(r["gasUsed"] == 21000, f"{label}: gas used 21000")
    check(r["effectiveGasPrice"] == expected_price, f"{label}: effective gas price {expected_price}")
    fee = r["gasUsed"] * r["effectiveGasPrice"]
    check(w3.eth.get_balance(ACCT.address) == sender_before - tx["value"] - fee, f"{label}: sender paid value + fee exactly")
    check(w3.eth.get_balance(RECIPIENT) == rec_before + tx["value"], f"{label}: recipient got value exactly")
    check(w3.eth.get_transaction_count(ACCT.address) == nonce_before + 1, f"{label}: nonce advanced")
    check(any(t["hash"] == h for t in block["transactions"]), f"{label}: block holds the transaction")
    by_hash = w3.eth.get_block(block["hash"])
    check(by_hash["number"] == block["number"] and h in by_hash["transactions"], f"{label}: block by hash agrees")
    check(w3.eth.get_block_transaction_count(block["number"]) == len(block["transactions"]), f"{label}: tx count by number")
    got = w3.eth.get_transaction(h)
    check(got["from"] == ACCT.address and got["value"] == tx["value"] and got["blockNumber"] == r["blockNumber"], f"{label}: transaction by hash")
    miner_tip = (r["effectiveGasPrice"] - base) * r["gasUsed"]
    return block, miner_tip


latest = w3.eth.get_block("latest")
tip = w3.eth.max_priority_fee
check(tip > 0, "max priority fee suggested")
nonce = w3.eth.get_transaction_count(ACCT.address)
tx2 = {
    "type": 2, "chainId": 1337, "nonce": nonce, "to": RECIPIENT, "value": 12345,
    "gas": 21000, "maxPriorityFeePerGas": 2 * 10**9, "maxFeePerGas": latest["baseFeePerGas"] * 2 + 2 * 10**9,
}
block, miner_tip = send_and_check(tx2, "type-2 transfer")
coinbase = block["miner"]
check(miner_tip >= 0, "tip is non-negative")

tx0 = {"chainId": 1337, "nonce": nonce + 1, "to": RECIPIENT, "value": 777, "gas": 21000, "gasPrice": w3.eth.gas_price}
cb_before = w3.eth.get_balance(coinbase, block_identifier=block["number"])
block0, tip0 = send_and_check(tx0, "type-0 transfer")
check(w3.eth.get_balance(coinbase, block_identifier=block0["number"]) - w3.eth.get_balance(coinbase, block_identifier=block0["number"] - 1) == tip0, "coinbase earned exactly the tip")

# eth_sendTransaction with a dev account: web3.py fills nonce, gas and fees itself.
before = w3.eth.get_balance(RECIPIENT)
h = w3.eth.send_transaction({"from": accounts[1], "to": RECIPIENT, "value": 5})
r = w3.eth.wait_for_transaction_receipt(h, timeout=30)
check(r["status"] == 1 and w3.eth.get_balance(RECIPIENT) == before + 5, "eth_sendTransaction from a dev account")
check(w3.eth.estimate_gas({"from": accounts[1], "to": RECIPIENT, "value": 1}) == 21000, "estimateGas of a transfer")
check(w3.eth.estimate_gas({"from": accounts[1], "to": RECIPIENT, "value": 1, "data": "0x0001"}) == 21000 + 4 + 16, "estimateGas counts calldata")

sig = w3.eth.sign(accounts[2], text="hello platon")
check(Account.recover_message(encode_defunct(text="hello platon"), signature=sig) == accounts[2], "eth_sign recovers to the signer")

fh = w3.eth.fee_history(3, "latest", [50])
check(len(fh["baseFeePerGas"]) == len(fh["gasUsedRatio"]) + 1 and len(fh["reward"]) == len(fh["gasUsedRatio"]), "feeHistory shape")
check(w3.eth.get_block("earliest")["number"] == 0 and w3.eth.get_block("finalized")["number"] == w3.eth.block_number, "block tags")
check(w3.eth.syncing is False, "not syncing")

# Bad input: errors, and the node keeps serving.
expect_error(lambda: w3.eth.send_raw_transaction(b"\x01\x02garbage"), "rlp", "garbage bytes")
wrong_chain = dict(tx2, chainId=1, nonce=w3.eth.get_transaction_count(ACCT.address))
expect_error(lambda: w3.eth.send_raw_transaction(ACCT.sign_transaction(wrong_chain).raw_transaction), "invalid chain id", "wrong chain id")
poor = Account.create()
unfunded = dict(tx2, nonce=0)
expect_error(lambda: w3.eth.send_raw_transaction(poor.sign_transaction(unfunded).raw_transaction), "insufficient funds", "unfunded sender")
low = dict(tx2, nonce=0)
expect_error(lambda: w3.eth.send_raw_transaction(ACCT.sign_transaction(low).raw_transaction), "nonce too low", "low nonce")
resp = requests.post(URL, data='{"jsonrpc": "2.0", "method": ', headers={"Content-Type": "application/json"}, timeout=10)
check(resp.json()["error"]["code"] == -32700, "malformed JSON gives -32700")
resp = requests.post(URL, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["nope"]}), headers={"Content-Type": "application/json"}, timeout=10)
check(resp.json()["error"]["code"] == -32602, "bad params give -32602")
check(w3.eth.block_number >= 3 and w3.is_connected(), "node still serving")
# EIP-1186 proofs, checked by an independent verifier (py-trie), including a proof of absence.
import rlp
from trie import HexaryTrie

state_root = w3.eth.get_block("latest")["stateRoot"]
absent = "0x00000000000000000000000000000000DeaDBeef"
for addr in [ACCT.address, RECIPIENT, absent]:
    p = w3.eth.get_proof(addr, [0, 1], "latest")
    nodes = [rlp.decode(bytes(n)) for n in p["accountProof"]]
    got = HexaryTrie.get_from_proof(bytes(state_root), bytes(Web3.keccak(hexstr=addr)), nodes)
    if addr == absent:
        check(got == b"" and p["balance"] == 0 and p["nonce"] == 0, "proof of absence verifies")
        continue
    nonce, balance, storage_root, code_hash = rlp.decode(got)
    check(int.from_bytes(balance, "big") == p["balance"] == w3.eth.get_balance(addr), f"account proof of {addr[:10]} verifies its balance")
    check(int.from_bytes(nonce, "big") == p["nonce"] == w3.eth.get_transaction_count(addr), f"account proof of {addr[:10]} verifies its nonce")
    check(storage_root == bytes(p["storageHash"]) and code_hash == bytes(p["codeHash"]), f"account proof of {addr[:10]} verifies roots")
    check(all(int.from_bytes(bytes(sp["value"]), "big") == 0 and len(sp["proof"]) == 0 for sp in p["storageProof"]), "empty storage: zero values, empty proofs")
check(w3.eth.get_storage_at(RECIPIENT, 0) == b"\x00" * 32, "eth_getStorageAt of an account without storage")
check(w3.eth.get_code(RECIPIENT) == b"", "eth_getCode of an account without code")
print("ALL CHECKS PASSED")
