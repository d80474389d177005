/**
 * Which kind of text: json, html, csv, markdown or plain, decided by content, never by a file name.
 * Everything here looks at a bounded prefix of the decoded text ({@link formatSampleChars}); only JSON of a
 * small file is parsed whole, because "starts with {" alone would call any brace-led log JSON.
 */
import type { TextInfo } from '../../contract.js';

type TextFormat = TextInfo['format'];

/** Characters of the text's start that the format checks read. */
export const formatSampleChars = 64 * 1024;
/** Up to this many bytes a JSON candidate is parsed in full; past it, its ends decide (see below). */
export const jsonParseMaxBytes = 4 * 1024 * 1024;
/** Lines of the start the CSV and Markdown checks read; a CSV needs at least `csvMinRows` of them. */
const sampleLines = 50;
const csvMinRows = 2;
const csvDelimiters = [',', ';', '\t', '|'] as const;

export interface FormatInput {
  /** The start of the text, BOM removed, up to {@link formatSampleChars}. */
  prefix: string;
  /** The whole text when the file is small enough to parse as JSON, else undefined. */
  whole?: string;
  /** The last non-whitespace character of the whole text ('' when there is none). */
  lastNonSpace: string;
}

/**
 * JSON (RFC 8259) whose top level is an object or array. A small file must parse. A large one is judged by
 * its ends: it opens with { or [ followed by what JSON allows there, and closes with the matching bracket.
 * That is a heuristic, said plainly: parsing gigabytes would need a streaming parser's time and memory.
 */
function isJson({ prefix, whole, lastNonSpace }: FormatInput): boolean {
  const open = /\S/.exec(prefix.slice(0, 1024))?.[0];
  if (open !== '{' && open !== '[') return false;
  if (lastNonSpace !== (open === '{' ? '}' : ']')) return false;
  if (whole !== undefined) {
    try {
      JSON.parse(whole);
      return true;
    } catch {
      return false;
    }
  }
  return /^\s*(?:\{\s*["}]|\[\s*[-\d"{[\]tfn])/.test(prefix.slice(0, 1024));
}

function isHtml(prefix: string): boolean {
  const start = prefix.slice(0, 4096).replace(/^\s*(?:<!--[\s\S]*?-->\s*)*/, '');
  if (/^<!doctype\s+html[\s>]/i.test(start) || /^<html[\s>]/i.test(start)) return true;
  // Fragments saved without a doctype still open with markup and carry a head or body.
  return start.startsWith('<') && /<(?:head|body)[\s>]/i.test(start);
}

/** Whole lines of the sample: the last one may be cut by the sample's end, so it is dropped when the text goes on. */
function sampleOf(prefix: string, complete: boolean): string[] {
  const lines = prefix.split(/\r\n|\r|\n/, sampleLines + 1);
  if (!complete && lines.length > 1) lines.pop();
  return lines.slice(0, sampleLines).filter((l) => l.trim() !== '');
}

/** Delimiters outside double-quoted fields (RFC 4180 quoting), counted per line. */
function delimiterCount(line: string, delimiter: string): number {
  let count = 0;
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === delimiter && !quoted) count++;
  }
  return count;
}

/** Every sampled line has the same, non-zero number of one delimiter. */
function isCsv(lines: string[]): boolean {
  return lines.length >= csvMinRows && csvDelimiters.some((d) => {
    const first = delimiterCount(lines[0]!, d);
    return first > 0 && lines.every((l) => delimiterCount(l, d) === first);
  });
}

/**
 * CommonMark constructs (https://spec.commonmark.org/): a heading, a code fence or a GFM table's delimiter
 * row is enough; otherwise two different weaker signs (rules/setext underlines, lists, quotes, links,
 * emphasis, code spans). A "#" line without a space after the hash (#EXTM3U, #!/bin/sh) is no heading.
 */
const mdStrong = [/^#{1,6}\s+\S/, /^(?:```|~~~)/, /^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)+\|?\s*$/];
const mdWeak = [/^(?:={3,}|-{3,})\s*$/, /^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+\S/, /^\s{0,3}>\s?\S/, /\[[^\]\n]+\]\([^)\s]+(?:\s+"[^"]*")?\)/, /(?:\*\*|__)\S[^*_]*\S(?:\*\*|__)/, /`[^`\n]+`/];

/** @param complete whether `prefix` holds the whole text */
export function textFormat(input: FormatInput, complete: boolean): TextFormat {
  if (isJson(input)) return 'json';
  if (isHtml(input.prefix)) return 'html';
  const lines = sampleOf(input.prefix, complete);
  // A Markdown table also has one '|' count per line: headings and fences decide for Markdown first.
  if (lines.some((l) => mdStrong.some((re) => re.test(l)))) return 'markdown';
  if (isCsv(lines)) return 'csv';
  return mdWeak.filter((re) => lines.some((l) => re.test(l))).length >= 2 ? 'markdown' : 'plain';
}

/** The MIME type each format is served with (IANA registrations; text/markdown is RFC 7763). */
export const mimeByFormat: Record<TextFormat, string> = {
  plain: 'text/plain', markdown: 'text/markdown', html: 'text/html', json: 'application/json', csv: 'text/csv',
};
