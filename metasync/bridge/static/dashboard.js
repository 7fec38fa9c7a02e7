// metasync dashboard: plain DOM, no framework, no build step. Every request carries the X-Metasync-Token
// header from the server-rendered page; thumbnails are fetched with it and shown as blob: URLs.
"use strict";

const TOKEN = document.querySelector('meta[name="metasync-token"]').content;
const $ = (sel) => document.querySelector(sel);

// -- plumbing ----------------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const init = { method, headers: { "X-Metasync-Token": TOKEN } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const data = (resp.headers.get("Content-Type") || "").startsWith("application/json") ? await resp.json() : null;
  if (!resp.ok) {
    const err = (data && data.error) || { code: "http_" + resp.status, message: resp.statusText };
    throw new ApiError(resp.status, err.code, err.message);
  }
  return data;
}

const q = (params) => new URLSearchParams(params).toString();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function say(text, kind = "info") {
  const box = $("#message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

// Run an action, reporting its error instead of throwing it into the console.
async function guarded(fn) {
  try {
    return await fn();
  } catch (err) {
    say(err instanceof ApiError ? `${err.message} (${err.code})` : String(err), "error");
    return undefined;
  }
}

function confirmDialog(text) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

function showProgress(stage, done, total) {
  const box = $("#progress");
  box.hidden = false;
  const bar = box.querySelector("progress");
  if (total > 0) { bar.max = total; bar.value = done; } else { bar.removeAttribute("value"); }
  box.querySelector(".label").textContent = total > 0 ? `${stage} ${done}/${total}` : `${stage || "working"}…`;
}

function hideProgress() { $("#progress").hidden = true; }

// Thumbnails: fetched with the token header (an <img src> cannot send it), a few at a time.
const thumbQueue = [];
let thumbsRunning = 0;

function thumb(path, size = 128) {
  const img = el("img", { class: "thumb", alt: basename(path), title: path, width: size, height: size });
  thumbQueue.push([img, path, size]);
  pumpThumbs();
  return img;
}

function pumpThumbs() {
  while (thumbsRunning < 4 && thumbQueue.length) {
    const [img, path, size] = thumbQueue.shift();
    thumbsRunning++;
    fetch("/api/files/thumbnail?" + q({ path, size }), { headers: { "X-Metasync-Token": TOKEN } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(r.status)))
      .then((blob) => { img.src = URL.createObjectURL(blob); img.removeAttribute("height"); })
      .catch(() => img.classList.add("broken"))
      .finally(() => { thumbsRunning--; pumpThumbs(); });
  }
}

const basename = (p) => p.split(/[\\/]/).pop();
const pct = (x) => Math.round((x || 0) * 100);
const count = (x) => (Array.isArray(x) ? x.length : x ?? 0);

function fmt(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "—";
  if (typeof value === "number") return String(Math.round(value * 1e6) / 1e6);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// green >= 90 %, yellow 70-90 %, red < 70 %
function meter(confidence) {
  const p = pct(confidence);
  const cls = p >= 90 ? "high" : p >= 70 ? "medium" : "low";
  const fill = el("span", { class: "fill" });
  fill.style.width = `${p}%`; // CSSOM, not a style attribute: the CSP allows no inline styles
  return el("span", { class: `meter ${cls}`, title: `confidence ${p} %`, "data-testid": "confidence" },
    fill, el("span", { class: "value" }, `${p} %`));
}

const badge = (status) => el("span", { class: `badge ${status}`, "data-testid": "status" }, status);

// Which analyzer produced a verdict (the local scene analyzer, or an AI one such as "ollama:llava"), when the
// engine says so: a field on the item, or the "analyzer: reason" prefix scene.py gives its reasons.
const ANALYZER_PREFIX = /^((?:local|ollama)(?::[\w.\-]+)?): (.+)$/;

function analyzerOf(item) {
  return item && (item.analyzer || (item.verdict && item.verdict.analyzer)) || null;
}

function sceneVerdict(g) {
  const v = g.scene || (g.options && g.options.scene);
  if (!v || !v.analyzer) return null;
  return el("p", { class: "verdict", "data-testid": "verdict" }, el("span", { class: "analyzer" }, v.analyzer),
    `${v.same === false ? "different events" : "one event"} (${pct(v.confidence)} %)`);
}

function reasonList(reasons) {
  if (!reasons || (Array.isArray(reasons) && !reasons.length)) return null;
  const items = Array.isArray(reasons) ? reasons : [reasons];
  return el("ul", { class: "reasons" }, items.map((r) => {
    if (typeof r !== "string") {
      const who = analyzerOf(r);
      return el("li", {}, who ? el("span", { class: "analyzer" }, who) : null, r.text || r.reason || fmt(r));
    }
    const m = ANALYZER_PREFIX.exec(r);
    return m ? el("li", {}, el("span", { class: "analyzer" }, m[1]), m[2]) : el("li", {}, r);
  }));
}

function changesTable(changes) {
  if (!changes || !changes.length) return el("p", { class: "empty" }, "No changes to make.");
  return el("table", { class: "changes", "data-testid": "changes" },
    el("thead", {}, el("tr", {}, ["Photo", "Field", "Now", "New", "Why", "Confidence"].map((h) => el("th", {}, h)))),
    el("tbody", {}, changes.map((c) => el("tr", { class: c.conflict ? "conflict" : "" },
      el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); openDetail(c.path); } }, basename(c.path))),
      el("td", {}, c.field),
      el("td", { class: "old" }, fmt(c.old)),
      el("td", { class: "new" }, fmt(c.new), c.conflict ? el("span", { class: "flag" }, " conflict") : null),
      el("td", {}, analyzerOf(c) ? el("span", { class: "analyzer" }, analyzerOf(c)) : null, c.reason || "",
        c.source ? el("small", {}, ` from ${basename(c.source)}`) : null),
      el("td", {}, meter(c.confidence))))));
}

