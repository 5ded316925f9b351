// Cross-checks the node's sr25519 VRF (schnorrkel) against @scure/sr25519, an independent
// implementation. Reads {context, cases: [{seed, msg, publicKey, proof}]} (hex) on stdin, written by
// the Rust test; for each case derives the key from the seed, checks the Rust proof (and that it fails
// for another message), and makes its own proof for the Rust side to check. Prints JSON.
import * as sr from '@scure/sr25519';

const hex = (b) => Buffer.from(b).toString('hex');
const bytes = (h) => Uint8Array.from(Buffer.from(h, 'hex'));

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { context, cases } = JSON.parse(input);
const ctx = new TextEncoder().encode(context);
const out = cases.map((c) => {
  const secret = sr.secretFromSeed(bytes(c.seed));
  const pk = sr.getPublicKey(secret);
  const msg = bytes(c.msg);
  const other = Uint8Array.from([...msg, 1]);
  return {
    publicKey: hex(pk),
    rustProofValid: sr.vrf.verify(msg, bytes(c.proof), bytes(c.publicKey), ctx, new Uint8Array()),
    rustProofValidForOtherMessage: sr.vrf.verify(other, bytes(c.proof), bytes(c.publicKey), ctx, new Uint8Array()),
    proof: hex(sr.vrf.sign(msg, secret, ctx, new Uint8Array())),
  };
});
process.stdout.write(JSON.stringify(out));
