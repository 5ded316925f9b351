// Prints the client tests' contracts, compiled by solc-js for Shanghai, as JSON {Name: {abi, bytecode}}
// (web3.py reads it).
import { compile } from './lib.mjs';

process.stdout.write(JSON.stringify(compile()));