// A group's photos and roles, whichever shape carries them: a suggestion's files list, a preview's
// {path: {role, metadata}} map, or a listed group's sources and targets.
function members(detail) {
  if (Array.isArray(detail.files)) return detail.files;
  if (detail.files && typeof detail.files === "object") {
    return Object.entries(detail.files).map(([path, f]) => ({ path, role: f.role }));
  }
  const out = [];
  if (Array.isArray(detail.sources)) detail.sources.forEach((p) => out.push({ path: p.path || p, role: "source" }));
  if (Array.isArray(detail.targets)) detail.targets.forEach((p) => out.push({ path: p.path || p, role: "target" }));
  return out;
}

function memberStrip(list) {
  return el("div", { class: "strip" }, list.map((m) => el("figure", { class: `member ${m.role || ""}` },
    el("a", { href: "#", onclick: (e) => { e.preventDefault(); openDetail(m.path); } }, thumb(m.path, 96)),
    el("figcaption", {}, basename(m.path), m.role ? el("span", { class: `role ${m.role}` }, m.role) : null))));
}

// -- 1. groups ---------------------------------------------------------------------------------------------
async function loadGroups() {
  const data = await guarded(() => api("GET", "/api/metadata-sync/groups"));
  if (!data) return;
  const box = $("#groups");
  box.replaceChildren();
  if (!data.groups.length) box.append(el("p", { class: "empty" }, "No groups yet: run Auto-detect or create one."));
  for (const g of data.groups) box.append(groupCard(g));
}

