// Independent checks of a proof made by a computing node's vc_pool: snarkjs verifies it with the
// verifying key converted to its JSON (`platon vc snarkjs`), and a Solidity Groth16 verifier
// (tests/contracts/Groth16Verifier.sol, compiled by solc-js) verifies it on the node's own EVM
// through the BN254 pairing precompile. A tampered proof must fail both.
//
// Usage: node vc.mjs RPC_URL CASE_JSON
//   CASE_JSON: {vk, proof, tampered, public: [hex words], snarkjs: {vk, proof, public}, snarkjsTampered}
import fs from 'node:fs';
import { ethers } from 'ethers';
import * as snarkjs from 'snarkjs';
import { compile, devWallet, check } from './lib.mjs';

const [url, casePath] = process.argv.slice(2);
const c = JSON.parse(fs.readFileSync(casePath, 'utf8'));

const s = c.snarkjs;
check(await snarkjs.groth16.verify(s.vk, s.public, s.proof), 'snarkjs verifies the vc_pool proof');
check(!(await snarkjs.groth16.verify(s.vk, s.public, c.snarkjsTampered)), 'snarkjs refuses the tampered proof');
const otherTask = [...s.public];
otherTask[0] = (BigInt(otherTask[0]) + 1n).toString();
check(!(await snarkjs.groth16.verify(s.vk, otherTask, s.proof)), 'snarkjs refuses the proof for another task id');

const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100 });
const wallet = devWallet(2, provider);
const { Groth16Verifier } = compile();
const factory = new ethers.ContractFactory(Groth16Verifier.abi, Groth16Verifier.bytecode, wallet);
const verifier = await factory.deploy();
await verifier.waitForDeployment();
const inputs = c.public.map((w) => BigInt(w));
check(await verifier.verify(c.vk, c.proof, inputs), 'the Solidity verifier accepts the vc_pool proof on our EVM');
check(!(await verifier.verify(c.vk, c.tampered, inputs)), 'the Solidity verifier refuses the tampered proof');
const shifted = [...inputs];
shifted[shifted.length - 1] += 1n;
check(!(await verifier.verify(c.vk, c.proof, shifted)), 'the Solidity verifier refuses another result');
const gas = await verifier.verify.estimateGas(c.vk, c.proof, inputs);
console.log(`solidity verify gas: ${gas}`);
console.log('ALL CHECKS PASSED');
// snarkjs's curve workers keep the process alive.
process.exit(0);
