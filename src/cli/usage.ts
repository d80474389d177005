/**
 * What every asset-meta command has in common: its help, how it reads its arguments, how a usage error reads
 * (one line, then the usage, exit 2). Loads only Node's built-ins, as each command's own module does.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';

export interface Command {
  /** The whole --help text; its first paragraph is the usage shown under a usage error. */
  help: string;
  /**
   * Reads the arguments, throwing UsageError, and loads nothing but Node's built-ins; the function it returns
   * runs the command (`config` loads and validates the environment when called) and answers the exit status.
   */
  parse(argv: string[]): (config: () => Promise<Config>) => Promise<number>;
}

/** A command line the command cannot run: the message names the problem in one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Longest piece of an argument echoed back in a usage error. */
const maxEchoChars = 80;

/** An argument as shown in a message: quoted, cut short if long. */
export function quote(arg: string): string {
  return JSON.stringify(arg.length > maxEchoChars ? `${arg.slice(0, maxEchoChars)}…` : arg);
}

/** Node's parseArgs, strict, its errors turned into UsageError (one line, lower-cased, bounded). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals: boolean,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) throw err;
    const first = (err as Error).message.split(/\.\s/)[0] ?? '';
    const line = first.length > 2 * maxEchoChars ? `${first.slice(0, 2 * maxEchoChars)}…` : first;
    throw new UsageError(line.charAt(0).toLowerCase() + line.slice(1));
  }
}

/** A whole number of at least zero, from an option's text. */
export function nonNegativeInt(option: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${option} must be a whole number of 0 or more, not ${quote(text)}`);
  return n;
}

/** The option's text when it is one of `choices`. */
export function oneOf<const C extends string>(option: string, text: string, choices: readonly C[]): C {
  if ((choices as readonly string[]).includes(text)) return text as C;
  throw new UsageError(`${option} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, not ${quote(text)}`);
}

/** Runs one command: `--help`, usage and configuration errors (exit 2); the exit status (-1: keeps running). */
export async function runCommand(program: string, command: Command, args: string[], config: () => Promise<Config>): Promise<number> {
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.parse(args)(config);
  } catch (err) {
    if (err instanceof UsageError) console.error(usageMessage(program, command.help, err.message));
    else if (err instanceof Error && err.name === 'ConfigError') console.error(err.message);
    else throw err;
    return 2;
  }
}

/** What a usage error of `program` ("asset-meta probe") prints on stderr. */
export function usageMessage(program: string, help: string, problem: string): string {
  // Without a command, the whole (short) help: its list of commands is the usage; else the help's first paragraph.
  if (!program.includes(' ')) return `${program}: ${problem}\n${help}`;
  return `${program}: ${problem}\n${help.split('\n\n')[0]}\nRun "${program} --help" for the options and examples.`;
}
