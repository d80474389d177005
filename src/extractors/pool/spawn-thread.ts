/** Starts one extraction thread (thread.ts), from the built JavaScript or, under the test runner, from source. */
import { Worker } from 'node:worker_threads';

const fromSource = import.meta.url.endsWith('.ts');
const threadUrl = new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url);

/**
 * Under the test runner the sources are TypeScript: the thread registers the same loader (tsx) first. An
 * eval'd thread runs no `--import` of its execArgv, so the boot imports those modules itself, in order,
 * before thread.ts, as Node does for a thread started from a file.
 */
export function spawnThread(options: ConstructorParameters<typeof Worker>[1]): Worker {
  if (!fromSource) return new Worker(threadUrl, options);
  const args = options?.execArgv ?? [];
  const imports = args.flatMap((a, i) => (a === '--import' && args[i + 1] ? [args[i + 1]] : a.startsWith('--import=') ? [a.slice(9)] : []));
  const modules = JSON.stringify([...imports, threadUrl.href]);
  const boot = `import('tsx/esm/api').then(async (api) => { api.register(); for (const m of ${modules}) await import(m); })`;
  return new Worker(boot, { ...options, eval: true });
}
