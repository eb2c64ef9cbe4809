// Differential-test peer: ML-KEM-768 from @noble/post-quantum (final
// FIPS 203). Prints N lines of hex fields separated by spaces:
//   d z m ek dk ct ss ct_rand ss_rand
// for fresh random d, z, m, and a random 1088-byte ciphertext whose
// decapsulation exercises implicit rejection. tests/unit/test_mlkem_noble.c
// recomputes every field with proto/mlkem and compares.
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { randomBytes } from 'node:crypto';

const n = Number(process.argv[2] ?? 300);
const hex = (b) => Buffer.from(b).toString('hex');
const lines = [];
for (let i = 0; i < n; i++) {
  const d = randomBytes(32), z = randomBytes(32), m = randomBytes(32);
  const { publicKey, secretKey } = ml_kem768.keygen(new Uint8Array(Buffer.concat([d, z])));
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, new Uint8Array(m));
  const ctRand = new Uint8Array(randomBytes(1088));
  const ssRand = ml_kem768.decapsulate(ctRand, secretKey);
  lines.push([d, z, m, publicKey, secretKey, cipherText, sharedSecret, ctRand, ssRand].map(hex).join(' '));
}
process.stdout.write(lines.join('\n') + '\n');
