/**
 * mod_reqtimeout (modules/filters/mod_reqtimeout.c): `RequestReadTimeout`, read as
 * `set_reqtimeouts` / `set_reqtimeout_param` read it, with their messages. A server-level
 * directive: `check` judges each line through the compile, and the server reads the lines'
 * stages with the host configuration (src/server/site-context.ts) for its read deadlines
 * (src/engine/request-reading.ts `readExpired`, the module's input filter).
 */
import { splitWords } from '../grammar/words.js';
import { finding, refused, type ModuleDefinition } from './module.js';

/** One stage of mod_reqtimeout (`header=20-40,MinRate=500`); initialMs 0: the stage is off. */
export interface ReadStage {
  initialMs: number;
  /** The most the stage may be extended to (equals initialMs without a range). */
  maxMs: number;
  /** Bytes per second that extend the stage by one second (0: no extension). */
  minRate: number;
}

/** mod_reqtimeout's defaults (2.4.39 on): header=20-40,MinRate=500 body=20,MinRate=500. */
export const REQTIMEOUT_DEFAULTS: { header: ReadStage; body: ReadStage } = {
  header: { initialMs: 20_000, maxMs: 40_000, minRate: 500 },
  body: { initialMs: 20_000, maxMs: 20_000, minRate: 500 },
};

/** The stages one line sets (the TLS handshake stage is accepted and not emulated). */
type StagesOfLine = Partial<Record<'header' | 'body' | 'handshake', ReadStage>>;

/** `parse_int`: strtol over the whole text, non-negative. */
function parseInt10(text: string): number | { error: string } {
  const m = /^[ \t\n\v\f\r]*[+-]?\d+/.exec(text);
  if (!m) return { error: `Value '${text}' not numerical` };
  if (m[0].length < text.length) return { error: `Cannot parse '${text.slice(m[0].length)}'` };
  const n = Number.parseInt(m[0], 10);
  return n < 0 ? { error: 'Value must be non-negative' } : n;
}

/** `set_reqtimeout_param`: one `stage=timeout[-max][,MinRate=rate]`, the stage reset first. */
function stageOf(value: string): ReadStage | { error: string } {
  let initialText = value;
  let maxText: string | undefined;
  let minRate = 0;
  const rateAt = value.toLowerCase().indexOf(',minrate=');
  if (rateAt !== -1) {
    const rate = parseInt10(value.slice(rateAt + ',minrate='.length));
    if (typeof rate !== 'number') return rate;
    if (rate === 0) return { error: 'Minimum data rate must be larger than 0' };
    minRate = rate;
    initialText = value.slice(0, rateAt);
    const dash = initialText.indexOf('-');
    if (dash !== -1) {
      maxText = initialText.slice(dash + 1);
      initialText = initialText.slice(0, dash);
    }
  } else if (value.includes('-')) return { error: 'Must set MinRate option if using timeout range' };
  let max = 0;
  if (maxText !== undefined) {
    const parsed = parseInt10(maxText);
    if (typeof parsed !== 'number') return parsed;
    max = parsed;
  }
  const initial = parseInt10(initialText);
  if (typeof initial !== 'number') return initial;
  if (max && initial >= max) return { error: 'Maximum timeout must be larger than initial timeout' };
  return { initialMs: initial * 1000, maxMs: (max || initial) * 1000, minRate };
}

/** `set_reqtimeouts`: the stages of one line's words, or Apache's message for the first bad one. */
export function requestReadTimeoutLine(words: readonly string[]): StagesOfLine | { error: string } {
  const stages: StagesOfLine = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq === -1) return { error: "Invalid RequestReadTimeout parameter. Parameter must be in the form 'key=value'" };
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    const stage = key.toLowerCase();
    const parsed = stage === 'header' || stage === 'body' || stage === 'handshake' ? stageOf(value) : { error: 'Unknown RequestReadTimeout parameter' };
    if ('error' in parsed) return { error: `RequestReadTimeout: ${key}=${value}: ${parsed.error}` };
    stages[stage as keyof StagesOfLine] = parsed;
  }
  return stages;
}

/** The header and body stages of every `RequestReadTimeout` line in turn, over the defaults. */
export function parseRequestReadTimeout(lines: readonly (readonly string[])[]): { header: ReadStage; body: ReadStage } | { error: string } {
  const out = { header: REQTIMEOUT_DEFAULTS.header, body: REQTIMEOUT_DEFAULTS.body };
  for (const words of lines) {
    const stages = requestReadTimeoutLine(words);
    if ('error' in stages) return stages;
    if (stages.header) out.header = stages.header;
    if (stages.body) out.body = stages.body;
  }
  return out;
}

/** mod_reqtimeout as Apache loads it. */
export const reqtimeoutModule: ModuleDefinition = {
  name: 'reqtimeout',
  directives: [
    {
      name: 'RequestReadTimeout',
      shape: 'RAW_ARGS',
      override: 'RSRC_CONF',
      help: 'Set various timeout parameters for TLS handshake and/or reading request headers and body',
      compile: ({ rawArgs }) => {
        const stages = requestReadTimeoutLine(splitWords(rawArgs).map((w) => w.value));
        return 'error' in stages ? refused(finding(stages.error)) : { findings: [], value: undefined };
      },
    },
  ],
  hooks: {},
};
