/** docs/cli.md: every command's own `--help`, so the reference cannot drift from the CLI (a test compares). */
import { main } from './main.js';

/** The commands documented, in the order a newcomer meets them. */
const COMMANDS = ['init', 'serve', 'check', 'compare'];

async function helpOf(args: string[]): Promise<string> {
  let out = '';
  await main([...args, '--help'], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {}, cwd: '/' });
  return out.trimEnd();
}

export async function renderCliMarkdown(): Promise<string> {
  const parts = [
    '# Command-line reference',
    '',
    "Generated from the commands' own `--help` by `npm run docs`; a test fails when this file is stale.",
    '',
    '```text',
    await helpOf([]),
    '```',
  ];
  for (const name of COMMANDS) parts.push('', `## htsandbox ${name}`, '', '```text', await helpOf([name]), '```');
  return `${parts.join('\n')}\n`;
}
