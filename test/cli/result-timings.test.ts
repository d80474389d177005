/**
 * Results carry their timings to 0.1 ms, rounded once where the result is made, for successes and
 * failures alike.
 */
import { expect, it } from 'vitest';
import { CorruptAssetError } from '../../src/errors.js';
import { failedResult, okResult } from '../../src/result.js';

// Raw clock differences as performance.now() gives them; the expected values are these to one decimal.
const raw = { sign: 0.04, download: 18.61021299999993, extract: 7.96, total: 1234.5678 };
const expected = { sign: 0, download: 18.6, extract: 8, total: 1234.6 };

it('an ok result rounds each timing to 0.1 ms', () => {
  const text = { format: 'plain', encoding: 'utf-8', lineCount: 1, charCount: 2 };
  const result = okResult('a', { sizeBytes: 2, sha256: '0'.repeat(64) }, { dataType: 'text', mimeType: 'text/plain', section: text } as never, raw);
  expect(result.timingsMs).toEqual(expected);
});

it('a failed result rounds them too, and a clock difference just under zero becomes 0', () => {
  const result = failedResult('a', new CorruptAssetError('bad'), { ...raw, sign: -0.00001 });
  expect(result.timingsMs).toEqual(expected);
});
