import { Simulator } from './simulator';
import { siteLoadKw } from './model/depot';

/** One line of what the depot is doing, for the terminal. */
export const statusLine = (sim: Simulator): string => {
  const s = sim.state();
  const chargers = Object.values(s.chargers);
  const plugged = chargers.filter((c) => c.vehicleId).length;
  const charging = chargers.filter((c) => c.powerKw > 0).length;
  const limited = chargers.filter((c) => c.limitW !== undefined && c.vehicleId).length;
  const connected = [...sim.chargers.values()].filter((c) => c.connected).length;
  const profiles = sim.traffic.filter((t) => t.direction === 'in' && t.method === 'SetChargingProfile').length;
  const tm = sim.provider?.stats;
  const lat = sim.latencies.map((l) => l.ms).sort((a, b) => a - b);
  const p50 = lat.length ? `${lat[Math.floor(lat.length / 2)]} ms` : '-';
  return [
    new Date(s.t).toISOString().slice(0, 19).replace('T', ' '),
    `online ${connected}/${chargers.length}`,
    `plugged ${plugged}`,
    `charging ${charging}`,
    `under profile ${limited}`,
    `site ${siteLoadKw(s).toFixed(1)}/${s.scenario.gridLimitKw} kW`,
    `profiles received ${profiles}`,
    `plug-in→profile p50 ${p50}`,
    ...(tm ? [`telematics ${tm.accepted} ok/${tm.refused} refused/${tm.heldInOutage} held`] : []),
    `departed ${s.departures.length}`,
  ].join(' | ');
};
