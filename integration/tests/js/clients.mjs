// ethers.js against a running node: Solidity from solc-js deployed and used as a dapp would.
// Usage: node clients.mjs HTTP_URL WS_URL
import { ethers } from 'ethers';
import { compile, devWallet, check, raw, sleep } from './lib.mjs';

const [httpUrl, wsUrl] = process.argv.slice(2);
if (!httpUrl || !wsUrl) {
  console.error('usage: node clients.mjs HTTP_URL WS_URL');
  process.exit(2);
}

const provider = new ethers.JsonRpcProvider(httpUrl, undefined, { staticNetwork: true, pollingInterval: 100 });
provider.pollingInterval = 100;
// NonceManager: ethers caches identical reads for 250 ms, so back-to-back sends on an instant chain
// would reuse a nonce; this is ethers' documented remedy, not a workaround for the node.
const alice = new ethers.NonceManager(devWallet(0, provider));
const bob = new ethers.NonceManager(devWallet(1, provider));
const carol = new ethers.NonceManager(devWallet(2, provider));
alice.address = await alice.getAddress();
bob.address = await bob.getAddress();
carol.address = await carol.getAddress();
const { Token, Registry } = compile();

// Deploy the ERC-20.
const supply = ethers.parseUnits('1000000', 18);
const tokenFactory = new ethers.ContractFactory(Token.abi, Token.bytecode, alice);
const token = await tokenFactory.deploy('Test Token', 'TST', supply);
await token.waitForDeployment();
const tokenAddr = await token.getAddress();
check((await provider.getCode(tokenAddr)).length > 2, 'token deployed with code');
check((await token.name()) === 'Test Token', 'name() through eth_call');
check((await token.totalSupply()) === supply, 'totalSupply()');
check((await token.balanceOf(alice.address)) === supply, 'deployer holds the supply');
const deployReceipt = await token.deploymentTransaction().wait();
check(deployReceipt.contractAddress === tokenAddr, 'receipt names the contract address');

// Events over WebSocket (eth_subscribe logs) and over HTTP (eth_newFilter polling), set up first.
const ws = new ethers.WebSocketProvider(wsUrl);
const tokenWs = new ethers.Contract(tokenAddr, Token.abi, ws);
const wsEvents = [];
// With a filter (not an event name) ethers hands the listener one payload.
await tokenWs.on(tokenWs.filters.Transfer(alice.address), (payload) => wsEvents.push(payload.args));
const httpEvents = [];
await token.on('Approval', (owner, spender, value) => httpEvents.push({ owner, spender, value }));
await sleep(300);

// transfer, approve, transferFrom.
const r1 = await (await token.transfer(bob.address, 1000n)).wait();
check(r1.status === 1, 'transfer succeeded');
const ev = token.interface.parseLog(r1.logs[0]);
check(ev.name === 'Transfer' && ev.args.from === alice.address && ev.args.to === bob.address && ev.args.value === 1000n,
  'Transfer event decoded from the receipt');
check(r1.logs[0].topics.length === 3, 'indexed from/to are topics');
check((await token.balanceOf(bob.address)) === 1000n, 'bob got 1000');

const r2 = await (await token.approve(bob.address, 500n)).wait();
check(r2.status === 1 && token.interface.parseLog(r2.logs[0]).name === 'Approval', 'approve emitted Approval');
check((await token.allowance(alice.address, bob.address)) === 500n, 'allowance mapping read');

const r3 = await (await token.connect(bob).transferFrom(alice.address, carol.address, 300n)).wait();
check(r3.status === 1, 'transferFrom succeeded');
check((await token.balanceOf(carol.address)) === 300n, 'carol got 300');
check((await token.allowance(alice.address, bob.address)) === 200n, 'allowance reduced');

// require message decoded by the client.
try {
  await token.connect(bob).transferFrom(alice.address, carol.address, 10_000n);
  check(false, 'transferFrom over the allowance must fail');
} catch (e) {
  check(e.code === 'CALL_EXCEPTION', `require failure is a CALL_EXCEPTION (${e.code})`);
  check(e.reason === 'Token: allowance exceeded', `require message decoded: ${e.reason}`);
}
// Custom error decoded by the client: through the contract (staticCall), and from a failed send's
// revert data with the contract's interface.
try {
  await token.connect(carol).transfer.staticCall(bob.address, 1_000_000n);
  check(false, 'transfer over the balance must fail');
} catch (e) {
  check(e.code === 'CALL_EXCEPTION', 'custom error is a CALL_EXCEPTION');
  check(e.revert && e.revert.name === 'InsufficientBalance', `custom error decoded: ${e.revert && e.revert.name}`);
  check(e.revert.args[0] === 300n && e.revert.args[1] === 1_000_000n, 'custom error arguments decoded');
}
try {
  await token.connect(carol).transfer(bob.address, 1_000_000n);
  check(false, 'sending a transfer over the balance must fail');
} catch (e) {
  const err = token.interface.parseError(e.data);
  check(e.code === 'CALL_EXCEPTION' && err.name === 'InsufficientBalance' && err.args[1] === 1_000_000n,
    'a failed send carries the custom error data');
}

