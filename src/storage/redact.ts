/**
 * Signed URLs carry their credential in the query string. Anything that leaves the worker (logs, errors
 * saved in results, metric labels) names a URL by its origin and path only.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?[redacted]' : ''}`;
  } catch {
    return '[unparseable url]';
  }
}

/** Removes every query string of an http(s) URL that appears inside free text (an error message). */
export function redactUrlsIn(text: string): string {
  return text.replace(/(https?:\/\/[^\s?#"'<>]+)\?[^\s"'<>]*/gi, '$1?[redacted]');
}
