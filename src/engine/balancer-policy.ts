/**
 * mod_proxy_balancer's choice of a member with lbmethod byrequests, and its error state: which
 * member the next attempt goes to, which are out of rotation after a failure and for how long.
 * Pure: time comes in as an argument; the state is the balancer's shared memory in Apache.
 *
 * - byrequests (`find_best_byrequests`, proxy_util.c `proxy_balancer_get_best_worker`): every
 *   usable member's lbstatus grows by its lbfactor; the largest wins (the first one on a tie)
 *   and gives back the sum of the factors. Equal factors make a round robin.
 * - A member whose attempt was a 503 (refused, or reset before an answer) is in error: not chosen until
 *   its `retry` time (60 s by default) has passed since the failure.
 * - `force_recovery`: when every member is in error, all are taken back at once.
 * - A request tries at most as many members as there are (mod_proxy's max_attempts defaults to
 *   one fewer than the members, after the first attempt).
 */

export interface BalancerMemberState {
  /** lbfactor: `loadfactor` × 100 (default 100). */
  factor: number;
  /** The member's `retry`, in ms. */
  retryMs: number;
  lbstatus: number;
  /** When the member went into error (ms), if it is in error. */
  errorSince: number | undefined;
}

export interface BalancerState {
  members: BalancerMemberState[];
}

export function newBalancerState(members: readonly { factor: number; retryMs: number }[]): BalancerState {
  return { members: members.map((m) => ({ factor: m.factor, retryMs: m.retryMs, lbstatus: 0, errorSince: undefined })) };
}

function usable(m: BalancerMemberState, nowMs: number): boolean {
  // ap_proxy_retry_worker: an error older than the retry time is forgotten.
  if (m.errorSince !== undefined && nowMs > m.errorSince + m.retryMs) m.errorSince = undefined;
  return m.errorSince === undefined;
}

/**
 * One attempt's member (its index), after force_recovery; `recovered` lists the members taken
 * back because all were in error. Undefined when none can be chosen (AH01170).
 */
export function electMember(b: BalancerState, nowMs: number): { index: number; recovered: number[] } | undefined {
  const recovered: number[] = [];
  if (b.members.length > 0 && b.members.every((m) => !usable(m, nowMs))) {
    b.members.forEach((m, i) => {
      m.errorSince = undefined;
      recovered.push(i);
    });
  }
  let best = -1;
  let total = 0;
  b.members.forEach((m, i) => {
    if (!usable(m, nowMs)) return;
    m.lbstatus += m.factor;
    total += m.factor;
    if (best < 0 || m.lbstatus > b.members[best]!.lbstatus) best = i;
  });
  if (best < 0) return undefined;
  b.members[best]!.lbstatus -= total;
  return { index: best, recovered };
}

/** The member's attempt failed: out of rotation for its retry time. */
export function memberFailed(b: BalancerState, index: number, nowMs: number): void {
  const m = b.members[index];
  if (m) m.errorSince = nowMs;
}

/** How many attempts one request may make (the first and mod_proxy's max_attempts more). */
export function attemptsPerRequest(b: BalancerState): number {
  return Math.max(1, b.members.length);
}
