/** How bad a finding is: `error` means the host rejects the file (a 500 there). */
export type Severity = 'error' | 'warning' | 'info';

/** A position in a configuration file; line and column are 1-based. */
export interface SourcePosition {
  /** Path of the file as given to the parser (site-relative in `check`, absolute in `serve`). */
  file: string;
  /** 1-based physical line. */
  line: number;
  /** 1-based column on that physical line. */
  column: number;
}

/** One problem found in user input: collected, never thrown. */
export interface Diagnostic extends SourcePosition {
  /** Stable code from the error catalog (`docs/errors.md`). */
  code: string;
  severity: Severity;
  /** The message, in Apache's wording where Apache reports the same problem. */
  message: string;
  /** Plain-words advice on how to fix it. */
  hint?: string;
}

/** Collects diagnostics for one file; the first error in Apache's order is remembered. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.items.push(d);
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }
}
