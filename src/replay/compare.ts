/**
 * Compares a result with a fixture's `<file>.expected.json`. The expected file names only what is known
 * from how the fixture was made: every field it names must match; fields it leaves out are not compared.
 *
 * Keys starting with `$` are notes, not fields: `$comment` says how the file was made, and
 * `$tolerance` maps a dotted path (`video.durationSec`) to the absolute difference allowed for that number
 * (container timestamps are rounded; a tolerance must say so, no number is approximate by default).
 */
export interface Difference {
  path: string;
  expected: unknown;
  actual: unknown;
}

export type Expected = Record<string, unknown> & { $tolerance?: Record<string, number> };

export function compareExpected(expected: Expected, actual: unknown): Difference[] {
  const tolerance = expected.$tolerance ?? {};
  const out: Difference[] = [];
  walk(expected, actual, '', tolerance, out);
  return out;
}

function walk(exp: unknown, act: unknown, path: string, tol: Record<string, number>, out: Difference[]): void {
  if (Array.isArray(exp)) {
    if (!Array.isArray(act) || act.length !== exp.length) {
      out.push({ path, expected: exp, actual: act });
      return;
    }
    exp.forEach((e, i) => walk(e, act[i], `${path}[${i}]`, tol, out));
    return;
  }
  if (exp !== null && typeof exp === 'object') {
    if (act === null || typeof act !== 'object' || Array.isArray(act)) {
      out.push({ path, expected: exp, actual: act });
      return;
    }
    for (const [k, v] of Object.entries(exp)) {
      if (k.startsWith('$')) continue;
      walk(v, (act as Record<string, unknown>)[k], path ? `${path}.${k}` : k, tol, out);
    }
    return;
  }
  if (typeof exp === 'number' && typeof act === 'number') {
    const allowed = tol[path.replace(/\[\d+\]/g, '[]')] ?? tol[path] ?? 0;
    if (Math.abs(exp - act) > allowed) out.push({ path, expected: exp, actual: act });
    return;
  }
  if (exp !== act) out.push({ path, expected: exp, actual: act });
}