function groupCard(g) {
  const body = el("div", { class: "body" });
  const card = el("article", { class: "card group", "data-group": g.id, "data-testid": "group" },
    el("header", {},
      el("h3", {}, `Group ${g.id}`, g.kind ? el("small", {}, ` ${g.kind}`) : null,
        g.user_created ? el("small", {}, " (yours)") : null),
      badge(g.status), meter(g.confidence)),
    el("p", { class: "counts" },
      `${count(g.sources)} source(s) → ${count(g.targets)} target(s), ${count(g.changes)} change(s)`,
      g.updated_at ? el("small", {}, ` · updated ${new Date(g.updated_at).toLocaleString()}`) : null),
    members(g).length ? memberStrip(members(g).slice(0, 6)) : null,
    el("div", { class: "actions" },
      el("button", { type: "button", "data-action": "open", onclick: () => toggleGroup(g.id, body) }, "Open"),
      el("button", { type: "button", "data-action": "apply", disabled: g.status === "applied",
        onclick: () => applyGroup(g.id) }, "Apply"),
      el("button", { type: "button", "data-action": "revert", disabled: g.status !== "applied",
        onclick: () => revertGroup(g.id) }, "Revert"),
      el("button", { type: "button", "data-action": "delete", class: "danger", onclick: () => deleteGroup(g.id) },
        "Delete")),
    body);
  return card;
}

async function toggleGroup(id, body) {
  if (body.childElementCount) { body.replaceChildren(); return; }
  const d = await guarded(() => api("GET", `/api/metadata-sync/groups/${id}`));
  if (!d) return;
  body.replaceChildren(memberStrip(members(d)), sceneVerdict(d), reasonList(d.reasons), changesTable(d.changes),
    d.conflicts && d.conflicts.length ? el("p", { class: "flag" }, `${d.conflicts.length} conflict(s) are skipped unless included.`) : null);
}

async function applyGroup(id) {
  const d = await guarded(() => api("GET", `/api/metadata-sync/groups/${id}`));
  if (!d) return;
  const photos = new Set(d.changes.map((c) => c.path)).size;
  if (!(await confirmDialog(`Apply ${d.changes.length} change(s) to ${photos} photo(s) of group ${id}? ` +
    "Sidecars are written; Revert restores them."))) return;
  const r = await guarded(() => api("POST", `/api/metadata-sync/groups/${id}/apply`, {}));
  if (r) say(`Group ${id} applied: ${count(r.applied)} change(s), ${count(r.sidecars)} sidecar(s) written.`, "ok");
  await loadGroups();
}

async function revertGroup(id) {
  if (!(await confirmDialog(`Revert group ${id}? Its files get their previous bytes back.`))) return;
  const r = await guarded(() => api("POST", `/api/metadata-sync/groups/${id}/revert`, {}));
  if (r) say(`Group ${id} reverted: ${count(r.restored)} restored, ${count(r.removed)} removed.`, "ok");
  await loadGroups();
}

async function deleteGroup(id) {
  if (!(await confirmDialog(`Delete group ${id}? Applied changes stay on disk.`))) return;
  if (await guarded(() => api("DELETE", `/api/metadata-sync/groups/${id}`))) say(`Group ${id} deleted.`, "ok");
  await loadGroups();
}

// -- 2. group creator --------------------------------------------------------------------------------------
const selection = new Map(); // path -> "target" | "source"
let browseParent = null;

async function browse(dir) {
  const data = await guarded(() => api("GET", "/api/files" + (dir ? "?" + q({ dir }) : "")));
  if (!data) return;
  browseParent = data.parent;
  $("#browse-up").disabled = !data.dir;
  $("#browse-dir").textContent = data.dir || "library roots";
  $("#browse-folders").replaceChildren(...data.folders.map((f) => el("li", {},
    el("a", { href: "#", "data-testid": "folder", onclick: (e) => { e.preventDefault(); browse(f.path); } }, `📁 ${f.name}`))));
  $("#browse-photos").replaceChildren(...data.photos.map((p) => {
    const fig = el("figure", { class: `pick ${selection.get(p.path) || ""}`, "data-path": p.path, "data-testid": "photo" },
      thumb(p.path), el("figcaption", {}, p.name, el("span", { class: "role" })));
    const paint = () => {
      const role = selection.get(p.path) || "";
      fig.className = `pick ${role}`;
      fig.querySelector(".role").textContent = role;
    };
    fig.addEventListener("click", () => {
      const next = { undefined: "target", target: "source", source: undefined }[selection.get(p.path)];
      if (next) selection.set(p.path, next); else selection.delete(p.path);
      paint();
      updateSelection();
    });
    paint();
    return fig;
  }));
}

