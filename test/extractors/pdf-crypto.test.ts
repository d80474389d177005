/**
 * The native AES-256 (revision 6) key derivation that pdf.js is given (pdf-crypto.ts). Known answers come
 * from a file qpdf encrypted (fixtures/pdf/encrypted-owner-only.pdf, user password "", owner password
 * "owner", see scripts/fixtures): its Encrypt dictionary holds /U = hash ‖ validation salt ‖ key salt
 * and /O likewise, where the owner's hash also covers the 48 bytes of /U (ISO 32000-2 §7.6.4.4.10-11).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { extractFile } from '../../src/extractors/extract-file.js';
import { ExtractPool } from '../../src/extractors/isolate.js';
import { patchedWorkerSource, pdf20Hash, pdfWorkerPatched } from '../../src/extractors/pdf-crypto.js';
import { fixturesDir, testExtractConfig } from '../helpers/fixtures.js';

// From the fixture's Encrypt dictionary, as qpdf wrote it.
const U = Buffer.from('88acdd7772e2d582d0dcb0462e1c02bedf3dc12a56e89cfd7053824f67e69dbc34c22670ffe0f7f848e34403f5fddc7c', 'hex');
const O = Buffer.from('7ea0e3ef17def6be8dca2ef2866e159c8d63a0b05b2a7c7d05d77a9780ad8fe4911777be530bdfaf91711baa93d7ec4e', 'hex');

describe('pdf20Hash (ISO 32000-2 Algorithm 2.B)', () => {
  it('gives the user hash qpdf stored for the empty password', () => {
    const salt = U.subarray(32, 40);
    expect(Buffer.from(pdf20Hash([], salt, [])).toString('hex')).toBe(U.subarray(0, 32).toString('hex'));
  });

  it('gives the owner hash qpdf stored for "owner", which covers the user entry', () => {
    const password = Buffer.from('owner');
    const input = Buffer.concat([password, O.subarray(32, 40), U]);
    expect(Buffer.from(pdf20Hash(password, input, U)).toString('hex')).toBe(O.subarray(0, 32).toString('hex'));
  });

  it('does not give it for a wrong password', () => {
    const password = Buffer.from('0wner');
    const input = Buffer.concat([password, O.subarray(32, 40), U]);
    expect(Buffer.from(pdf20Hash(password, input, U)).toString('hex')).not.toBe(O.subarray(0, 32).toString('hex'));
  });
});

describe('patchedWorkerSource', () => {
  const stockBytes = readFileSync(fileURLToPath(import.meta.resolve('pdfjs-dist/legacy/build/pdf.worker.mjs')));
  const stock = stockBytes.toString('utf8');

  it('adds the hook once, at the top of PDF20._hash, and drops the source-map comment', () => {
    const text = patchedWorkerSource(stockBytes)!.toString('utf8');
    expect(text.length).toBeGreaterThan(stock.length);
    const at = text.indexOf('class PDF20 extends PDFBase {\n  _hash(password, input, userBytes) {\n    { const h = globalThis[Symbol.for(');
    expect(at).toBeGreaterThan(0);
    expect(text.indexOf('Symbol.for("asset-metadata-worker.pdf20Hash")')).toBe(text.lastIndexOf('Symbol.for("asset-metadata-worker.pdf20Hash")'));
    // A relative source map from a data: URL fails the import when Node has source maps on.
    expect(stock).toMatch(/^\/\/# sourceMappingURL=/m);
    expect(text).not.toMatch(/sourceMappingURL/);
  });

  it('refuses a source without the patch point, or with it twice', () => {
    expect(patchedWorkerSource(Buffer.from('export const x = 1;\n'))).toBeUndefined();
    const point = 'class PDF20 extends PDFBase {\n  _hash(password, input, userBytes) {\n';
    expect(patchedWorkerSource(Buffer.from(point + point))).toBeUndefined();
  });
});

describe('pdf.js with the native derivation', () => {
  it('is in use once a PDF was read, and opens the AES-256 file without a user password', async () => {
    const file = path.join(fixturesDir, 'pdf/encrypted-owner-only.pdf');
    const extracted = await extractFile(file, testExtractConfig());
    // If an upgrade of pdfjs-dist moves the line the hook is added after, this fails: pdf.js would then
    // derive keys in JavaScript again (correct, but about 150 ms a file).
    expect(pdfWorkerPatched()).toBe(true);
    expect(extracted).toMatchObject({ dataType: 'pdf', section: { encrypted: true, pageCount: 6 } });
  });

  it('works inside an extraction thread too', async () => {
    const pool = new ExtractPool(1, 256);
    try {
      await expect(pool.run(path.join(fixturesDir, 'pdf/encrypted-owner-only.pdf'), testExtractConfig())).resolves.toMatchObject({
        dataType: 'pdf',
        section: { encrypted: true, pageCount: 6 },
      });
    } finally {
      await pool.close();
    }
  });

  it('still refuses the file that needs a user password', async () => {
    const file = path.join(fixturesDir, 'pdf/encrypted-user-password.pdf');
    await expect(extractFile(file, testExtractConfig())).rejects.toMatchObject({ code: 'ENCRYPTED_ASSET' });
  });
});
