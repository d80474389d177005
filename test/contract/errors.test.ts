/** A coded error that crossed a thread boundary comes back as its own class: callers match with instanceof. */
import { expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/contract.js';
import * as errors from '../../src/errors.js';

const classes = (Object.values(errors) as unknown[]).filter((v): v is new (m: string) => errors.AssetError => typeof v === 'function' && v.prototype instanceof errors.AssetError);

it.each(ERROR_CODES)('%s is rebuilt as the class of that code, with its retry flag', (code) => {
  const rebuilt = errors.fromSerialized({ code, message: 'm', retryAfterMs: 5 });
  const own = classes.filter((C) => new C('x').code === code);
  expect(own).toHaveLength(1);
  expect(rebuilt).toBeInstanceOf(own[0]!);
  expect(rebuilt.retriable).toBe(new own[0]!('x').retriable);
  expect(rebuilt.retryAfterMs).toBe(5);
});