function updateSelection() {
  const sources = [...selection.values()].filter((r) => r === "source").length;
  $("#selection-count").textContent = `${selection.size} selected (${sources} source(s))`;
  $("#create-preview").disabled = selection.size < 2;
}

async function previewNewGroup() {
  const files = [...selection.keys()];
  const sources = files.filter((p) => selection.get(p) === "source");
  const d = await guarded(() => api("POST", "/api/metadata-sync/groups", { files, sources }));
  if (!d) return;
  const box = $("#create-result");
  box.replaceChildren(
    el("h3", {}, `Preview of group ${d.id} `, meter(d.confidence)),
    changesTable(d.changes),
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: async () => {
        await applyGroup(d.id);
        box.replaceChildren();
        selection.clear();
        updateSelection();
        browse($("#browse-dir").textContent === "library roots" ? null : $("#browse-dir").textContent);
      } }, "Apply…"),
      el("button", { type: "button", onclick: async () => {
        await guarded(() => api("DELETE", `/api/metadata-sync/groups/${d.id}`));
        box.replaceChildren();
        say(`Group ${d.id} discarded.`);
      } }, "Discard")));
}

// -- 3. auto-detection -------------------------------------------------------------------------------------
async function runDetect(event) {
  event.preventDefault();
  const path = $("#detect-path").value.trim() || $("#detect-root").value;
  $("#detect-run").disabled = true;
  try {
    const started = await guarded(() => api("POST", "/api/metadata-sync/auto-detect", { path, background: true }));
    if (!started) return;
    const result = started.job ? await pollJob(started.job) : started;
    if (result) showSuggestions(result.suggestions);
  } finally {
    $("#detect-run").disabled = false;
    hideProgress();
  }
}

async function pollJob(job) {
  for (;;) {
    showProgress(job.stage || "queued", job.done, job.total);
    if (job.status === "done") return job.result;
    if (job.status === "failed") { say(`Detection failed: ${job.error.message}`, "error"); return null; }
    await new Promise((r) => setTimeout(r, 250));
    job = await guarded(() => api("GET", `/api/jobs/${job.id}`));
    if (!job) return null;
  }
}

function showSuggestions(list) {
  const box = $("#suggestions");
  box.replaceChildren();
  say(`${list.length} suggestion(s).`, "ok");
  if (!list.length) box.append(el("p", { class: "empty" }, "Nothing to suggest here."));
  for (const s of list) box.append(suggestionCard(s));
}

function suggestionCard(s) {
  const body = el("div", { class: "body" });
  const card = el("article", { class: "card suggestion", "data-group": s.id, "data-testid": "suggestion" },
    el("header", {}, el("h3", {}, `Suggestion ${s.id}`, s.band ? el("small", {}, ` ${s.band}`) : null),
      analyzerOf(s) ? el("span", { class: "analyzer" }, analyzerOf(s)) : null, meter(s.confidence)),
    memberStrip(s.files || []),
    sceneVerdict(s),
    reasonList(s.reasons),
    el("p", { class: "counts" }, `${count(s.changes)} change(s)`),
    el("div", { class: "actions" },
      el("button", { type: "button", "data-action": "open", onclick: () => toggleGroup(s.id, body) }, "Preview"),
      el("button", { type: "button", "data-action": "accept", onclick: async () => {
        await applyGroup(s.id); card.classList.add("done");
      } }, "Accept…"),
      el("button", { type: "button", "data-action": "edit", onclick: () => editMembers(s, body) }, "Edit"),
      el("button", { type: "button", "data-action": "drop", class: "danger", onclick: async () => {
        if (await guarded(() => api("DELETE", `/api/metadata-sync/groups/${s.id}`))) card.remove();
      } }, "Drop")),
    body);
  return card;
}

