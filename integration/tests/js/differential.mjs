// One scripted sequence against this node and against anvil (--hardfork shanghai), compared step by
// step: status, gas used, logs, created addresses, return data and error shapes.
// Usage: node differential.mjs PLATON_URL ANVIL_URL (anvil started with --hardfork shanghai --steps-tracing)
import { ethers } from 'ethers';
import { compile, devWallet, raw, rawOk, sleep } from './lib.mjs';

const urls = { platon: process.argv[2], anvil: process.argv[3] };
// --state-roots: both ends are this node (one per engine), so their state roots must agree too.
const compareRoots = process.argv.includes('--state-roots');
if (!urls.platon || !urls.anvil) {
  console.error('usage: node differential.mjs PLATON_URL ANVIL_URL');
  process.exit(2);
}
const C = compile();
const token = new ethers.Interface(C.Token.abi);
const registry = new ethers.Interface(C.Registry.abi);
const child = new ethers.Interface(C.Child.abi);
const coder = ethers.AbiCoder.defaultAbiCoder();
const wallets = [0, 1, 2].map((i) => devWallet(i));
const [A, B, Cc] = wallets.map((w) => w.address);
const GAS = 3_000_000n;

/** Sends a signed type-2 transaction with a fixed gas limit (so failures are mined) and returns its receipt. */
async function send(url, chainId, nonces, from, to, data, value = 0n) {
  const w = wallets[from];
  const nonce = nonces[from]++;
  const signed = await w.signTransaction({
    type: 2, chainId, nonce, to, data, value, gasLimit: GAS,
    maxFeePerGas: 100_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
  });
  const hash = await rawOk(url, 'eth_sendRawTransaction', [signed]);
  for (let i = 0; i < 200; i++) {
    const r = await rawOk(url, 'eth_getTransactionReceipt', [hash]);
    if (r) return r;
    await sleep(25);
  }
  throw new Error(`${url}: no receipt for ${hash}`);
}

function receiptShape(r) {
  return {
    status: r.status,
    gasUsed: BigInt(r.gasUsed).toString(),
    cumulativeGasUsed: BigInt(r.cumulativeGasUsed).toString(),
    contractAddress: r.contractAddress ? r.contractAddress.toLowerCase() : null,
    logs: r.logs.map((l) => ({ address: l.address.toLowerCase(), topics: l.topics, data: l.data, logIndex: l.logIndex })),
    logsBloom: r.logsBloom,
  };
}

function resultShape(r) {
  if (r.error) {
    // An exceptional halt (no revert data): geth answers -32000 "out of gas" and so do we; anvil
    // answers -32603. Both must fail without data; the code is reported, not compared.
    if (r.error.data == null && r.error.code !== 3) {
      console.log(`  (halt answered with code ${r.error.code}: ${r.error.message})`);
      return { error: { halted: true } };
    }
    const shape = { code: r.error.code, data: r.error.data ?? null };
    // geth and anvil word Error(string) reverts alike; other messages differ in detail only.
    if (typeof r.error.message === 'string' && r.error.message.startsWith('execution reverted: ')
        && (r.error.data ?? '').startsWith('0x08c379a0')) shape.message = r.error.message;
    return { error: shape };
  }
  return { result: r.result };
}