// eth_estimateGas is the least gas that succeeds: the estimate works, one gas less does not.
const est = await token.transfer.estimateGas(bob.address, 5n);
const req = await token.transfer.populateTransaction(bob.address, 5n);
const at = (gas) => raw(httpUrl, 'eth_call', [{ from: alice.address, to: req.to, data: req.data, gas: ethers.toQuantity(gas) }, 'latest']);
check(!(await at(est)).error, `the estimate (${est}) suffices`);
check((await at(est - 1n)).error, 'one gas less fails');

// getLogs through queryFilter: topic filters and block ranges.
const all = await token.queryFilter(token.filters.Transfer(), 0, 'latest');
check(all.length === 3, `three Transfer logs overall (mint, transfer, transferFrom): ${all.length}`);
const toCarol = await token.queryFilter(token.filters.Transfer(null, carol.address));
check(toCarol.length === 1 && toCarol[0].args.value === 300n, 'topic filter on the indexed recipient');
const fromAlice = await token.queryFilter(token.filters.Transfer(alice.address));
check(fromAlice.length === 2, 'topic filter on the indexed sender');
const none = await token.queryFilter(token.filters.Transfer(), 0, deployReceipt.blockNumber - 1);
check(none.length === 0, 'a range before the deployment has no logs');

// Registry: mapping by bytes32, events, CREATE2.
const registry = await new ethers.ContractFactory(Registry.abi, Registry.bytecode, alice).deploy();
await registry.waitForDeployment();
const name = ethers.encodeBytes32String('alice');
const r4 = await (await registry.register(name)).wait();
const reg = registry.interface.parseLog(r4.logs[0]);
check(reg.name === 'Registered' && reg.args.owner === alice.address && reg.args.count === 1n, 'Registered event');
check((await registry.owners(name)) === alice.address, 'owners mapping');
try {
  await registry.connect(bob).register.staticCall(name);
  check(false, 'registering a taken name must fail');
} catch (e) {
  check(e.revert && e.revert.name === 'Taken' && e.revert.args[1] === alice.address, 'Taken(name, owner) decoded');
}
const salt = ethers.id('salt-1');
const r5 = await (await registry.deploy(salt)).wait();
const dep = registry.interface.parseLog(r5.logs[0]);
const initCode = ethers.concat([
  (await import('./lib.mjs')).compile().Child.bytecode,
  ethers.AbiCoder.defaultAbiCoder().encode(['address'], [alice.address]),
]);
const expected = ethers.getCreate2Address(await registry.getAddress(), salt, ethers.keccak256(initCode));
check(dep.args.child === expected, 'CREATE2 child at the address the client computes');
check((await registry.work(100)) !== ethers.ZeroHash, 'compute-heavy view');

// Raw error shape: code 3 with the revert data, as geth.
const data = registry.interface.encodeFunctionData('fail', [1]);
const rawErr = await raw(httpUrl, 'eth_call', [{ to: await registry.getAddress(), data }, 'latest']);
check(rawErr.error && rawErr.error.code === 3, 'eth_call revert has code 3');
check(rawErr.error.message === 'execution reverted: Registry: failed on purpose', `message: ${rawErr.error.message}`);
check(typeof rawErr.error.data === 'string' && rawErr.error.data.startsWith('0x08c379a0'), 'data is the Error(string) payload');

// The events arrived.
for (let i = 0; i < 50 && (wsEvents.length < 2 || httpEvents.length < 1); i++) await sleep(100);
check(wsEvents.length === 2, `WebSocket logs subscription delivered Alice's two Transfers: ${wsEvents.length}`);
check(wsEvents[0].to === bob.address && wsEvents[0].value === 1000n, 'first subscribed event is the transfer to bob');
check(httpEvents.length === 1 && httpEvents[0].value === 500n, `HTTP filter polling delivered the Approval: ${httpEvents.length}`);
await tokenWs.removeAllListeners();
await token.removeAllListeners();
await ws.destroy();
provider.destroy();
console.log('ALL CHECKS PASSED');
// Pending polls of destroyed providers must not keep the process alive.
process.exit(0);
