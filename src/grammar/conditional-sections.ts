/**
 * The conditional sections Apache evaluates while reading (`start_cond_section`,
 * server/core.c; `start_ifversion`, modules/metadata/mod_version.c).
 */
import type { HostFacts } from './conditions.js';
import { getWordConf } from './words.js';

const CONDITIONALS = new Set(['<ifmodule', '<ifdefine', '<iffile', '<ifdirective', '<ifsection', '<ifversion']);

/** True for the section keys Apache evaluates at read time. */
export function isConditionalSection(key: string): boolean {
  return CONDITIONALS.has(key);
}

export interface ConditionVerdict {
  value: boolean;
  /** Apache's error text when the section line itself is malformed. */
  error?: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function ifVersion(rawArgs: string, version: string): ConditionVerdict {
  const words: string[] = [];
  let pos = 0;
  while (pos < rawArgs.length && words.length < 4) {
    const w = getWordConf(rawArgs, pos);
    if (w.value === '' && w.next >= rawArgs.length) break;
    words.push(w.value);
    pos = w.next;
  }
  let [op, value] = words;
  if (value === undefined) {
    value = op;
    op = '=';
  }
  if (value === undefined || op === undefined) {
    return { value: false, error: "<IfVersion> directive missing closing '>'" };
  }
  if (value.endsWith('>')) value = value.slice(0, -1);
  else if (words[2] !== '>') return { value: false, error: "<IfVersion> directive missing closing '>'" };
  let reverse = false;
  if (op.startsWith('!')) {
    reverse = true;
    op = op.slice(1);
  }
  let match: boolean;
  if (op === '~' || (op === '=' && value.startsWith('/') && value.endsWith('/') && value.length > 1)) {
    const re = op === '~' ? value : value.slice(1, -1);
    try {
      match = new RegExp(re).test(version);
    } catch {
      return { value: false, error: 'Unable to compile regular expression' };
    }
  } else {
    const c = compareVersions(version, value);
    switch (op) {
      case '=':
      case '==':
        match = c === 0;
        break;
      case '<':
        match = c < 0;
        break;
      case '<=':
        match = c <= 0;
        break;
      case '>':
        match = c > 0;
        break;
      case '>=':
        match = c >= 0;
        break;
      default:
        return { value: false, error: `unknown operator '${op}'` };
    }
  }
  return { value: reverse ? !match : match };
}

/** Evaluates the condition of a conditional section line. */
export function evaluateCondition(key: string, name: string, rawArgs: string, host: HostFacts, defines: ReadonlyMap<string, string>): ConditionVerdict {
  if (key === '<ifversion') return ifVersion(rawArgs, host.version);
  const gt = rawArgs.lastIndexOf('>');
  if (gt === -1) return { value: false, error: `<${name}> directive missing closing '>'` };
  let arg = rawArgs.slice(0, gt);
  const not = arg.startsWith('!');
  if (not) arg = arg.slice(1);
  const word = getWordConf(arg, 0).value;
  if (word === '') return { value: false, error: `<${name}> directive requires additional arguments` };
  let result: boolean;
  switch (key) {
    case '<ifmodule':
      result = host.hasModule(word);
      break;
    case '<ifdefine':
      result = defines.has(word) || host.isDefined(word);
      break;
    case '<iffile':
      result = host.fileExists(word);
      break;
    case '<ifdirective':
      result = host.hasDirective(word.toLowerCase());
      break;
    case '<ifsection':
      result = host.hasDirective(`<${word.toLowerCase()}`);
      break;
    default:
      result = false;
  }
  return { value: not ? !result : result };
}
