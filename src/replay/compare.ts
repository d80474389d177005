/**
 * Compares a result with a fixture's `<file>.expected.json`. The expected file names only what is known
 * from how the fixture was made: every field it names must match; fields it leaves out are not compared.
 *
 * Keys starting with `$` are notes, not fields: `$comment` says how the file was made, and
 * `$tolerance` maps a dotted path (`video.durationSec`) to the absolute difference allowed for that number
 * (container timestamps are rounded; a tolerance must say so, no number is approximate by default).
 */
export type Difference = { path: string; expected: unknown; actual: unknown };

export type Expected = Record<string, unknown> & { $tolerance?: Record<string, number> };

export function compareExpected(expected: Expected, actual: unknown): Difference[] {
  const out: Difference[] = [];
  walk(expected, actual, '', expected.$tolerance ?? {}, out);
  return out;
}

function walk(exp: unknown, act: unknown, path: string, tol: Record<string, number>, out: Difference[]): void {
  const differ = () => out.push({ path, expected: exp, actual: act });
  if (Array.isArray(exp)) {
    if (!Array.isArray(act) || act.length !== exp.length) differ();
    else exp.forEach((e, i) => walk(e, act[i], `${path}[${i}]`, tol, out));
  } else if (exp !== null && typeof exp === 'object') {
    if (act === null || typeof act !== 'object' || Array.isArray(act)) differ();
    else Object.entries(exp).filter(([k]) => !k.startsWith('$')).forEach(([k, v]) => walk(v, (act as Record<string, unknown>)[k], path ? `${path}.${k}` : k, tol, out));
  } else if (typeof exp === 'number' && typeof act === 'number') {
    // A tolerance names an array's items as `[]` (`pdf.pages[].width`) or one item by its index.
    if (Math.abs(exp - act) > (tol[path.replace(/\[\d+\]/g, '[]')] ?? tol[path] ?? 0)) differ();
  } else if (exp !== act) differ();
}
