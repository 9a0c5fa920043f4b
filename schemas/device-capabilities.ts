/** What a charger can do, read from the configuration it reports (1.6 configuration keys, 2.0.1 component
 *  variables). Pure; shared by the device-model projection and the optimizer. A capability the charger did not
 *  report is null: the static configuration (fleet.config ChargerConfigured) stands for it. */

export interface ReportedVariable {
  readonly component: string | null;
  readonly variable: string;
}

/** `Component[:evse]/Variable[:instance]` in 2.0.1, the key in 1.6. */
export const variableKey = (v: ReportedVariable): string => (v.component === null ? v.variable : `${v.component}/${v.variable}`);

export interface DeviceCapabilities {
  /** 'A', 'W' or 'A,W'. */
  readonly rateUnit: string | null;
  readonly maxSchedulePeriods: number | null;
  readonly maxProfiles: number | null;
  readonly maxStackLevel: number | null;
  readonly phases: number | null;
  readonly connectors: number | null;
  readonly connectorTypes: string[] | null;
  readonly firmwareVersion: string | null;
}

type Variables = Readonly<Record<string, { readonly value: string | null } | undefined>>;

const int = (v: string | null | undefined): number | null => {
  if (v === null || v === undefined || !/^\s*\d+\s*$/.test(v)) return null;
  return Number(v);
};

/** 1.6 "Current", "Power", "Current,Power"; 2.0.1 "A", "W", "A,W". */
const rateUnits = (v: string | null | undefined): string | null => {
  if (!v) return null;
  const units = new Set<string>(
    v
      .split(',')
      .map((x) => x.trim())
      .map((x) => (x === 'Current' || x === 'A' ? 'A' : x === 'Power' || x === 'W' ? 'W' : ''))
      .filter(Boolean),
  );
  return units.size === 0 ? null : ['A', 'W'].filter((u) => units.has(u)).join(',');
};

const value = (vars: Variables, key: string): string | null => vars[key]?.value ?? null;

export const capabilitiesOf = (protocol: string, vars: Variables): DeviceCapabilities => {
  if (protocol === 'ocpp1.6') {
    const rotation = value(vars, 'ConnectorPhaseRotation');
    return {
      rateUnit: rateUnits(value(vars, 'ChargingScheduleAllowedChargingRateUnit')),
      maxSchedulePeriods: int(value(vars, 'ChargingScheduleMaxPeriods')),
      maxProfiles: int(value(vars, 'MaxChargingProfilesInstalled')),
      maxStackLevel: int(value(vars, 'ChargeProfileMaxStackLevel')),
      // "0.RST, 1.RST" names three phases per connector; "1.NotApplicable" (DC) or one letter less is fewer.
      phases: rotation && /\b(RST|RTS|SRT|STR|TRS|TSR)\b/.test(rotation) ? 3 : null,
      connectors: int(value(vars, 'NumberOfConnectors')),
      connectorTypes: null,
      firmwareVersion: null,
    };
  }
  const keys = Object.keys(vars);
  const evses = new Set(keys.map((k) => /^EVSE:(\d+)\//.exec(k)?.[1]).filter((x): x is string => x !== undefined));
  const types = keys.filter((k) => /^Connector(:\d+)?\/ConnectorType$/.test(k)).map((k) => value(vars, k)).filter((x): x is string => x !== null);
  const supplyPhases = keys.filter((k) => /^EVSE(:\d+)?\/SupplyPhases$/.test(k)).map((k) => int(value(vars, k))).filter((x): x is number => x !== null);
  return {
    rateUnit: rateUnits(value(vars, 'SmartChargingCtrlr/RateUnit')),
    maxSchedulePeriods: int(value(vars, 'SmartChargingCtrlr/PeriodsPerSchedule')),
    maxProfiles: int(value(vars, 'SmartChargingCtrlr/Entries:ChargingProfiles')),
    maxStackLevel: int(value(vars, 'SmartChargingCtrlr/ProfileStackLevel')),
    phases: supplyPhases.length ? Math.max(...supplyPhases) : null,
    connectors: evses.size || null,
    connectorTypes: types.length ? [...new Set(types)].sort() : null,
    firmwareVersion: value(vars, 'ChargingStation/FirmwareVersion'),
  };
};
