/**
 * Loaded into fetch threads by tests only (FetchPool's `preload`): a response carrying `x-test-fault`
 * makes the thread fail the way an HTTP client's own bug does, outside any promise chain:
 * - `throw-after-ms=N`: an exception thrown from a timer N ms after the headers (the body is mid-way);
 * - `block`: the thread's event loop never turns again.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

diagnosticsChannel.subscribe('undici:request:headers', (message) => {
  const { headers } = (message as { response: { headers: Buffer[] } }).response;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i]!.toString('latin1').toLowerCase() !== 'x-test-fault') continue;
    const fault = headers[i + 1]!.toString('latin1');
    const delay = /^throw-after-ms=(\d+)$/.exec(fault);
    if (delay) {
      setTimeout(() => {
        throw new Error('fault injected into the fetch thread');
      }, Number(delay[1]));
    }
    if (fault === 'block') {
      setImmediate(() => {
        for (;;);
      });
    }
  }
});
