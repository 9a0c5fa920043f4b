import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger } from '../../services/common/log';
import { createScenario } from '../../services/simulator/model/fleet';
import { createSimulator, Simulator } from '../../services/simulator/simulator';
import { uniq, waitForValue } from '../support/stack';
import { artifactsDir, launchChromium } from './support/browser';
import { startSystem, System } from './support/system';

/** The dashboard in headless Chromium, on the live system: every service in one process on a private broker, a
 *  simulated depot configured through the API and connected over OCPP, the page served by the API at /dashboard. */
jest.setTimeout(300000);

describe('dashboard', () => {
  let sys: System;
  let sim: Simulator;
  beforeAll(async () => {
    sys = await startSystem();
    const prefix = uniq('DASH');
    // The simulated day starts at 02:00 whatever the wall clock says: the tariff's cheap night is now, so the optimizer
    // charges at once instead of waiting out the 16:00-21:00 peak (the test must not depend on the hour it runs at).
    const now = Date.now();
    const scenario = createScenario({ seed: 8, chargers: 6, vehicles: 6, startMs: now, dayStartMs: now - 2 * 3600_000, initialArrivalsWithinMs: 15000, idPrefix: prefix, share201: 0.5, dcChargers: 1, gridLimitKw: 40 });
    sim = createSimulator({
      scenario,
      ocppUrl: sys.ocppUrl,
      api: { url: sys.apiUrl, adminKey: sys.config.adminKey },
      meterIntervalS: 5,
      telematics: { provider: 'voltstream', url: `${sys.apiUrl}/api/v1/telematics/voltstream`, headers: { 'X-Api-Key': 'dev-telematics-key' }, intervalS: 10, maxDelayMs: 2000, outages: false },
      log: createLogger('simulator', 'warn'),
    });
    await sim.start();
  });
  afterAll(async () => {
    await sim?.stop();
    await sys?.stop();
  });

  test('shows the live depot: chargers charging with their vehicles, SoC, load against the limit, OCPP traffic', async () => {
    const site = sim.scenario.siteId;
    // The page's data first: the API serves what the dashboard folded from the log.
    // (Which vehicle is on which charger is the vehicle tracker's decision; the page shows whatever it decided.)
    const state = await waitForValue(
      'chargers charging, and every occupied charger under an accepted TxProfile, on the dashboard',
      async () => {
        type Charger = { chargePointId: string; status: string; powerKw: number; vehicleId: string | null; profile: { purpose: string; status: string | null } | null };
        type Vehicle = { vehicleId: string; socPct: number | null };
        const s = (await (await fetch(`${sys.apiUrl}/dashboard/state?site=${encodeURIComponent(site)}`, { headers: { Authorization: `Bearer ${sys.config.adminKey}` } })).json()) as { chargers: Charger[]; vehicles: Vehicle[]; traffic: unknown[] };
        // How many charge at once is the optimizer's call (it waits for cheap hours); that every plugged vehicle is
        // under its profile, and that some charge, is what the page must show.
        const occupied = s.chargers.filter((c) => c.status !== 'Available' && c.status !== 'Unavailable');
        const controlled = occupied.length >= 3 && occupied.every((c) => c.profile?.purpose === 'TxProfile' && c.profile.status === 'Accepted');
        // A vehicle's SoC comes through the vehicle tracker (router, then per-site fold), a path apart from the chargers'.
        const knowsSoc = s.vehicles.some((v) => v.socPct !== null);
        return controlled && knowsSoc && s.chargers.some((c) => c.powerKw > 0) && s.traffic.length > 0 ? s : undefined;
      },
      120000,
      500,
    );
    expect(state.chargers).toHaveLength(6);
    const matched = state.chargers.filter((c) => c.vehicleId !== null);

    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${sys.apiUrl}/dashboard?site=${encodeURIComponent(site)}`);
      // The dashboard needs an API key: its login form trades one for a session cookie and comes back to the site.
      await page.fill('[data-testid=login] input[name=key]', sys.config.adminKey);
      await Promise.all([page.waitForURL(`**/dashboard?site=${encodeURIComponent(site)}`), page.click('[data-testid=login] button[type=submit]')]);
      await page.waitForFunction(() => (window as unknown as { __dashboard: { updates: number } }).__dashboard.updates >= 2, undefined, { timeout: 30000 });
      await page.waitForSelector('#live.on', { timeout: 10000 });
      const cards = page.locator('[data-testid=charger]');
      expect(await cards.count()).toBe(6);
      // The optimizer may pause a charger between two re-plans (battery care moves energy late in a cheap window),
      // so the page is awaited until it shows charging, and its cards are compared with the snapshot it rendered.
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=charger]')].some((e) => Number((e as HTMLElement).dataset.power) > 0), undefined, { timeout: 120000 });
      const shown = await page.evaluate(() => ({
        powers: [...document.querySelectorAll('[data-testid=charger]')].map((e) => Number((e as HTMLElement).dataset.power)),
        snapshot: (window as unknown as { __dashboard: { last: { chargers: Array<{ powerKw: number }> } } }).__dashboard.last.chargers.map((c) => c.powerKw),
      }));
      expect(shown.powers.filter((p) => p > 0).length).toBeGreaterThanOrEqual(1);
      expect(shown.powers.filter((p) => p > 0).length).toBe(shown.snapshot.filter((kw) => kw > 0).length);
      for (const c of matched) expect(await page.locator(`[data-testid=charger][data-cp="${c.chargePointId}"]`).textContent()).toContain(c.vehicleId);
      const vehicleCells = await page.locator('[data-testid=vehicle] td:first-child').allTextContents();
      expect(vehicleCells.sort()).toEqual(sim.scenario.vehicles.map((v) => v.id).sort());
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=vehicle] td:nth-child(2)')].some((e) => /%$/.test(e.textContent ?? '')), undefined, { timeout: 30000 });
      const socs = await page.locator('[data-testid=vehicle] td:nth-child(2)').allTextContents();
      expect(socs.filter((s) => /%$/.test(s)).length).toBeGreaterThan(0);
      expect(await page.locator('[data-testid=load-chart] [data-series=load]').count()).toBe(1);
      expect(await page.locator('[data-testid=load-chart] [data-series=limit]').count()).toBe(1);
      expect(await page.locator('[data-testid=load-chart] [data-series=price]').count()).toBe(1);
      expect(await page.locator('[data-testid=frame]').count()).toBeGreaterThan(5);
      // live: the log time moves on without reloading
      const before = await page.locator('#k-time').textContent();
      await page.waitForFunction((b) => document.getElementById('k-time')!.textContent !== b, before, { timeout: 30000 });
      fs.mkdirSync(artifactsDir, { recursive: true });
      const file = path.join(artifactsDir, 'dashboard.png');
      await page.screenshot({ path: file, fullPage: true });
      expect(fs.statSync(file).size).toBeGreaterThan(20000);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
