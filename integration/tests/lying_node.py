"""A full node that lies, for the light-client test: a JSON-RPC proxy in front of an honest node
that tampers with one kind of answer.

    python3 lying_node.py MODE UPSTREAM_URL PORT

MODE: proof  (eth_getProof's balance is one wei more: the proof no longer matches it)
      header (debug_getRawHeader's last byte is changed: the header no longer hashes to its QC's hash)
      oldqc  (platon_getBlockQuorumCertByHash answers block 1's QC for every block)
"""
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, UPSTREAM, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])


def upstream(method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(UPSTREAM, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def tamper(method, params, answer):
    result = answer.get("result")
    if result is None:
        return answer
    if MODE == "proof" and method == "eth_getProof":
        result["balance"] = hex(int(result["balance"], 16) + 1)
    elif MODE == "header" and method == "debug_getRawHeader" and params and params[0] != "0x0":
        raw = bytearray.fromhex(result[2:])
        raw[-1] ^= 0x01
        result = "0x" + raw.hex()
    elif MODE == "oldqc" and method == "platon_getBlockQuorumCertByHash":
        first = upstream("eth_getBlockByNumber", ["0x1", False])["result"]
        if first is not None:
            result = upstream("platon_getBlockQuorumCertByHash", [first["hash"]])["result"]
    answer["result"] = result
    return answer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            answer = upstream(req["method"], req.get("params", []))
            answer["id"] = req.get("id")
            answer = tamper(req["method"], req.get("params", []), answer)
        except Exception as e:  # the upstream is down: say so, as a node would
            answer = {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": -32000, "message": str(e)}}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