async function run(url) {
  const chainId = BigInt(await rawOk(url, 'eth_chainId'));
  const nonces = [];
  for (const w of wallets) nonces.push(Number(BigInt(await rawOk(url, 'eth_getTransactionCount', [w.address, 'latest']))));
  const steps = [];
  const tx = async (label, from, to, data, value) => {
    const r = await send(url, chainId, nonces, from, to, data, value);
    steps.push({ label, ...receiptShape(r) });
    return r;
  };
  const call = async (label, params) => steps.push({ label, ...resultShape(await raw(url, 'eth_call', [params, 'latest'])) });
  const estimateErr = async (label, params) => {
    const r = await raw(url, 'eth_estimateGas', [params]);
    steps.push({ label, ...(r.error ? resultShape(r) : { estimated: true }) });
  };

  const deployToken = ethers.concat([C.Token.bytecode, coder.encode(['string', 'string', 'uint256'], ['Diff', 'DIF', 10n ** 24n])]);
  const traced = {};
  const t = (await tx('deploy Token', 0, null, deployToken)).contractAddress;
  const reg = (await tx('deploy Registry', 0, null, C.Registry.bytecode)).contractAddress;
  await tx('transfer', 0, t, token.encodeFunctionData('transfer', [B, 1000n]));
  traced.approve = (await tx('approve', 0, t, token.encodeFunctionData('approve', [B, 500n]))).transactionHash;
  traced.transferFrom = (await tx('transferFrom', 1, t, token.encodeFunctionData('transferFrom', [A, Cc, 300n]))).transactionHash;
  traced.reverted = (await tx('transferFrom over allowance (reverts in block)', 1, t, token.encodeFunctionData('transferFrom', [A, Cc, 300n]))).transactionHash;
  await tx('transfer over balance (custom error in block)', 2, t, token.encodeFunctionData('transfer', [A, 10n ** 30n]));
  await call('balanceOf', { from: A, to: t, data: token.encodeFunctionData('balanceOf', [Cc]) });
  await call('call: custom error', { from: Cc, to: t, data: token.encodeFunctionData('transfer', [A, 10n ** 30n]) });
  await call('call: require message', { from: B, to: t, data: token.encodeFunctionData('transferFrom', [A, Cc, 10n ** 20n]) });
  await call('call: fail(1) Error(string)', { to: reg, data: registry.encodeFunctionData('fail', [1]) });
  await call('call: fail(2) custom error', { to: reg, data: registry.encodeFunctionData('fail', [2]) });
  await call('call: fail(3) Panic', { to: reg, data: registry.encodeFunctionData('fail', [3]) });
  await estimateErr('estimate: fail(1)', { from: A, to: reg, data: registry.encodeFunctionData('fail', [1]) });
  await estimateErr('estimate: custom error', { from: Cc, to: t, data: token.encodeFunctionData('transfer', [A, 10n ** 30n]) });
  const name = ethers.encodeBytes32String('diff');
  await tx('register', 0, reg, registry.encodeFunctionData('register', [name]));
  await tx('register taken (custom error in block)', 1, reg, registry.encodeFunctionData('register', [name]));
  await tx('register empty (require in block)', 1, reg, registry.encodeFunctionData('register', [ethers.ZeroHash]));
  const dep = await tx('deploy child by CREATE2', 0, reg, registry.encodeFunctionData('deploy', [ethers.id('s')]));
  traced.create2 = dep.transactionHash;
  const childAddr = registry.parseLog(dep.logs[0]).args.child;
  await call('child.owner()', { to: childAddr, data: child.encodeFunctionData('owner') });
  await tx('CREATE2 same salt (collision reverts)', 0, reg, registry.encodeFunctionData('deploy', [ethers.id('s')]));
  await tx('work(500) in a transaction', 2, reg, registry.encodeFunctionData('work', [500n]));
  await call('work(3000) by call', { to: reg, data: registry.encodeFunctionData('work', [3000n]) });
  await tx('release', 0, reg, registry.encodeFunctionData('release', [name]));
  await tx('release again (require in block)', 0, reg, registry.encodeFunctionData('release', [name]));
  await tx('value to a contract without receive (reverts)', 0, reg, '0x', 1n);
  await tx('plain transfer', 0, B, '0x', 12345n);
  await call('call: unknown selector', { to: t, data: '0xdeadbeef' });
  await call('call: out of gas', { to: reg, gas: '0x7530', data: registry.encodeFunctionData('work', [3000n]) });
  // State overrides: a balance for an unfunded sender, a token balance written into its mapping slot.
  const ghost = '0x00000000000000000000000000000000000a11ce';
  const slot = ethers.keccak256(coder.encode(['address', 'uint256'], [Cc, 3n]));
  const overridden = await raw(url, 'eth_call', [
    { from: ghost, to: t, data: token.encodeFunctionData('balanceOf', [Cc]) }, 'latest',
    { [ghost]: { balance: '0xde0b6b3a7640000' }, [t]: { stateDiff: { [slot]: ethers.toBeHex(424242n, 32) } } },
  ]);
  steps.push({ label: 'call with state overrides', ...resultShape(overridden) });
  const codeOverride = await raw(url, 'eth_call', [
    { to: ghost, data: registry.encodeFunctionData('work', [3n]) }, 'latest',
    { [ghost]: { code: (await rawOk(url, 'eth_getCode', [reg, 'latest'])) } },
  ]);
  steps.push({ label: 'call with a code override', ...resultShape(codeOverride) });
  const envCall = await raw(url, 'eth_call', [
    { to: reg, data: registry.encodeFunctionData('env') }, 'latest', {},
    { number: '0x1234', time: '0x5678', feeRecipient: ghost, baseFeePerGas: '0x7', gasLimit: '0x1c9c380' },
  ]);
  steps.push({ label: 'call with block overrides', ...resultShape(envCall) });
  // Tracers in geth's shapes: callTracer on a call, a nested CREATE2 and a revert; the struct logger.
  for (const [what, hash] of Object.entries(traced)) {
    const ct = await rawOk(url, 'debug_traceTransaction', [hash, { tracer: 'callTracer' }]);
    steps.push({ label: `callTracer ${what}`, trace: ct });
  }
  const sl = await rawOk(url, 'debug_traceTransaction', [traced.approve, {}]);
  steps.push({
    label: 'struct logs of approve',
    gas: sl.gas, failed: sl.failed, returnValue: sl.returnValue,
    structLogs: sl.structLogs.map((l) => ({ pc: l.pc, op: l.op, gas: l.gas, gasCost: l.gasCost, depth: l.depth, stack: l.stack, storage: l.storage })),
  });
  const logs = await rawOk(url, 'eth_getLogs', [{ address: t, fromBlock: '0x0', toBlock: 'latest' }]);
  if (compareRoots) {
    const head = await rawOk(url, 'eth_getBlockByNumber', ['latest', false]);
    steps.push({ label: 'state root after the sequence', stateRoot: head.stateRoot, number: head.number });
  }
  steps.push({ label: 'getLogs token', logs: logs.map((l) => ({ address: l.address.toLowerCase(), topics: l.topics, data: l.data })) });
  return steps;
}