// Edit membership: keep/remove files and change roles, saved as a new group replacing the suggestion.
function editMembers(s, body) {
  const roles = new Map((s.files || []).map((f) => [f.path, f.role === "source" ? "source" : "target"]));
  const rows = (s.files || []).map((f) => el("tr", {},
    el("td", {}, thumb(f.path, 64)), el("td", {}, basename(f.path)),
    el("td", {}, el("select", { onchange: (e) => roles.set(f.path, e.target.value) },
      ["source", "target", "remove"].map((r) => el("option", { value: r, selected: roles.get(f.path) === r }, r))))));
  body.replaceChildren(el("table", { class: "edit" }, el("tbody", {}, rows)),
    el("button", { type: "button", onclick: async () => {
      const files = [...roles].filter(([, r]) => r !== "remove").map(([p]) => p);
      const sources = [...roles].filter(([, r]) => r === "source").map(([p]) => p);
      const d = await guarded(() => api("POST", "/api/metadata-sync/groups", { files, sources }));
      if (!d) return;
      await guarded(() => api("DELETE", `/api/metadata-sync/groups/${s.id}`));
      say(`Suggestion ${s.id} replaced by group ${d.id}.`, "ok");
      body.replaceChildren(changesTable(d.changes));
    } }, "Save as new group"));
}

// -- 4. detail panel ---------------------------------------------------------------------------------------
async function openDetail(path) {
  const d = await guarded(() => api("GET", "/api/files/history?" + q({ path })));
  if (!d) return;
  const panel = $("#detail");
  panel.hidden = false;
  $("#detail-title").textContent = basename(path);
  const img = $("#detail-thumb");
  img.removeAttribute("src");
  img.replaceWith(Object.assign(thumb(path, 256), { id: "detail-thumb" }));

  // original = each field's value before the first recorded change; current = the index now
  const original = { ...d.current };
  const touched = new Set();
  for (const v of d.history) {
    for (const [field, ch] of Object.entries(v.changes || {})) {
      if (!touched.has(field)) { original[field] = ch && "old" in ch ? ch.old : null; touched.add(field); }
    }
  }
  const fields = Object.keys(d.current).filter((f) => !["path", "phash"].includes(f));
  $("#detail-meta tbody").replaceChildren(...fields.map((f) => {
    const a = fmt(original[f]), b = fmt(d.current[f]);
    const kind = a === b ? "same" : a === "—" ? "added" : b === "—" ? "removed" : "changed";
    const mark = { same: "=", added: "+", removed: "-", changed: "±" }[kind];
    return el("tr", { class: kind, "data-field": f },
      el("td", {}, el("span", { class: "mark" }, mark), " ", f),
      el("td", { class: kind === "same" ? "same" : kind === "added" ? "" : "removed" }, a),
      el("td", { class: kind === "same" ? "same" : kind === "removed" ? "" : "added" }, b));
  }));
  $("#detail-history").replaceChildren(...(d.history.length ? d.history.map((v) => el("li", {},
    `${new Date(v.when).toLocaleString()} · ${v.kind} · group ${v.group ?? "—"} · `,
    Object.keys(v.changes || {}).join(", ") || basename(v.file || ""))) : [el("li", { class: "empty" }, "never changed")]));

  // revert the latest apply that was not reverted yet
  const reverted = new Set(d.history.filter((v) => v.kind === "revert").map((v) => v.reverts));
  const last = [...d.history].reverse().find((v) => v.kind !== "revert" && !reverted.has(v.operation));
  const button = $("#detail-revert");
  button.hidden = !last;
  button.onclick = last ? async () => { await revertGroup(last.group); openDetail(path); } : null;
}

// -- wiring ------------------------------------------------------------------------------------------------
function showTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
  if (name === "groups") loadGroups();
  if (name === "create" && !$("#browse-photos").dataset.loaded) { $("#browse-photos").dataset.loaded = "1"; browse(null); }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  $("#refresh-groups").addEventListener("click", loadGroups);
  $("#browse-up").addEventListener("click", () => browse(browseParent));
  $("#create-preview").addEventListener("click", previewNewGroup);
  $("#detect-form").addEventListener("submit", runDetect);
  $("#detail-close").addEventListener("click", () => { $("#detail").hidden = true; });
  loadGroups();
});
