// viem's public and wallet actions against the node: block and transaction reads, deploys and
// writes through a local account, simulateContract, estimateContractGas, multicall (through a
// contract with Multicall3's aggregate3 interface), and watchBlocks and watchContractEvent over
// WebSocket.
//
//   node viem.mjs http://127.0.0.1:8545 ws://127.0.0.1:8545
import { createPublicClient, createWalletClient, defineChain, http, webSocket, parseAbi } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { compile, MNEMONIC, check } from './lib.mjs';

const [httpUrl, wsUrl] = process.argv.slice(2);
if (!httpUrl || !wsUrl) throw new Error('usage: node viem.mjs http://host:port ws://host:port');

const probe = createPublicClient({ transport: http(httpUrl) });
const chainId = await probe.getChainId();
const chain = defineChain({
  id: chainId,
  name: 'platon-dev',
  nativeCurrency: { name: 'LAT', symbol: 'LAT', decimals: 18 },
  rpcUrls: { default: { http: [httpUrl], webSocket: [wsUrl] } },
});
const client = createPublicClient({ chain, transport: http(httpUrl) });
const ws = createPublicClient({ chain, transport: webSocket(wsUrl) });
const alice = mnemonicToAccount(MNEMONIC, { addressIndex: 0 });
const bob = mnemonicToAccount(MNEMONIC, { addressIndex: 1 });
const wallet = createWalletClient({ account: alice, chain, transport: http(httpUrl) });
const { Token, Aggregator } = compile();

async function deploy(c, args = []) {
  const hash = await wallet.deployContract({ abi: c.abi, bytecode: c.bytecode, args });
  const r = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  check(r.status === 'success' && r.contractAddress, `deployed (${r.contractAddress})`);
  return r.contractAddress;
}

// Reads.
const head = await client.getBlockNumber();
const block = await client.getBlock({ blockNumber: head, includeTransactions: true });
check(block.number === head && typeof block.hash === 'string', `getBlock(${head})`);

// watchBlocks over WebSocket: collect the heads the writes below produce.
const seen = [];
const unwatchBlocks = ws.watchBlocks({ onBlock: (b) => seen.push(b.number), emitMissed: true });
const settle = () => new Promise((r) => setTimeout(r, 500)); // let eth_subscribe be answered
await settle();

const token = await deploy(Token, ['Viem', 'VIEM', 1_000_000n]);
const events = [];
const unwatchEvents = ws.watchContractEvent({
  address: token,
  abi: Token.abi,
  eventName: 'Transfer',
  onLogs: (logs) => events.push(...logs),
});
await settle();
const multicall = await deploy(Aggregator);

// simulateContract, then the write it prepared.
const { request, result } = await client.simulateContract({
  account: alice,
  address: token,
  abi: Token.abi,
  functionName: 'transfer',
  args: [bob.address, 250n],
});
check(result === true, 'simulateContract(transfer) returns true');
const gas = await client.estimateContractGas({
  account: alice,
  address: token,
  abi: Token.abi,
  functionName: 'transfer',
  args: [bob.address, 250n],
});
check(gas > 21_000n && gas < 100_000n, `estimateContractGas = ${gas}`);
const hash = await wallet.writeContract(request);
const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
check(receipt.status === 'success' && receipt.logs.length === 1, 'transfer mined with its log');
const tx = await client.getTransaction({ hash });
check(tx.from.toLowerCase() === alice.address.toLowerCase() && tx.blockNumber === receipt.blockNumber, 'getTransaction');
const viaReceipt = await client.getTransactionReceipt({ hash });
check(viaReceipt.blockHash === receipt.blockHash, 'getTransactionReceipt');

// A reverting simulation is reported with its reason.
let reason = '';
try {
  await client.simulateContract({
    account: bob,
    address: token,
    abi: Token.abi,
    functionName: 'transferFrom',
    args: [alice.address, bob.address, 10n],
  });
} catch (e) {
  reason = e.shortMessage ?? e.message;
}
check(/revert/i.test(reason), `simulateContract reports a revert (${reason.split('\n')[0]})`);

// multicall: balances and the symbol in one eth_call through aggregate3.
const [aliceBal, bobBal, symbol] = await client.multicall({
  multicallAddress: multicall,
  allowFailure: false,
  contracts: [
    { address: token, abi: Token.abi, functionName: 'balanceOf', args: [alice.address] },
    { address: token, abi: Token.abi, functionName: 'balanceOf', args: [bob.address] },
    { address: token, abi: Token.abi, functionName: 'symbol' },
  ],
});
check(aliceBal === 999_750n && bobBal === 250n && symbol === 'VIEM', 'multicall reads three values at once');
const failing = await client.multicall({
  multicallAddress: multicall,
  contracts: [
    { address: token, abi: parseAbi(['function nope() view returns (uint256)']), functionName: 'nope' },
    { address: token, abi: Token.abi, functionName: 'totalSupply' },
  ],
});
check(failing[0].status === 'failure' && failing[1].result === 1_000_000n, 'multicall with allowFailure isolates a failing call');

// Subscriptions saw the new blocks and the Transfer event.
const deadline = Date.now() + 10_000;
while ((events.length < 1 || seen.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
unwatchBlocks();
unwatchEvents();
check(seen.length >= 2 && seen.at(-1) >= receipt.blockNumber, `watchBlocks saw ${seen.length} new heads`);
check(
  events.length === 1 && events[0].args.to.toLowerCase() === bob.address.toLowerCase() && events[0].args.value === 250n,
  'watchContractEvent delivered the Transfer over WebSocket',
);
await ws.transport.getRpcClient?.().then((c) => c.close()).catch(() => {});
console.log('ALL CHECKS PASSED');
process.exit(0);
