/**
 * The host's load balancer as a student meets it: scripts.mit.edu sends requests through LVS to
 * several real servers, each with its own Apache and its own mod_fcgid process table, and keeps
 * a client on the server it was sent to for as long as the client keeps coming back within the
 * persistence timeout (600 s there, the same as FcgidIdleTimeout: docs/scripts-service.md). A
 * new client (or one whose persistence expired) gets the next server in turn. Pure: the caller
 * passes the time.
 */

/** Which back-end server each client is kept on, and until when. */
export class PersistenceTable {
  private readonly clients = new Map<string, { server: number; untilMs: number }>();
  private next = 0;
  private sweepAtMs = 0;

  /**
   * @param servers how many simulated real servers (≥ 1)
   * @param persistenceMs how long a client stays on its server after its last request (LVS `-p`)
   */
  constructor(
    readonly servers: number,
    readonly persistenceMs: number,
  ) {}

  /** The server (0-based) for a request from `client` at `nowMs`; its persistence is renewed. */
  route(client: string, nowMs: number): number {
    if (this.servers <= 1) return 0;
    const kept = this.clients.get(client);
    let server: number;
    if (kept && kept.untilMs > nowMs) server = kept.server;
    else {
      server = this.next;
      this.next = (this.next + 1) % this.servers;
    }
    this.clients.set(client, { server, untilMs: nowMs + this.persistenceMs });
    // Expired entries go in one pass now and then, so the table stays as small as the live clients.
    if (nowMs >= this.sweepAtMs) {
      this.sweepAtMs = nowMs + Math.max(1000, this.persistenceMs);
      for (const [k, v] of this.clients) if (v.untilMs <= nowMs) this.clients.delete(k);
    }
    return server;
  }

  /** Clients currently kept, by server (for the dashboard). */
  clientsPerServer(nowMs: number): number[] {
    const out = new Array<number>(this.servers).fill(0);
    for (const v of this.clients.values()) if (v.untilMs > nowMs) out[v.server]!++;
    return out;
  }
}

/** The client an LVS persistence template is keyed on: the source address, or the first `X-Forwarded-For` address when one is given (so a class can show it from one machine). */
export function balancerClientKey(remoteAddress: string, forwardedFor: string | undefined): string {
  if (forwardedFor) {
    const first = forwardedFor.split(',')[0]!.trim();
    if (first) return first;
  }
  return remoteAddress;
}
