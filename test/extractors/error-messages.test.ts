/**
 * How error messages are made (errors.ts): from a known message field only, never by serialising a thrown
 * value, and bounded at maxErrorMessageBytes wherever an AssetError is built or rebuilt.
 */
import { describe, expect, it } from 'vitest';
import {
  CorruptAssetError,
  boundedMessage,
  fromSerialized,
  isWorkerFault,
  maxErrorMessageBytes,
  messageOf,
  workerFault,
} from '../../src/errors.js';
import { logJobOutcome } from '../../src/observability/job-log.js';
import { captureLogs } from '../observability/harness.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

describe('messageOf', () => {
  it.each([
    ['an Error', new TypeError('x is not a function'), 'x is not a function'],
    ['a thrown string', 'dicomParser.readFixedString: attempt to read past end of buffer', 'dicomParser.readFixedString: attempt to read past end of buffer'],
    ['dicom-parser’s string exception', { exception: 'buffer overrun', dataSet: { byteArray: Buffer.from('Doe^Jane') } }, 'buffer overrun'],
    ['dicom-parser’s Error exception', { exception: new RangeError('Maximum call stack size exceeded'), dataSet: { byteArray: Buffer.from('Doe^Jane') } }, 'Maximum call stack size exceeded'],
    ['a plain object with a message', { name: 'XRefEntryException', message: 'Bad (uncompressed) XRef entry: 8R' }, 'Bad (uncompressed) XRef entry: 8R'],
    ['an object with no message', { byteArray: Buffer.from('Doe^Jane'), elements: {} }, 'unknown error (a thrown object)'],
    ['an array', [80, 65, 84], 'unknown error (a thrown array)'],
    ['a number', 42, 'unknown error (a thrown number)'],
    ['null', null, 'unknown error (a thrown null)'],
    ['undefined', undefined, 'unknown error (a thrown undefined)'],
  ])('%s', (_, thrown, expected) => {
    expect(messageOf(thrown)).toBe(expected);
  });

  it('reads nothing from a value whose message getter throws', () => {
    const hostile = {
      get message(): string {
        throw new Error('no');
      },
    };
    expect(messageOf(hostile)).toBe('unknown error (unreadable)');
  });

  it('an array-like of 50 million bytes gives its short description at once, not a serialisation', () => {
    // What JSON.stringify would turn into ~200 MB of "0,0,0,...": the heap of a thread could not hold it.
    const huge = { exception: { code: 1 }, dataSet: { byteArray: new Uint8Array(50_000_000) } };
    const started = performance.now();
    expect(messageOf(huge)).toBe('unknown error (a thrown object)');
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('bounds a long Error message', () => {
    expect(bytes(messageOf(new Error('a'.repeat(100_000))))).toBeLessThanOrEqual(maxErrorMessageBytes);
  });
});

describe('boundedMessage', () => {
  it('keeps a message that fits, to the byte', () => {
    const exact = 'x'.repeat(maxErrorMessageBytes);
    expect(boundedMessage(exact)).toBe(exact);
    expect(boundedMessage('short')).toBe('short');
  });

  it('cuts a longer one at the limit and marks the cut', () => {
    const cut = boundedMessage('x'.repeat(maxErrorMessageBytes + 1));
    expect(bytes(cut)).toBeLessThanOrEqual(maxErrorMessageBytes);
    expect(cut).toMatch(/^x+ …\[cut\]$/);
  });

  it.each([
    ['two-byte characters', 'é'],
    ['three-byte characters', '€'],
    ['surrogate pairs', '😀'],
  ])('never splits a character: %s', (_, char) => {
    const cut = boundedMessage(char.repeat(2_000));
    expect(bytes(cut)).toBeLessThanOrEqual(maxErrorMessageBytes);
    // A lone surrogate would not survive a UTF-8 round trip (it becomes U+FFFD).
    expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut);
    expect(cut.replace(' …[cut]', '').replaceAll(char, '')).toBe('');
  });
});

describe('AssetError messages', () => {
  it('are bounded when made, in the stack too', () => {
    const err = new CorruptAssetError(`cannot read dicom: ${'5'.repeat(1_000_000)}`);
    expect(bytes(err.message)).toBeLessThanOrEqual(maxErrorMessageBytes);
    expect(err.stack!.split('\n')[0]!.length).toBeLessThanOrEqual(maxErrorMessageBytes + 'CORRUPT_ASSET: '.length);
  });

  it('are bounded when saved, even when rewritten after they were made', () => {
    const err = new CorruptAssetError('short');
    err.message = 'y'.repeat(10_000);
    expect(bytes(err.toJSON().message)).toBeLessThanOrEqual(maxErrorMessageBytes);
  });

  it('are bounded when rebuilt from the other side of a thread', () => {
    const err = fromSerialized({ code: 'CORRUPT_ASSET', message: 'z'.repeat(10_000) });
    expect(bytes(err.message)).toBeLessThanOrEqual(maxErrorMessageBytes);
  });
});

describe('workerFault', () => {
  it('is retried and says it is not the asset’s fault', () => {
    const err = workerFault('unhandled rejection in an extraction thread: boom');
    expect(err.toJSON()).toEqual({
      code: 'WORKER_FAULT',
      retriable: true,
      message: "worker fault (not the asset's): unhandled rejection in an extraction thread: boom",
    });
    expect(isWorkerFault(err)).toBe(true);
    expect(isWorkerFault(new CorruptAssetError('corrupt'))).toBe(false);
    expect(isWorkerFault('a string')).toBe(false);
  });
});

describe('the job log line', () => {
  it('bounds a failure message however the result got it (a result kept in a job’s data is read back as saved)', () => {
    const logs = captureLogs();
    const result = {
      schemaVersion: 1 as const,
      assetId: 'a',
      status: 'failed' as const,
      error: { code: 'CORRUPT_ASSET' as const, message: 'x'.repeat(20_000), retriable: false },
      timingsMs: { sign: 0, download: 0, extract: 0, total: 0 },
      processedAt: new Date(0).toISOString(),
    };
    logJobOutcome(logs.logger, { jobId: '1', attempt: 1, result, next: 'done' });
    const line = logs.lines()[0]!;
    expect(line).toMatchObject({ code: 'CORRUPT_ASSET', error: expect.stringMatching(/^x+ …\[cut\]$/) });
    expect(bytes(String(line.error))).toBeLessThanOrEqual(maxErrorMessageBytes);
  });
});
