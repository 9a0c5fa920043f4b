/** The dashboard page: plain HTML, inline CSS and JS, SVG charts, no build step. It follows /dashboard/events
 *  (server-sent events, one snapshot per change, at most one per second) with the session cookie the login form got
 *  (http.ts); when the session has ended it goes back to the login form. */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Voltstream depot</title>
<style>
  :root { --bg:#0f1419; --panel:#182028; --line:#2a3540; --text:#dfe6ec; --muted:#8a9aa8; --green:#3ecf8e; --amber:#f5a524; --red:#f2555a; --blue:#4ea1ff; --violet:#b48cff; }
  * { box-sizing: border-box; }
  body { margin:0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; gap:16px; align-items:center; padding:10px 16px; border-bottom:1px solid var(--line); position:sticky; top:0; background:var(--bg); z-index:2; }
  header h1 { font-size:16px; margin:0; font-weight:600; }
  header .kpi { color:var(--muted); } header .kpi b { color:var(--text); font-weight:600; }
  #live { width:9px; height:9px; border-radius:50%; background:var(--red); display:inline-block; }
  #live.on { background:var(--green); }
  select { background:var(--panel); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:2px 4px; }
  main { display:grid; grid-template-columns: minmax(0,1.35fr) minmax(0,1fr); gap:12px; padding:12px 16px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 12px; min-width:0; overflow-x:auto; }
  section h2 { font-size:13px; margin:0 0 8px; color:var(--muted); font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
  .wide { grid-column: 1 / -1; }
  .ops { display:flex; gap:4px; margin-top:4px; } .ops button { font:inherit; font-size:11px; padding:1px 6px; border-radius:3px; border:1px solid var(--line); background:var(--bg); color:var(--text); cursor:pointer; }
  .outcome { color:var(--muted); font-size:11px; min-height:1em; }
  #chargers { display:grid; grid-template-columns: repeat(auto-fill, minmax(150px,1fr)); gap:8px; }
  .cp { border:1px solid var(--line); border-left:4px solid var(--muted); border-radius:6px; padding:6px 8px; background:#121a21; }
  .cp .id { font-weight:600; font-size:12px; } .cp .meta { color:var(--muted); font-size:11px; }
  .cp .pw { font-size:16px; font-weight:600; margin:2px 0; } .cp .bar { height:4px; background:var(--line); border-radius:2px; overflow:hidden; }
  .cp .bar i { display:block; height:100%; background:var(--green); }
  .cp.Charging { border-left-color:var(--green); } .cp.SuspendedEVSE, .cp.SuspendedEV { border-left-color:var(--amber); }
  .cp.Preparing, .cp.Finishing, .cp.Occupied { border-left-color:var(--blue); } .cp.Faulted, .cp.offline { border-left-color:var(--red); }
  .prof { color:var(--violet); font-size:11px; }
  table { width:100%; border-collapse:collapse; } th, td { text-align:left; padding:3px 5px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--muted); font-weight:500; font-size:11px; }
  td.num { text-align:right; font-variant-numeric: tabular-nums; }
  .soc { display:inline-block; width:70px; height:8px; background:var(--line); border-radius:4px; overflow:hidden; vertical-align:middle; position:relative; }
  .soc i { display:block; height:100%; background:var(--blue); } .soc b { position:absolute; top:-2px; width:2px; height:12px; background:var(--amber); }
  .src { color:var(--muted); font-size:11px; }
  svg { width:100%; display:block; } svg text { fill:var(--muted); font-size:10px; }
  .legend { color:var(--muted); font-size:11px; display:flex; gap:14px; } .legend i { display:inline-block; width:14px; height:3px; vertical-align:middle; margin-right:4px; }
  #plans { display:grid; grid-template-columns: repeat(auto-fill, minmax(230px,1fr)); gap:8px; }
  .pv { border:1px solid var(--line); border-radius:6px; padding:4px 6px; } .pv .id { font-size:11px; color:var(--muted); }
  #traffic td.payload { max-width:520px; overflow:hidden; text-overflow:ellipsis; color:var(--muted); font-family: ui-monospace, monospace; font-size:11px; }
  .dir-IN { color:var(--blue); } .dir-OUT { color:var(--violet); } .err { color:var(--red); }
  .empty { color:var(--muted); font-style:italic; }
  .logout { background:none; border:1px solid var(--line); color:var(--muted); border-radius:4px; cursor:pointer; }
</style>
</head>
<body>
<header>
  <h1>Voltstream depot</h1>
  <label class="kpi">site <select id="site"></select></label>
  <span class="kpi">load <b id="k-load">–</b> / <b id="k-limit">–</b> kW</span>
  <span class="kpi">charging <b id="k-charging">–</b></span>
  <span class="kpi">under profile <b id="k-profiled">–</b></span>
  <span class="kpi">price <b id="k-price">–</b></span>
  <span class="kpi" style="margin-left:auto">updated <b id="k-time">–</b> UTC</span>
  <span id="live" title="live updates"></span>
  <form method="post" action="/dashboard/logout" style="margin:0"><button type="submit" class="logout">log out</button></form>
</header>
<main>
  <section><h2>Chargers now</h2><div id="chargers" data-testid="chargers"><div class="empty">waiting for data…</div></div></section>
  <section><h2>Vehicles</h2><table data-testid="vehicles"><thead><tr><th>vehicle</th><th>SoC</th><th></th><th>source</th><th>departs</th><th>needs</th><th>charger</th></tr></thead><tbody id="vehicles"></tbody></table></section>
  <section class="wide"><h2>Site load, grid limit and price</h2>
    <div class="legend"><span><i style="background:var(--green)"></i>site load (metered)</span><span><i style="background:var(--blue)"></i>planned load</span><span><i style="background:var(--red)"></i>grid limit</span><span><i style="background:var(--amber)"></i>price per kWh (right axis)</span></div>
    <svg id="load" data-testid="load-chart" viewBox="0 0 1000 220" preserveAspectRatio="none" height="220"></svg></section>
  <section class="wide"><h2>Plan against actual, per vehicle <span id="plan-meta" class="src"></span></h2><div id="plans" data-testid="plans"><div class="empty">no plan yet</div></div></section>
  <section class="wide"><h2>Recent OCPP traffic</h2><table id="traffic" data-testid="traffic"><thead><tr><th>time</th><th>charger</th><th></th><th>kind</th><th>action</th><th>payload</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
  const hm = (t) => t ? new Date(t).toISOString().slice(11, 19) : '–';
  const dt = (t) => t ? new Date(t).toISOString().slice(5, 16).replace('T', ' ') : '–';
  let site = new URLSearchParams(location.search).get('site') || '';
  let source;
  window.__dashboard = { updates: 0, last: null };

  function chart(svg, snap) {
    const s = snap.sites[0];
    if (!s) { svg.innerHTML = '<text x="10" y="20">no site</text>'; return; }
    const W = 1000, H = 220, L = 40, R = 44, T = 8, B = 20;
    const now = snap.at;
    const planned = [];
    if (s.plan) s.plan.siteKw.forEach((kw, i) => { const a = s.plan.horizonStart + i * s.plan.slotMinutes * 60000; planned.push([a, kw], [a + s.plan.slotMinutes * 60000, kw]); });
    const xs = [...s.load.map((p) => p[0]), ...planned.map((p) => p[0]), now];
    const t0 = Math.min(...xs, now - 3600000), t1 = Math.max(now + 3600000, Math.min(Math.max(...xs), now + 12 * 3600000));
    const maxKw = Math.max(s.gridLimitKw * 1.15, ...s.load.map((p) => p[1]), ...planned.map((p) => p[1]), 1);
    const prices = s.price.filter((p) => p[1] !== null && p[0] >= t0 && p[0] <= t1);
    const maxP = Math.max(0.01, ...prices.map((p) => p[1])) * 1.15;
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (kw) => T + (1 - kw / maxKw) * (H - T - B);
    const yp = (p) => T + (1 - p / maxP) * (H - T - B);
    const path = (pts, fy) => pts.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ' ' + fy(p[1]).toFixed(1)).join(' ');
    const step = (pts, fy) => pts.map((p, i) => (i ? 'H' + x(p[0]).toFixed(1) + ' V' : 'M' + x(p[0]).toFixed(1) + ' ') + fy(p[1]).toFixed(1)).join(' ');
    let g = '';
    for (let i = 0; i <= 4; i++) { const kw = (maxKw * i) / 4; g += '<line x1="' + L + '" x2="' + (W - R) + '" y1="' + y(kw) + '" y2="' + y(kw) + '" stroke="#2a3540"/><text x="2" y="' + (y(kw) + 3) + '">' + kw.toFixed(0) + ' kW</text><text x="' + (W - R + 4) + '" y="' + (yp((maxP * i) / 4) + 3) + '">' + ((maxP * i) / 4).toFixed(2) + '</text>'; }
    const hours = (t1 - t0) / 3600000, every = hours > 8 ? 2 : hours > 3 ? 1 : 0.25;
    for (let t = Math.ceil(t0 / (every * 3600000)) * every * 3600000; t < t1; t += every * 3600000) g += '<text x="' + (x(t) - 14) + '" y="' + (H - 4) + '">' + new Date(t).toISOString().slice(11, 16) + '</text>';
    g += '<line x1="' + x(now) + '" x2="' + x(now) + '" y1="' + T + '" y2="' + (H - B) + '" stroke="#8a9aa8" stroke-dasharray="2 3"/>';
    if (prices.length) g += '<path d="' + step(prices, yp) + '" fill="none" stroke="#f5a524" stroke-width="1.5" data-series="price"/>';
    if (planned.length) g += '<path d="' + path(planned, y) + '" fill="none" stroke="#4ea1ff" stroke-width="1.5" stroke-dasharray="5 3" data-series="plan"/>';
    g += '<line data-series="limit" x1="' + L + '" x2="' + (W - R) + '" y1="' + y(s.gridLimitKw) + '" y2="' + y(s.gridLimitKw) + '" stroke="#f2555a" stroke-width="1.5"/>';
    if (s.load.length) g += '<path d="' + path(s.load, y) + ' L' + x(s.load[s.load.length - 1][0]).toFixed(1) + ' ' + y(0) + ' L' + x(s.load[0][0]).toFixed(1) + ' ' + y(0) + ' Z" fill="rgba(62,207,142,.15)" stroke="none"/><path d="' + path(s.load, y) + '" fill="none" stroke="#3ecf8e" stroke-width="2" data-series="load"/>';
    svg.innerHTML = g;
  }

  function mini(v, plan, now) {
    const W = 230, H = 60;
    const pts = [];
    const pv = plan && plan.vehicles.find((p) => p.vehicleId === v.vehicleId);
    if (pv) pv.powerKw.forEach((kw, i) => { const a = plan.horizonStart + i * plan.slotMinutes * 60000; pts.push([a, kw], [a + plan.slotMinutes * 60000, kw]); });
    const act = v.actual;
    const xs = [...pts.map((p) => p[0]), ...act.map((p) => p[0]), now];
    const t0 = Math.min(...xs), t1 = Math.max(...xs, t0 + 60000);
    const m = Math.max(1, ...pts.map((p) => p[1]), ...act.map((p) => p[1]));
    const x = (t) => 2 + ((t - t0) / (t1 - t0)) * (W - 4), y = (k) => 4 + (1 - k / m) * (H - 8);
    const d = (a) => a.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ' ' + y(p[1]).toFixed(1)).join(' ');
    return '<svg viewBox="0 0 ' + W + ' ' + H + '" height="' + H + '"><line x1="' + x(now) + '" x2="' + x(now) + '" y1="0" y2="' + H + '" stroke="#8a9aa8" stroke-dasharray="2 3"/>' +
      (pts.length ? '<path d="' + d(pts) + '" fill="none" stroke="#4ea1ff" stroke-dasharray="4 2"/>' : '') +
      (act.length ? '<path d="' + d(act) + '" fill="none" stroke="#3ecf8e" stroke-width="1.5"/>' : '') + '</svg>';
  }

  function render(snap) {
    window.__dashboard.updates++; window.__dashboard.last = snap;
    const sel = $('site');
    const ids = snap.siteIds;
    const current = snap.sites[0] ? snap.sites[0].siteId : '';
    if (sel.options.length !== ids.length || sel.value !== current) sel.innerHTML = ids.map((id) => '<option' + (id === current ? ' selected' : '') + '>' + esc(id) + '</option>').join('');
    const s = snap.sites[0];
    const load = snap.chargers.reduce((a, c) => a + (c.powerKw || 0), 0);
    const charging = snap.chargers.filter((c) => c.powerKw > 0).length;
    const profiled = snap.chargers.filter((c) => c.profile && c.vehicleId !== null || c.profile && c.powerKw > 0).length;
    $('k-load').textContent = load.toFixed(1); $('k-limit').textContent = s ? s.gridLimitKw : '–';
    $('k-charging').textContent = charging + ' / ' + snap.chargers.length; $('k-profiled').textContent = profiled;
    const pNow = s && s.price.filter((p) => p[0] <= snap.at).pop();
    $('k-price').textContent = pNow && pNow[1] !== null ? pNow[1].toFixed(2) + ' ' + (s.currency || '') : '–';
    $('k-time').textContent = new Date(snap.at).toISOString().slice(0, 19).replace('T', ' ');

    $('chargers').innerHTML = snap.chargers.length ? snap.chargers.map((c) => {
      const cls = c.connected ? esc(c.status) : 'offline';
      const pct = c.maxPowerKw ? Math.min(100, (100 * c.powerKw) / c.maxPowerKw) : 0;
      const prof = c.profile ? '<div class="prof" data-testid="profile">' + esc(c.profile.purpose.replace('Profile', '')) + ' ' + esc(c.profile.limit) + ' ' + esc(c.profile.unit) + ' · ' + esc(c.profile.status || 'sent') + ' ' + hm(c.profile.at) + '</div>' : '<div class="prof">no profile</div>';
      return '<div class="cp ' + cls + '" data-testid="charger" data-cp="' + esc(c.chargePointId) + '" data-status="' + esc(c.status) + '" data-power="' + c.powerKw + '">' +
        '<div class="id">' + esc(c.chargePointId) + '</div><div class="meta">' + esc(c.connected ? c.status : 'offline') + ' · ' + esc((c.protocol || '').replace('ocpp', '')) + ' · ' + (c.maxPowerKw ?? '?') + ' kW</div>' +
        '<div class="pw">' + c.powerKw.toFixed(1) + ' kW</div><div class="bar"><i style="width:' + pct + '%"></i></div>' +
        '<div class="meta">' + (c.vehicleId ? '▸ ' + esc(c.vehicleId) : c.sessionId ? 'unmatched vehicle' : '–') + (c.socPct !== null ? ' · ' + c.socPct.toFixed(0) + ' %' : '') + '</div>' + prof +
        '<div class="ops" data-testid="ops"><button data-op="unlock" data-cp="' + esc(c.chargePointId) + '">unlock</button><button data-op="reset" data-cp="' + esc(c.chargePointId) + '">reset</button>' +
        (c.sessionId ? '<button data-op="remote-stop" data-cp="' + esc(c.chargePointId) + '" data-session="' + esc(c.sessionId) + '">stop</button>' : '') + '</div>' +
        '<div class="outcome" data-testid="command-outcome">' + esc(outcomes[c.chargePointId] || '') + '</div></div>';
    }).join('') : '<div class="empty">no chargers on this site</div>';

    $('vehicles').innerHTML = snap.vehicles.map((v) => '<tr data-testid="vehicle"><td>' + esc(v.vehicleId) + '</td><td class="num">' + (v.socPct !== null ? v.socPct.toFixed(1) + ' %' : '–') + '</td>' +
      '<td><span class="soc"><i style="width:' + (v.socPct || 0) + '%"></i>' + (v.requiredSocPct !== null ? '<b style="left:' + v.requiredSocPct + '%"></b>' : '') + '</span></td>' +
      '<td class="src">' + esc(v.socSource || '–') + (v.socAt ? ' · ' + hm(v.socAt) : '') + '</td><td>' + dt(v.departAt) + '</td><td class="num">' + (v.requiredSocPct !== null ? v.requiredSocPct + ' %' : '–') + '</td><td>' + esc(v.chargePointId || '') + '</td></tr>').join('') ||
      '<tr><td colspan="7" class="empty">no vehicles</td></tr>';

    chart($('load'), snap);
    const plan = s && s.plan;
    $('plan-meta').textContent = plan ? '· plan ' + plan.planId.slice(0, 8) + ' decided ' + hm(plan.decidedAt) + ' (' + plan.trigger + ', ' + plan.status + ', ' + plan.slotMinutes + ' min slots) · blue dashed: plan, green: metered' : '';
    const withPlan = snap.vehicles.filter((v) => (plan && plan.vehicles.some((p) => p.vehicleId === v.vehicleId)) || v.actual.length);
    $('plans').innerHTML = withPlan.length ? withPlan.map((v) => {
      const pv = plan && plan.vehicles.find((p) => p.vehicleId === v.vehicleId);
      return '<div class="pv" data-testid="plan-vehicle"><div class="id">' + esc(v.vehicleId) + (pv ? ' · planned ' + pv.plannedKwh.toFixed(1) + ' of ' + pv.targetKwh.toFixed(1) + ' kWh' + (pv.shortfallKwh > 0.01 ? ' · <span class="err">short ' + pv.shortfallKwh.toFixed(1) + '</span>' : '') : '') + '</div>' + mini(v, plan, snap.at) + '</div>';
    }).join('') : '<div class="empty">no plan yet</div>';
    const risks = (plan && plan.atRisk) || [];
    if (risks.length) $('plans').insertAdjacentHTML('afterbegin', risks.map((r) => '<div class="pv" data-testid="plan-at-risk"><div class="id">' + esc(r.vehicleId) + ' · <span class="err">at risk: ' + esc(r.reason) + (r.shortKwh !== null ? ', short ' + r.shortKwh.toFixed(1) + ' kWh' : '') + '</span></div><div class="src">' + esc(r.detail) + '</div></div>').join(''));

    $('traffic').querySelector('tbody').innerHTML = snap.traffic.map((f) => '<tr data-testid="frame"><td>' + hm(f.t) + '</td><td>' + esc(f.chargePointId) + '</td><td class="dir-' + esc(f.direction) + '">' + (f.direction === 'IN' ? '→' : '←') + '</td><td class="' + (f.kind === 'CALLERROR' ? 'err' : '') + '">' + esc(f.kind) + '</td><td>' + esc(f.action || '') + '</td><td class="payload">' + esc(f.payload) + '</td></tr>').join('') ||
      '<tr><td colspan="6" class="empty">no frames yet</td></tr>';
  }

  // Operator buttons (unlock, reset, remote stop): sent with the session, outcome polled and kept across re-renders.
  const outcomes = {};
  const paint = (cp) => document.querySelectorAll('.cp[data-cp="' + CSS.escape(cp) + '"] [data-testid="command-outcome"]').forEach((el) => { el.textContent = outcomes[cp] || ''; });
  const headers = { 'Content-Type': 'application/json', 'X-Voltstream-Dashboard': '1' };
  async function command(op, cp, sessionId) {
    const say = (text) => { outcomes[cp] = op + ': ' + text; paint(cp); };
    say('sending…');
    try {
      const r = await fetch('/dashboard/chargers/' + encodeURIComponent(cp) + '/commands/' + op, { method: 'POST', credentials: 'same-origin', headers, body: JSON.stringify(sessionId ? { sessionId } : {}) });
      const j = await r.json();
      if (r.status !== 202) return say('refused: ' + (j.problems || [j.title]).join('; '));
      say('pending');
      const o = await (await fetch('/dashboard/commands/' + encodeURIComponent(j.commandId) + '?wait=30', { credentials: 'same-origin', headers })).json();
      say(o.status + (o.error ? ' (' + o.error + ')' : o.response && o.response.status ? ' (' + o.response.status + ')' : ''));
    } catch (err) {
      say('failed: ' + err);
    }
  }
  $('chargers').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-op]');
    if (b) command(b.dataset.op, b.dataset.cp, b.dataset.session);
  });

  function connect() {
    if (source) source.close();
    const q = site ? '?site=' + encodeURIComponent(site) : '';
    source = new EventSource('/dashboard/events' + q);
    source.onopen = () => $('live').classList.add('on');
    source.onerror = () => {
      $('live').classList.remove('on');
      // EventSource retries on its own; a session that ended (401) needs the login form instead.
      fetch('/dashboard/state' + q, { credentials: 'same-origin' }).then((r) => { if (r.status === 401) location.reload(); }, () => undefined);
    };
    source.addEventListener('snapshot', (e) => render(JSON.parse(e.data)));
  }
  $('site').addEventListener('change', (e) => { site = e.target.value; history.replaceState(null, '', '?site=' + encodeURIComponent(site)); connect(); });
  connect();
})();
</script>
</body>
</html>
`;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The login form: a person types an API key once; POST /dashboard/session answers with a session cookie and sends
 *  them back to the dashboard (of `site`, when given). The key travels only in that POST's body. */
export const loginHtml = (opts: { site?: string; problem?: string } = {}): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Voltstream depot: log in</title>
<style>
  body { margin:0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:#0f1419; color:#dfe6ec; display:grid; place-items:center; min-height:100vh; }
  form { background:#182028; border:1px solid #2a3540; border-radius:8px; padding:20px 24px; display:grid; gap:10px; width:min(420px, 90vw); }
  h1 { font-size:16px; margin:0; } p { margin:0; color:#8a9aa8; font-size:12px; } .problem { color:#f2555a; }
  input, button { font:inherit; padding:6px 8px; border-radius:4px; border:1px solid #2a3540; background:#0f1419; color:#dfe6ec; }
  button { cursor:pointer; background:#3ecf8e; color:#0f1419; border:none; font-weight:600; }
</style>
</head>
<body>
<form method="post" action="/dashboard/session" data-testid="login">
  <h1>Voltstream depot</h1>
  <p>Log in with an API key. Id tags are shown only to keys with the scope history:read.</p>
  ${opts.problem ? `<p class="problem" role="alert">${escapeHtml(opts.problem)}</p>` : ''}
  <input type="password" name="key" autocomplete="current-password" placeholder="API key" required autofocus>
  ${opts.site ? `<input type="hidden" name="site" value="${escapeHtml(opts.site)}">` : ''}
  <button type="submit">Log in</button>
</form>
</body>
</html>
`;
