#!/usr/bin/env python3
"""Staking from a script with web3.py: delegate to a candidate, read the delegation back, and
withdraw accrued delegation rewards. The staking contract takes PlatON's call encoding: an RLP list
whose first item is the function code and whose other items are the arguments, each item a byte
string holding the RLP encoding of the value.

Usage: scripts/staking-example.py --rpc http://127.0.0.1:6789 --key 0x<secret> \
           --node-id 0x<32 hex digits> --amount 20
Prints the delegation as the node reports it (JSON).
"""
import argparse, json, sys

import rlp
from eth_account import Account
from web3 import Web3

STAKING = "0x1000000000000000000000000000000000000002"
REWARD = "0x1000000000000000000000000000000000000006"
DELEGATE, WITHDRAW_DELEGATE_REWARD = 1004, 5000


def call_data(code, *args):
    return rlp.encode([rlp.encode(code)] + [rlp.encode(a) for a in args])


def send(w3, account, to, data):
    # Simulate first: a refusal raises with the contract's reason and nothing is sent.
    w3.eth.call({"from": account.address, "to": to, "data": data})
    tx = {
        "from": account.address,
        "to": to,
        "data": data,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "gasPrice": w3.eth.gas_price,
        "chainId": w3.eth.chain_id,
    }
    tx["gas"] = w3.eth.estimate_gas(tx) * 6 // 5
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), 60)
    if receipt.status != 1:
        sys.exit(f"transaction {receipt.transactionHash.hex()} failed")
    return receipt


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rpc", default="http://127.0.0.1:6789")
    p.add_argument("--key", required=True, help="the delegating account's secret key (hex)")
    p.add_argument("--node-id", required=True, help="the candidate's Node-ID (32 hex digits)")
    p.add_argument("--amount", type=int, required=True, help="whole LAT to delegate")
    a = p.parse_args()
    w3 = Web3(Web3.HTTPProvider(a.rpc))
    account = Account.from_key(a.key)
    node_id = bytes.fromhex(a.node_id.removeprefix("0x"))
    send(w3, account, STAKING, call_data(DELEGATE, node_id, a.amount * 10**18))
    send(w3, account, REWARD, call_data(WITHDRAW_DELEGATE_REWARD))
    info = w3.provider.make_request("platon_getDelegateInfo", [account.address, a.node_id])
    print(json.dumps(info["result"]))


if __name__ == "__main__":
    main()
