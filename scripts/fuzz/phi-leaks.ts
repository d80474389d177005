/**
 * Looks for planted identifiers in an output (a result, a log line, what BullMQ keeps in Redis) in every
 * form a serialised value takes: the text itself, a byte list as JSON or util.inspect writes a Buffer or
 * an array ("80,65,84", "80, 65, 84"), hex ("504154", "50 41 54"), base64 and base64url at each of the
 * three alignments a value can have inside a longer encoded run.
 */

/** One form a secret can take in an output. */
interface Form {
  name: string;
  text: string;
  /** Hex is matched whatever its case. */
  caseless?: boolean;
}

/**
 * The base64 characters that depend only on `bytes`, whatever precedes them in the encoded run: for each
 * of the 3 offsets, the encoding of whole 3-byte groups that lie inside the secret.
 */
function base64Cores(bytes: Buffer, encoding: 'base64' | 'base64url'): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(encoding);
    const start = offset === 0 ? 0 : 4;
    const end = Math.floor((offset + bytes.length) / 3) * 4;
    if (end - start >= 8) out.push(encoded.slice(start, end));
  }
  return out;
}

export function leakForms(secret: string): Form[] {
  const bytes = Buffer.from(secret, 'utf8');
  const hex = bytes.toString('hex');
  return [
    { name: 'text', text: secret },
    { name: 'byte list', text: [...bytes].join(',') },
    { name: 'byte list with spaces', text: [...bytes].join(', ') },
    { name: 'hex', text: hex, caseless: true },
    { name: 'spaced hex', text: hex.replace(/(..)(?!$)/g, '$1 '), caseless: true },
    ...base64Cores(bytes, 'base64').map((text) => ({ name: 'base64', text })),
    ...base64Cores(bytes, 'base64url').map((text) => ({ name: 'base64url', text })),
  ];
}

/** Every planted value found in `output`, as "<label> as <form>"; empty when none is. */
export function findLeaks(output: string, secrets: Readonly<Record<string, string>>): string[] {
  const lower = output.toLowerCase();
  const found: string[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    for (const form of leakForms(secret)) {
      const hit = form.caseless ? lower.includes(form.text.toLowerCase()) : output.includes(form.text);
      if (hit) found.push(`${label} as ${form.name}`);
    }
  }
  return [...new Set(found)];
}
