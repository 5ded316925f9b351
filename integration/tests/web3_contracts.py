"""web3.py against a running node: the Solidity contracts (compiled by solc-js) deployed and used.

Usage: python3 web3_contracts.py HTTP_URL WS_URL
"""
import asyncio
import json
import os
import subprocess
import sys

from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.providers.persistent import WebSocketProvider

HERE = os.path.dirname(os.path.abspath(__file__))
Account.enable_unaudited_hdwallet_features()
MNEMONIC = "test test test test test test test test test test test junk"


def check(cond, what):
    if not cond:
        raise SystemExit(f"CHECK FAILED: {what}")
    print(f"ok - {what}")


def compiled():
    out = subprocess.run(
        ["node", os.path.join(HERE, "js", "compile.mjs")], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def main(http_url, ws_url):
    w3 = Web3(Web3.HTTPProvider(http_url))
    keys = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(3)]
    alice, bob, carol = keys
    c = compiled()

    def send(fn, acct, **kw):
        tx = fn.build_transaction({"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address, "pending"), **kw})
        signed = acct.sign_transaction(tx)
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        return w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05)

    Token = w3.eth.contract(abi=c["Token"]["abi"], bytecode=c["Token"]["bytecode"])
    r = send(Token.constructor("Py Token", "PYT", 10**24), alice)
    check(r.status == 1 and r.contractAddress, "ERC-20 deployed by web3.py")
    token = w3.eth.contract(address=r.contractAddress, abi=c["Token"]["abi"])
    check(token.functions.symbol().call() == "PYT", "symbol() through eth_call")
    mint = token.events.Transfer().process_receipt(r)
    check(len(mint) == 1 and mint[0].args.value == 10**24, "mint event decoded from the deployment receipt")

    async def subscribe_and_transfer():
        async with AsyncWeb3(WebSocketProvider(ws_url)) as aw3:
            sub = await aw3.eth.subscribe("logs", {"address": token.address})
            r1 = send(token.functions.transfer(bob.address, 777), alice)
            async for msg in aw3.socket.process_subscriptions():
                log = msg["result"]
                await aw3.eth.unsubscribe(sub)
                return r1, log

    r1, log = asyncio.run(asyncio.wait_for(subscribe_and_transfer(), 30))
    check(r1.status == 1, "transfer succeeded")
    ev = token.events.Transfer().process_log(log)
    check(ev.args["from"] == alice.address and ev.args.to == bob.address and ev.args.value == 777,
          "WebSocket logs subscription delivered the Transfer")
    check(token.functions.balanceOf(bob.address).call() == 777, "balanceOf mapping")

    r2 = send(token.functions.approve(bob.address, 500), alice)
    check(token.events.Approval().process_receipt(r2)[0].args.value == 500, "Approval event")
    r3 = send(token.functions.transferFrom(alice.address, carol.address, 200), bob)
    check(r3.status == 1 and token.functions.balanceOf(carol.address).call() == 200, "transferFrom")

    try:
        send(token.functions.transferFrom(alice.address, carol.address, 10**6), bob)
        check(False, "transferFrom over the allowance must fail")
    except ContractLogicError as e:
        check("Token: allowance exceeded" in str(e), f"require message reached web3.py: {e}")

    try:
        token.functions.transfer(alice.address, 10**9).call({"from": carol.address})
        check(False, "transfer over the balance must fail")
    except ContractCustomError as e:
        data = e.data if isinstance(e.data, str) else e.args[0]
        selector = Web3.keccak(text="InsufficientBalance(uint256,uint256)")[:4].hex()
        check(selector.removeprefix("0x") in data, f"custom error data reached web3.py: {data[:10]}")
        decoded = w3.codec.decode(["uint256", "uint256"], bytes.fromhex(data.removeprefix("0x")[8:]))
        check(decoded == (200, 10**9), "custom error arguments decoded")

    logs = token.events.Transfer().get_logs(from_block=0, argument_filters={"to": carol.address})
    check(len(logs) == 1 and logs[0].args.value == 200, "get_logs with an indexed-topic filter")
    all_logs = w3.eth.get_logs({"address": token.address, "fromBlock": 0, "toBlock": "latest"})
    check(len(all_logs) == 4, f"eth_getLogs over the range: {len(all_logs)} (mint, transfer, approval, transferFrom)")

    f = w3.eth.filter({"address": token.address, "fromBlock": 0})
    send(token.functions.transfer(carol.address, 1), alice)
    changes = w3.eth.get_filter_changes(f.filter_id)
    check(len(changes) == 1, "eth_newFilter + eth_getFilterChanges saw the new log")
    check(len(w3.eth.get_filter_logs(f.filter_id)) == 5, "eth_getFilterLogs returns every match")
    check(w3.eth.uninstall_filter(f.filter_id), "eth_uninstallFilter")

    receipts = w3.provider.make_request("eth_getBlockReceipts", ["latest"])["result"]
    check(len(receipts) == 1 and receipts[0]["logs"][0]["address"].lower() == token.address.lower(),
          "eth_getBlockReceipts")

    trace = w3.provider.make_request("debug_traceTransaction", [Web3.to_hex(r3.transactionHash), {"tracer": "callTracer"}])["result"]
    check(trace["type"] == "CALL" and int(trace["gasUsed"], 16) == r3.gasUsed, "callTracer top frame matches the receipt")
    print("ALL CHECKS PASSED")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
