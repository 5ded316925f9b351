// Shared helpers of the client tests: Solidity compiled by solc-js, dev keys from the test mnemonic,
// and raw JSON-RPC for exact error shapes.
import solc from 'solc';
import { ethers } from 'ethers';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const MNEMONIC = 'test test test test test test test test test test test junk';

/** Compiles every contract under tests/contracts for Shanghai; returns {Name: {abi, bytecode}}. */
export function compile() {
  const dir = path.join(here, '..', 'contracts');
  const sources = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.sol'))) {
    sources[f] = { content: fs.readFileSync(path.join(dir, f), 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: 'shanghai',
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const contracts = {};
  for (const file of Object.values(out.contracts)) {
    for (const [name, c] of Object.entries(file)) {
      contracts[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
    }
  }
  return contracts;
}

/** The i-th dev key (m/44'/60'/0'/0/i of the test mnemonic), as `platon run --dev` and anvil fund. */
export function devWallet(i, provider) {
  return ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider ?? null);
}

let rpcId = 1;
/** A raw JSON-RPC call: returns {result} or {error} exactly as the node sent it. */
export async function raw(url, method, params = []) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method, params }),
  });
  return res.json();
}

export async function rawOk(url, method, params = []) {
  const r = await raw(url, method, params);
  if (r.error) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.result;
}

export function check(cond, what) {
  if (!cond) throw new Error(`CHECK FAILED: ${what}`);
  console.log(`ok - ${what}`);
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
