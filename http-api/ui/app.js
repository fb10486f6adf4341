// hearsay's catalog page. Reads only the public HTTP API; stays live through blocking queries
// (?index=): each view watches the one read it is drawn from and redraws when it changes.
// Routes: #/services, #/service/NAME, #/instance/SERVICE/NODE/ID, #/nodes, #/node/NAME.

const view = document.getElementById("view");
const filterBox = document.getElementById("filter");
const countLine = document.getElementById("count");
const live = document.getElementById("live");

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const enc = encodeURIComponent;
const badge = (status) => `<span class="badge ${esc(status)}">${esc(status)}</span>`;
const tags = (list) => (list || []).map((t) => `<span class="tag">${esc(t)}</span>`).join("");
const memberStatus = ["none", "alive", "leaving", "left", "failed"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Aggregate health as Consul's clients compute it: maintenance, else the worst status.
function health(checks) {
  if (checks.some((c) => c.CheckID === "_node_maintenance" || c.CheckID.startsWith("_service_maintenance:")) &&
      checks.some((c) => c.Status === "critical")) return "maintenance";
  for (const s of ["critical", "warning"]) if (checks.some((c) => c.Status === s)) return s;
  return "passing";
}

function matches(text) {
  const f = filterBox.value.trim().toLowerCase();
  return !f || text.toLowerCase().includes(f);
}

// One view at a time: a new route bumps the generation, which stops the old loops, and aborts
// their reads in flight (a parked blocking query would otherwise hold one of the browser's six
// connections to the agent for its whole wait).
let generation = 0;
let routeAbort = new AbortController();
let redraw = () => {};

async function fetchJson(path, index, signal) {
  const sep = path.includes("?") ? "&" : "?";
  const url = index ? `${path}${sep}index=${index}&wait=30s` : path;
  const res = await fetch(url, { signal, headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return { data: await res.json(), index: res.headers.get("X-Consul-Index") };
}

// Calls draw(data) now and after every change of `path`, until the route changes.
async function watch(gen, path, draw) {
  const signal = routeAbort.signal;
  const stop = () => generation !== gen;
  let index = null;
  while (!stop()) {
    try {
      const { data, index: next } = await fetchJson(path, index, signal);
      if (stop()) break;
      live.classList.remove("off");
      if (next !== index) draw(data);
      index = next;
    } catch (e) {
      if (stop()) break;
      live.classList.add("off");
      await sleep(2000);  // the agent restarts or the network blinks: try again
    }
  }
}

function show(html, shown, total) {
  view.innerHTML = html;
  countLine.textContent = total === undefined ? "" : `${shown} of ${total}`;
  window.hearsayRendered = performance.now();  // read by the browser test (first paint figure)
}

function servicesView(gen) {
  let services = [];
  redraw = () => {
    const rows = [];
    for (const s of services) {
      if (!matches(`${s.Name} ${(s.Tags || []).join(" ")}`)) continue;
      const status = s.ChecksCritical ? "critical" : s.ChecksWarning ? "warning" : "passing";
      rows.push(`<tr data-service="${esc(s.Name)}"><td><a href="#/service/${enc(s.Name)}">${esc(s.Name)}</a></td>` +
        `<td>${badge(status)}</td><td class="num">${s.InstanceCount}</td>` +
        `<td class="num">${s.ChecksPassing} / ${s.ChecksWarning} / ${s.ChecksCritical}</td>` +
        `<td class="num">${(s.Nodes || []).length}</td><td>${tags(s.Tags)}</td></tr>`);
    }
    show(rows.length ? `<table id="services"><thead><tr><th>Service</th><th>Health</th><th>Instances</th>` +
      `<th>Checks ✓ / ! / ✗</th><th>Nodes</th><th>Tags</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
      : `<div class="empty">No services${filterBox.value ? " match the filter" : ""}.</div>`, rows.length, services.length);
  };
  watch(gen, "/v1/internal/ui/services", (data) => { services = data; redraw(); });
}

function instanceCard(entry, serviceName) {
  const { Node: node, Service: svc, Checks: checks } = entry;
  const address = svc.Address || node.Address;
  const meta = Object.entries(svc.Meta || {});
  const checkRows = checks.map((c) => `<tr data-check="${esc(c.CheckID)}"><td>${esc(c.Name)}<div class="muted">${esc(c.CheckID)}</div></td>` +
    `<td class="check-status">${badge(c.Status)}</td><td>${c.Output ? `<pre>${esc(c.Output)}</pre>` : '<span class="muted">no output</span>'}</td></tr>`).join("");
  return `<div class="card instance" data-instance="${esc(svc.ID)}">` +
    `<h3><a href="#/instance/${enc(serviceName)}/${enc(node.Node)}/${enc(svc.ID)}">${esc(svc.ID)}</a>${badge(health(checks))}</h3>` +
    `<dl><dt>Node</dt><dd><a href="#/node/${enc(node.Node)}">${esc(node.Node)}</a></dd>` +
    `<dt>Address</dt><dd>${esc(address)}:${svc.Port}</dd><dt>Tags</dt><dd>${tags(svc.Tags) || '<span class="muted">none</span>'}</dd>` +
    `<dt>Meta</dt><dd>${meta.length ? `<dl class="meta">${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>` : '<span class="muted">none</span>'}</dd></dl>` +
    `<table class="checks"><thead><tr><th>Check</th><th>Status</th><th>Output</th></tr></thead><tbody>${checkRows}</tbody></table></div>`;
}

function serviceView(gen, name, onlyNode, onlyId) {
  let entries = [];
  redraw = () => {
    const shown = entries.filter((e) => (!onlyId || (e.Node.Node === onlyNode && e.Service.ID === onlyId)) &&
      matches(`${e.Service.ID} ${e.Node.Node} ${e.Service.Address || e.Node.Address} ${(e.Service.Tags || []).join(" ")}`));
    const title = onlyId ? `<h1>${esc(onlyId)}<small>instance of <a href="#/service/${enc(name)}">${esc(name)}</a></small></h1>`
      : `<h1>${esc(name)}<small>${entries.length} instance${entries.length === 1 ? "" : "s"}</small></h1>`;
    show(title + (shown.length ? shown.map((e) => instanceCard(e, name)).join("")
      : '<div class="empty">No instances.</div>'), shown.length, entries.length);
  };
  watch(gen, `/v1/health/service/${enc(name)}`, (data) => { entries = data; redraw(); });
}

function nodesView(gen) {
  let nodes = [], members = new Map();
  redraw = () => {
    const rows = nodes.filter((n) => matches(`${n.Node} ${n.Address}`)).map((n) => {
      const m = members.get(n.Node);
      const status = m ? memberStatus[m.Status] || "none" : null;
      return `<tr data-node="${esc(n.Node)}"><td><a href="#/node/${enc(n.Node)}">${esc(n.Node)}</a></td><td>${esc(n.Address)}</td>` +
        `<td>${status ? badge(status) : '<span class="muted">not a member</span>'}</td>` +
        `<td>${Object.entries(n.Meta || {}).map(([k, v]) => `<span class="tag">${esc(k)}=${esc(v)}</span>`).join("")}</td></tr>`;
    });
    show(rows.length ? `<table id="nodes"><thead><tr><th>Node</th><th>Address</th><th>Gossip</th><th>Meta</th></tr></thead>` +
      `<tbody>${rows.join("")}</tbody></table>` : '<div class="empty">No nodes.</div>', rows.length, nodes.length);
  };
  // Members are not a blocking read: poll them while the view is open.
  const signal = routeAbort.signal;
  (async () => {
    while (generation === gen) {
      try {
        const { data } = await fetchJson("/v1/agent/members", null, signal);
        members = new Map(data.map((m) => [m.Name, m]));
        if (generation === gen) redraw();
      } catch (e) { /* shown by the catalog watcher's indicator */ }
      await sleep(3000);
    }
  })();
  watch(gen, "/v1/catalog/nodes", (data) => { nodes = data; redraw(); });
}

function nodeView(gen, name) {
  let node = null, checks = [];
  redraw = () => {
    if (!node) return show(`<h1>${esc(name)}</h1><div class="empty">No such node.</div>`);
    const n = node.Node;
    const services = Object.values(node.Services || {}).filter((s) => matches(`${s.Service} ${s.ID} ${(s.Tags || []).join(" ")}`));
    const nodeChecks = checks.filter((c) => !c.ServiceID);
    show(`<h1>${esc(n.Node)}<small>${esc(n.Address)}</small></h1>` +
      `<div class="card"><dl><dt>Datacenter</dt><dd>${esc(n.Datacenter)}</dd><dt>ID</dt><dd>${esc(n.ID)}</dd>` +
      Object.entries(n.Meta || {}).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("") + `</dl>` +
      nodeChecks.map((c) => `<div>${badge(c.Status)} ${esc(c.Name)} <pre>${esc(c.Output)}</pre></div>`).join("") + `</div>` +
      `<h2>Services</h2>` + (services.length ? `<table><thead><tr><th>Instance</th><th>Service</th><th>Port</th><th>Tags</th></tr></thead><tbody>` +
        services.map((s) => `<tr><td><a href="#/instance/${enc(s.Service)}/${enc(n.Node)}/${enc(s.ID)}">${esc(s.ID)}</a></td>` +
          `<td><a href="#/service/${enc(s.Service)}">${esc(s.Service)}</a></td><td class="num">${s.Port}</td><td>${tags(s.Tags)}</td></tr>`).join("") +
        `</tbody></table>` : '<div class="empty">No services.</div>'), services.length, Object.keys(node.Services || {}).length);
  };
  watch(gen, `/v1/health/node/${enc(name)}`, (data) => { checks = data; redraw(); });
  watch(gen, `/v1/catalog/node/${enc(name)}`, (data) => { node = data; redraw(); });
}

function route() {
  routeAbort.abort();
  routeAbort = new AbortController();
  const gen = ++generation;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const section = parts[0] || "services";
  const nav = section.startsWith("node") ? "nodes" : "services";  // service and instance pages sit under services
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
  view.innerHTML = '<p class="muted">Loading…</p>';
  if (section === "service" && parts[1]) serviceView(gen, parts[1]);
  else if (section === "instance" && parts.length >= 4) serviceView(gen, parts[1], parts[2], parts[3]);
  else if (section === "nodes") nodesView(gen);
  else if (section === "node" && parts[1]) nodeView(gen, parts[1]);
  else servicesView(gen);
}

filterBox.addEventListener("input", () => redraw());
window.addEventListener("hashchange", () => { filterBox.value = ""; route(); });
fetchJson("/v1/agent/self").then(({ data }) => {
  document.getElementById("agent").textContent = `${data.Config.NodeName} · ${data.Config.Datacenter}`;
}).catch(() => {});
route();
