/**
 * What a module throws where the emulated host would not answer at all. Thrown by the pure
 * layers, caught by the server's request guard (request-guard.ts), which closes the connection.
 */

/**
 * Where Apache's process would crash on a request: the server that emulates it ends the
 * request without an answer (the connection closes, as the client of the crashed child sees
 * it), logs why, and goes on.
 */
export class HostProcessCrash extends Error {
  constructor(
    message: string,
    /** What to change so that the host does not crash. */
    readonly hint: string,
  ) {
    super(message);
    this.name = 'HostProcessCrash';
  }
}
