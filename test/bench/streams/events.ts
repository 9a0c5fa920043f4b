import { ChargingEvent, EventBody } from '../../../schemas/events';

/** A realistic mix, per charger: sessions of meter samples (4 measurands), status changes, heartbeats, charger SoC. */
export const generate = function* (n: number, chargers: number, prefix: string): Generator<ChargingEvent> {
  let i = 0;
  const t0 = Date.UTC(2026, 0, 1);
  const sessionSteps = 60;
  for (let step = 0; i < n; step++) {
    for (let c = 0; c < chargers && i < n; c++) {
      const cp = `${prefix}-CP${c}`;
      const at = t0 + step * 60_000 + c * 10;
      const s = Math.floor(step / sessionSteps);
      const sessionId = `${cp}:${s}`;
      const phase = step % sessionSteps;
      const ev = (body: EventBody): ChargingEvent => ({ eventId: `bench:${i++}`, chargePointId: cp, occurredAt: at, source: { topic: 'bench', partition: 0, offset: i }, body });
      if (phase === 0) {
        yield ev({ type: 'ConnectorStatusChanged', connectorId: 1, status: 'Preparing', errorCode: null, info: null });
        yield ev({ type: 'SessionStarted', sessionId, transactionId: String(s), connectorId: 1, idTag: 'T', meterStartWh: s * 50_000 });
        yield ev({ type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null });
      } else if (phase === sessionSteps - 1) {
        yield ev({ type: 'SessionEnded', sessionId, transactionId: String(s), connectorId: 1, meterStopWh: s * 50_000 + phase * 180, energyWh: phase * 180, reason: 'Local' });
        yield ev({ type: 'ConnectorStatusChanged', connectorId: 1, status: 'Available', errorCode: null, info: null });
      } else {
        yield ev({
          type: 'MeterSampled',
          sessionId,
          connectorId: 1,
          samples: [
            { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: 'Sample.Periodic', unit: 'Wh', value: s * 50_000 + phase * 180 },
            { measurand: 'Power.Active.Import', phase: null, location: null, context: 'Sample.Periodic', unit: 'W', value: 10_800 },
            { measurand: 'Current.Import', phase: 'L1', location: null, context: 'Sample.Periodic', unit: 'A', value: 15.6 },
            { measurand: 'Voltage', phase: 'L1-N', location: null, context: 'Sample.Periodic', unit: 'V', value: 230.2 },
          ],
        });
        if (phase % 10 === 0) yield ev({ type: 'HeartbeatReceived' });
        if (phase % 15 === 0) yield ev({ type: 'ChargerReportedSoc', sessionId, connectorId: 1, socPct: 20 + phase });
      }
    }
  }
};
