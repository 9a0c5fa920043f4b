import { FrameRecord } from './frames';

/** One line per frame of a charger's OCPP conversation: time, direction, kind, action, unique id, payload. */
export const transcriptLine = (f: FrameRecord): string => {
  const arrow = f.direction === 'IN' ? 'IN  ->' : 'OUT <-';
  const detail =
    f.kind === 'CALLERROR'
      ? `${f.errorCode ?? ''}${f.errorDescription ? ` "${f.errorDescription}"` : ''} ${f.payloadJson ?? ''}`.trim()
      : f.kind === 'CONNECTED' || f.kind === 'DISCONNECTED'
        ? `${f.protocol} via ${f.gatewayId}${f.payloadJson ? ` ${f.payloadJson}` : ''}`
        : (f.payloadJson ?? '');
  return [new Date(f.receivedAt).toISOString(), `#${f.seq}`.padEnd(7), arrow, f.kind.padEnd(12), (f.action ?? '-').padEnd(28), (f.uniqueId ?? '-').padEnd(10), detail].join(' ');
};

export const transcriptHeader = (chargePointId: string, fromMs: number | undefined, toMs: number | undefined, count: number): string =>
  `OCPP transcript of ${chargePointId}, ${fromMs !== undefined ? new Date(fromMs).toISOString() : 'start of log'} .. ${toMs !== undefined ? new Date(toMs).toISOString() : 'now'}: ${count} frame(s)`;
