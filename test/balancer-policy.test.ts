/** mod_proxy_balancer's byrequests choice and error state (engine/balancer-policy.ts). */
import { describe, expect, it } from 'vitest';
import { attemptsPerRequest, electMember, memberFailed, newBalancerState } from '../src/engine/balancer-policy.js';
import { proxyBalancers } from '../src/grammar/proxy-target.js';
import { parseConfig } from '../src/grammar/parser.js';
import { NO_HOST_FACTS } from '../src/grammar/conditions.js';

const equal = (n: number, retryMs = 60_000) => newBalancerState(Array.from({ length: n }, () => ({ factor: 100, retryMs })));
const elect = (b: ReturnType<typeof equal>, now = 0): number | undefined => electMember(b, now)?.index;

describe('balancer policy (byrequests)', () => {
  it('takes equal members in turn, and weighs loadfactors', () => {
    const b = equal(3);
    expect([0, 1, 2, 3, 4, 5].map(() => elect(b))).toEqual([0, 1, 2, 0, 1, 2]);
    const w = newBalancerState([
      { factor: 200, retryMs: 0 },
      { factor: 100, retryMs: 0 },
    ]);
    expect(Array.from({ length: 6 }, () => electMember(w, 0)!.index)).toEqual([0, 1, 0, 0, 1, 0]);
  });
  it('leaves a failed member out until its retry time has passed, as Apache did in the conformance case', () => {
    const b = equal(3);
    // The first member refuses: it was elected, goes into error, and the request goes on.
    expect(elect(b, 0)).toBe(0);
    memberFailed(b, 0, 0);
    expect([elect(b, 1), elect(b, 2), elect(b, 3), elect(b, 4)]).toEqual([1, 2, 1, 2]);
    // 60 s later it is tried again.
    expect([elect(b, 60_001), elect(b, 60_002), elect(b, 60_003)]).toContain(0);
    expect(attemptsPerRequest(b)).toBe(3);
  });
  it('takes every member back when all are in error (force_recovery)', () => {
    const b = equal(2);
    memberFailed(b, 0, 0);
    memberFailed(b, 1, 0);
    const e = electMember(b, 10);
    expect(e?.recovered).toEqual([0, 1]);
    expect(e?.index).toBeDefined();
    expect(electMember(newBalancerState([]), 0)).toBeUndefined();
  });
});

describe('BalancerMember parameters', () => {
  it('reads retry= and loadfactor= as mod_proxy does, and refuses bad values', () => {
    const conf =
      '<Proxy "balancer://p">\nBalancerMember "fcgi://127.0.0.1:9000" retry=5 loadfactor=2.5\nBalancerMember "fcgi://127.0.0.1:9001"\nBalancerMember "fcgi://127.0.0.1:9002" loadfactor=0\nBalancerMember "fcgi://127.0.0.1:9003" retry=-1\n</Proxy>\n';
    const { balancers, errors } = proxyBalancers(parseConfig(conf, { file: 'host.conf', kind: 'server', host: NO_HOST_FACTS }).nodes);
    expect(balancers.get('p')!.map((m) => [m.retryMs, m.factor])).toEqual([
      [5000, 250],
      [60_000, 100],
    ]);
    expect(errors.map((e) => [e.line, e.message])).toEqual([
      [4, 'BalancerMember fcgi://127.0.0.1:9002: LoadFactor must be a number between 1..100'],
      [5, 'BalancerMember fcgi://127.0.0.1:9003: Retry must be a positive value'],
    ]);
  });
});
