/**
 * PDF 2.0 encryption (AES-256, security handler revision 6) derives its file key with the hash of
 * ISO 32000-2 §7.6.4.3.4, Algorithm 2.B: at least 64 rounds, each an AES-128-CBC encryption of 64 copies
 * of (password ‖ K ‖ user key) and a SHA-256/384/512 of the result. pdf.js computes it in JavaScript,
 * about 75 ms a derivation on a 2-core server, and opening a file with the empty password takes two
 * (check the user password, then derive the key): a protected but password-less PDF, a common kind,
 * cost 150 ms where the rest of the file took 3. Node's OpenSSL does the same rounds in well under a
 * millisecond.
 *
 * pdf.js has no hook for it, so its worker module is loaded from its own source with one line added at
 * the top of `PDF20._hash`: call the function registered here when there is one. The source is the
 * installed pdfjs-dist's (pinned in package.json); if the line it is added after is not found exactly
 * once, the stock module is used and `pdfWorkerPatched` says so (a test fails on that, so an upgrade
 * that moves the line is noticed, not silently slow).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Bytes = Uint8Array | readonly number[];

/** Where the patched module finds the native hash: a registered symbol, no global name to collide with. */
const hookKey = Symbol.for('asset-metadata-worker.pdf20Hash');

/** ISO 32000-2 Algorithm 2.B with node:crypto; the same arguments and result as pdf.js's `PDF20._hash`. */
export function pdf20Hash(password: Bytes, input: Bytes, userBytes: Bytes): Uint8Array {
  const pw = Buffer.from(password);
  const user = Buffer.from(userBytes);
  let k: Buffer = createHash('sha256').update(Buffer.from(input)).digest();
  let e: Buffer = Buffer.alloc(1);
  // At least 64 rounds; then go on while the last byte of E exceeds (round - 32) (the spec's step e).
  for (let round = 0; round < 64 || e[e.length - 1]! > round - 32; round++) {
    const block = Buffer.concat([pw, k, user]);
    const k1 = Buffer.concat(Array.from({ length: 64 }, () => block));
    // k1's length is 64 × block: a multiple of the AES block size, so no padding is added or expected.
    const cipher = createCipheriv('aes-128-cbc', k.subarray(0, 16), k.subarray(16, 32)).setAutoPadding(false);
    e = Buffer.concat([cipher.update(k1), cipher.final()]);
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += e[i]!;
    k = createHash(['sha256', 'sha384', 'sha512'][sum % 3]!).update(e).digest();
  }
  return k.subarray(0, 32);
}

/** The line after which the hook is called: the start of PDF20's hash in pdf.worker.mjs. */
const patchPoint = 'class PDF20 extends PDFBase {\n  _hash(password, input, userBytes) {\n';
const hookLine = `    { const h = globalThis[Symbol.for(${JSON.stringify(hookKey.description)})]; if (h) return h(password, input, userBytes); }\n`;

/**
 * pdf.worker.mjs's source with the hook added, or undefined when the patch point is not there exactly
 * once. Bytes in, bytes out: the 2 MB source never becomes a JavaScript string here (as UTF-16 strings,
 * the copies cost a replica with two threads about 10 MB of RSS that V8 kept). Its source-map comment is dropped: it
 * names a file beside the original, which from anywhere else is no file at all, and Node with source
 * maps on (`--enable-source-maps`) fails the import over it.
 */
export function patchedWorkerSource(source: Buffer): Buffer | undefined {
  const point = Buffer.from(patchPoint);
  const at = source.indexOf(point);
  if (at < 0 || source.indexOf(point, at + 1) >= 0) return undefined;
  const cut = at + point.length;
  let rest = source.subarray(cut);
  const map = rest.lastIndexOf('\n//# sourceMappingURL=');
  if (map >= 0) {
    const end = rest.indexOf('\n', map + 1);
    rest = Buffer.concat([rest.subarray(0, map + 1), end >= 0 ? rest.subarray(end + 1) : Buffer.alloc(0)]);
  }
  return Buffer.concat([source.subarray(0, cut), Buffer.from(hookLine), rest]);
}

let patched = false;
let loading: Promise<void> | undefined;

/** Whether pdf.js in this thread derives revision 6 keys with pdf20Hash (false until loaded, or if the patch point moved). */
export function pdfWorkerPatched(): boolean {
  return patched;
}

/**
 * Imports module source text. From a private temp file (0700 directory, removed at once) rather than a
 * data: URL: V8 keeps a data: module's URL, the whole source in base64, beside its copies, which cost
 * each extraction thread about 20 MB more (measured). The data: URL is the fallback where no temp file
 * can be written.
 */
async function importSource(text: Buffer): Promise<unknown> {
  let dir: string | undefined;
  try {
    dir = await mkdtemp(path.join(os.tmpdir(), 'asset-meta-pdfjs-'));
    const file = path.join(dir, 'pdf.worker.mjs');
    await writeFile(file, text, { mode: 0o600, flag: 'wx' });
    return await import(pathToFileURL(file).href);
  } catch {
    return import(`data:text/javascript;base64,${text.toString('base64')}`);
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Makes pdf.js's fake worker (the one Node uses, on the calling thread) the patched module, by handing
 * it over as `globalThis.pdfjsWorker`, which pdf.js takes before importing its own. Call before the first
 * PDFWorker is made; later calls wait for the first. Never rejects: whatever goes wrong leaves pdf.js
 * with its stock module (correct, only slower on AES-256 files).
 */
export function usePatchedPdfWorker(): Promise<void> {
  loading ??= (async () => {
    const g = globalThis as Record<PropertyKey, unknown>;
    if (g.pdfjsWorker) return;
    const file = fileURLToPath(import.meta.resolve('pdfjs-dist/legacy/build/pdf.worker.mjs'));
    const text = patchedWorkerSource(await readFile(file));
    if (!text) return;
    g[hookKey] = pdf20Hash;
    g.pdfjsWorker = await importSource(text);
    patched = true;
  })().catch(() => {});
  return loading;
}
