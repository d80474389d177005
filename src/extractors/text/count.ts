/**
 * Counts code points and lines of decoded text fed in pieces (docs/contract.md §3): `charCount` counts Unicode
 * code points; `lineCount` counts lines ended by LF, CRLF or a lone CR, plus a last unterminated
 * non-empty line. A CRLF split between two pieces is one line end, not two. Work per piece is native string
 * search (indexOf for line ends, one search for the first surrogate); a JS loop runs only from there.
 */
const highSurrogate = /[\uD800-\uDBFF]/;

export class TextCounter {
  /** Code units less surrogate pairs. */
  charCount = 0;
  private lineEnds = 0;
  /** The last code unit seen: a CR there and a LF starting the next piece are one CRLF; not a line end, an unterminated line. */
  private lastUnit = -1;

  push(text: string): void {
    const n = text.length;
    if (n === 0) return;
    this.charCount += n;
    // TextDecoder in stream mode never splits a code point between outputs, so pairs are whole here.
    const first = text.search(highSurrogate);
    for (let i = first === -1 ? n : first; i < n; i++) {
      if ((text.charCodeAt(i) & 0xfc00) === 0xd800) this.charCount--;
    }

    let start = 0;
    if (this.lastUnit === 0x0d && text.charCodeAt(0) === 0x0a) start = 1; // the LF of a CRLF counted at its CR
    for (let i = text.indexOf('\n', start); i !== -1; i = text.indexOf('\n', i + 1)) this.lineEnds++;
    for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1)) {
      // A CR ends a line; a LF right after it belongs to the same end and was counted above: undo it.
      this.lineEnds++;
      if (i + 1 < n && text.charCodeAt(i + 1) === 0x0a) this.lineEnds--;
    }
    this.lastUnit = text.charCodeAt(n - 1);
  }

  get lineCount(): number {
    const unterminated = this.lastUnit !== -1 && this.lastUnit !== 0x0a && this.lastUnit !== 0x0d;
    return this.lineEnds + (unterminated ? 1 : 0);
  }
}
