/**
 * Azurite (the Azure Storage emulator) on loopback, for tests and the demo. It checks SAS signatures and
 * expiry as Azure does (docs NOTES: Azurite 3.35), so a broken SAS signer fails against it.
 *
 * It runs as a child process with one account whose name and key are random per start (Azurite's
 * AZURITE_ACCOUNTS), in memory, without telemetry, on a port the system picks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { once } from 'node:events';

/** A running emulator; call {@link Azurite.close} when done. */
export interface Azurite {
  /** `http://127.0.0.1:<port>/<account>`: the blob endpoint of the account (path style). */
  endpoint: string;
  account: string;
  /** The account key (base64), random per start. */
  accountKey: string;
  /** Creates a container (idempotent). */
  createContainer(name: string): Promise<void>;
  /** Writes a block blob with the account key. */
  putBlob(container: string, name: string, body: Buffer | string): Promise<void>;
  /** Stops the process; its in-memory data goes with it. */
  close(): Promise<void>;
}

/** How long Azurite may take to start listening (about 1 s here). */
const startTimeoutMs = 20_000;

export async function startAzurite(): Promise<Azurite> {
  const account = `dev${randomBytes(6).toString('hex')}`;
  const accountKey = randomBytes(64).toString('base64');
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost', '127.0.0.1',
      '--blobPort', '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit', '256',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--silent',
    ],
    { env: { ...process.env, AZURITE_ACCOUNTS: `${account}:${accountKey}` }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let port: number;
  try {
    port = await listeningPort(child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}/${account}`;

  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, accountKey));
  return {
    endpoint,
    account,
    accountKey,
    async createContainer(name) {
      await service.getContainerClient(name).createIfNotExists();
    },
    async putBlob(container, name, body) {
      const data = typeof body === 'string' ? Buffer.from(body) : body;
      await service.getContainerClient(container).getBlockBlobClient(name).upload(data, data.length);
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Reads Azurite's "successfully listens on http://127.0.0.1:<port>" line. */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not start within ${startTimeoutMs} ms: ${output.trim()}`)), startTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listens on https?:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        cleanup();
        // Keep draining the pipes so that a chatty emulator never blocks on a full one.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(Number(match[1]));
      }
    };
    const onExit = (code: number | null) => fail(new Error(`Azurite exited (${code}) before listening: ${output.trim()}`));
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}
