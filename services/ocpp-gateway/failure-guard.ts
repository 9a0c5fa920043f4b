/** Failed handshakes cost the gateway a password check each and an audit record each: without a bound, anyone who can
 *  reach the port burns its CPU and grows ocpp.rejected (kept forever). The guard counts failures per source address
 *  and per charge point id in fixed windows; past the limit a source or id is refused at once, before any work, until
 *  its window ends. It also thins the audit: at most `auditPerWindow` ocpp.rejected records per source and reason per
 *  window, the next one after saying how many it stood for. Pure: the caller passes the time. */
export interface FailureGuardLimits {
  /** Failed handshakes from one source address per window before it is refused outright. */
  readonly perSource: number;
  /** Failed handshakes for one charge point id per window (from any source). */
  readonly perCharger: number;
  readonly windowMs: number;
  /** Audit records per source and reason per window (default 10: a few chargers behind one address failing at
   *  once are all recorded; a flood is not). */
  readonly auditPerWindow?: number;
  /** Keys kept at most (an attacker cycling ids or spoofing nothing but ids cannot grow memory without bound). */
  readonly maxKeys?: number;
}

interface Window {
  start: number;
  count: number;
}

export interface AuditDecision {
  readonly record: boolean;
  /** Refusals of this source and reason not recorded since the last record. */
  readonly suppressed: number;
}

export interface FailureGuard {
  /** Seconds until the source or the id may try again, or undefined when it may try now. */
  blockedFor(source: string, chargePointId: string, now: number): number | undefined;
  failed(source: string, chargePointId: string, now: number): void;
  audit(source: string, reason: string, now: number): AuditDecision;
}

export const createFailureGuard = (l: FailureGuardLimits): FailureGuard => {
  const maxKeys = l.maxKeys ?? 100_000;
  const auditPerWindow = l.auditPerWindow ?? 10;
  const bySource = new Map<string, Window>();
  const byCharger = new Map<string, Window>();
  const audits = new Map<string, Window & { suppressed: number }>();
  const current = <W extends Window>(m: Map<string, W>, key: string, now: number, fresh: () => W): W => {
    let w = m.get(key);
    if (!w || now - w.start >= l.windowMs) {
      if (!w && m.size >= maxKeys) {
        // Drop the oldest window (Map keeps insertion order; a renewed window is re-inserted below).
        const oldest = m.keys().next();
        if (!oldest.done) m.delete(oldest.value);
      }
      m.delete(key);
      w = fresh();
      m.set(key, w);
    }
    return w;
  };
  const waitOf = (w: Window | undefined, limit: number, now: number): number | undefined =>
    w && now - w.start < l.windowMs && w.count >= limit ? Math.max(1, Math.ceil((w.start + l.windowMs - now) / 1000)) : undefined;
  return {
    blockedFor: (source, cp, now) => {
      const a = waitOf(bySource.get(source), l.perSource, now);
      const b = waitOf(byCharger.get(cp), l.perCharger, now);
      return a === undefined ? b : b === undefined ? a : Math.max(a, b);
    },
    failed: (source, cp, now) => {
      current(bySource, source, now, () => ({ start: now, count: 0 })).count++;
      current(byCharger, cp, now, () => ({ start: now, count: 0 })).count++;
    },
    audit: (source, reason, now) => {
      const key = `${source}\u0000${reason}`;
      const before = audits.get(key);
      const w = current(audits, key, now, () => ({ start: now, count: 0, suppressed: before && now - before.start >= l.windowMs ? before.suppressed : 0 }));
      w.count++;
      if (w.count <= auditPerWindow) {
        const suppressed = w.suppressed;
        w.suppressed = 0;
        return { record: true, suppressed };
      }
      w.suppressed++;
      return { record: false, suppressed: w.suppressed };
    },
  };
};