const ours = await run(urls.platon);
const theirs = await run(urls.anvil);
let failures = 0;
// Canonical JSON: bigints as strings, object keys sorted (key order is not part of the answer).
const ser = (x) => JSON.stringify(x, (_, v) => {
  if (typeof v === 'bigint') return v.toString();
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
  }
  return v;
});
for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
  const a = ser(ours[i]);
  const b = ser(theirs[i]);
  if (a === b) {
    console.log(`same - ${ours[i].label}`);
  } else {
    failures++;
    const oursLogs = ours[i]?.structLogs;
    const theirLogs = theirs[i]?.structLogs;
    if (oursLogs && theirLogs) {
      const j = oursLogs.findIndex((l, k) => ser(l) !== ser(theirLogs[k]));
      console.log(`DIFF - ${ours[i].label}: ${oursLogs.length} vs ${theirLogs.length} entries; first difference at ${j}\n  platon: ${ser(oursLogs[j])}\n  anvil:  ${ser(theirLogs[j])}`);
    } else {
      console.log(`DIFF - ${ours[i]?.label}\n  platon: ${a}\n  anvil:  ${b}`);
    }
  }
}
if (failures) {
  console.log(`${failures} of ${ours.length} steps differ`);
  process.exit(1);
}
console.log(`ALL ${ours.length} STEPS IDENTICAL`);
process.exit(0);
