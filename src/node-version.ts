/**
 * The Node.js the worker needs, checked first by each entry point, so that an older Node gets one line saying
 * what to install instead of a stack trace from a dependency (undici 8 needs 22.19; pdf.js, music-metadata and
 * file-type need 22). Keep it in step with `engines` in package.json. It imports nothing.
 */
export const minimumNode = [22, 19] as const;

/** Whether a `process.versions.node` string is at least `minimumNode`. */
export function isSupportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > minimumNode[0] || (major === minimumNode[0] && minor >= minimumNode[1]);
}

if (!isSupportedNode(process.versions.node)) {
  process.stderr.write(
    `asset-metadata-worker needs Node.js ${minimumNode.join('.')} or later (this is ${process.versions.node}): install a current LTS line.\n`,
  );
  process.exit(1);
}
