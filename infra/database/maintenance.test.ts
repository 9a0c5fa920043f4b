import * as E from 'fp-ts/Either';
import { defaultMaintenancePolicy, maintenanceSeconds, planMaintenance, TableSize } from './maintenance';

const table = (name: string, pages: number, analyzedPages: number, analyzedRows: number): TableSize => ({ table: name, pages, analyzedPages, analyzedRows });

describe('embedded database maintenance plan', () => {
  it('given a table never analyzed that holds rows, then it is analyzed; an empty one is left alone', () => {
    expect(planMaintenance([table('a', 12, 0, -1), table('empty', 0, 0, -1)])).toEqual([{ kind: 'vacuum analyze', table: 'a', reason: 'never analyzed, 12 pages' }]);
  });

  it('given tables whose size barely moved since their analysis, then nothing is due', () => {
    expect(planMaintenance([table('small', 12, 10, 300), table('large', 105_000, 100_000, 1e6)])).toEqual([]);
  });

  it('given a table grown past the share and the page threshold, then it is analyzed, and vacuumed only when small', () => {
    const plan = planMaintenance([table('chunk', 12_700, 10_000, 7e5), table('status', 60, 20, 2000)]);
    expect(plan).toEqual([
      { kind: 'vacuum analyze', table: 'status', reason: '20 → 60 pages since its last analysis' },
      { kind: 'analyze', table: 'chunk', reason: '10000 → 12700 pages since its last analysis' },
    ]);
  });

  it('given a table that shrank (truncated, records deleted), then it is analyzed again', () => {
    expect(planMaintenance([table('t', 10, 500, 9000)]).map((s) => s.table)).toEqual(['t']);
  });

  it('given several tables due, then the smallest goes first, since every step holds the database from the others', () => {
    const plan = planMaintenance([table('big', 50_000, 0, -1), table('tiny', 3, 0, -1), table('mid', 400, 0, -1)]);
    expect(plan.map((s) => s.table)).toEqual(['tiny', 'mid', 'big']);
    expect(plan.map((s) => s.kind)).toEqual(['vacuum analyze', 'vacuum analyze', 'analyze']);
    expect(defaultMaintenancePolicy.vacuumMaxPages).toBeLessThan(50_000);
  });

  it('given EMBEDDED_DB_MAINTENANCE_SECONDS, then unset is the default, 0 is off, and anything but a whole number is refused with its name', () => {
    expect(maintenanceSeconds(undefined)).toEqual(E.right(undefined));
    expect(maintenanceSeconds('0')).toEqual(E.right(0));
    expect(maintenanceSeconds('300')).toEqual(E.right(300));
    for (const bad of ['abc', '-5', '1.5']) expect(maintenanceSeconds(bad)).toEqual(E.left(expect.stringContaining(`EMBEDDED_DB_MAINTENANCE_SECONDS must be a whole number of seconds (0: no maintenance), got '${bad}'`)));
  });
});
