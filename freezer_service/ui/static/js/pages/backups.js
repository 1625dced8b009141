// Backups: filter by client, name and date; detail; delete; restore to a point in time.
import { api, list as listOf } from "../api.js";
import { apiDate, badge, busy, confirmed, errorBox, field, fmtTime, go, h, isoInput, render, select, table } from "../dom.js";
import { parseDate } from "../schedule.js";

const meta = (b) => b.backup_metadata || {};
const stamp = (b) => Number(meta(b).time_stamp) || 0;

export async function list(main, { query, stale }) {
  const [backups, jobs] = await Promise.all([listOf("backups"), listOf("jobs")]);
  if (stale()) return;
  const jobClient = Object.fromEntries(jobs.map((j) => [j.job_id, j.client_id]));
  const clientOf = (b) => jobClient[meta(b).job_id] || meta(b).client_id || meta(b).hostname || "";
  backups.sort((a, b) => stamp(b) - stamp(a));
  const clients = [...new Set(backups.map(clientOf).filter(Boolean))].sort();
  const client = select("client", [["", "All clients"], ...clients.map((c) => [c, c])], query.get("client") || "",
    { id: "bk-client" });
  const name = h("input", { id: "bk-name", type: "search", autocomplete: "off", value: query.get("name") || "" });
  const after = h("input", { id: "bk-after", type: "datetime-local", step: 1 });
  const before = h("input", { id: "bk-before", type: "datetime-local", step: 1 });
  const holder = h("div", { "aria-live": "polite" });
  const draw = () => {
    const from = parseDate(apiDate(after.value));
    const to = parseDate(apiDate(before.value));
    const text = name.value.trim().toLowerCase();
    const shown = backups.filter((b) => (!client.value || clientOf(b) === client.value) &&
      (!text || String(meta(b).backup_name || "").toLowerCase().includes(text)) &&
      (from === null || stamp(b) >= from) && (to === null || stamp(b) <= to));
    render(holder,
      h("p", { class: "muted" }, `${shown.length} of ${backups.length} backup(s)`),
      table("Backups", ["Backup", "Client", "Time", "Level", "Path", "Storage", "Status"], shown.map((b) => [
        h("a", { href: `#/backups/${encodeURIComponent(b.backup_id)}` }, meta(b).backup_name || b.backup_id),
        clientOf(b) || "—", fmtTime(meta(b).time_stamp), String(meta(b).curr_backup_level ?? meta(b).level ?? "—"),
        meta(b).path_to_backup || "—", meta(b).storage || "—", badge(b.status)]),
      backups.length ? "No backup matches these filters." : "No backup yet."));
  };
  for (const el of [client, name, after, before]) el.addEventListener("input", draw);
  draw();
  render(main, h("h1", {}, "Backups"),
    h("div", { class: "filters", role: "search", "aria-label": "Filter backups" },
      field("Client", client), field("Name", name), field("From (UTC)", after), field("To (UTC)", before)),
    holder);
}

export async function detail(main, { id, stale }) {
  const [b, clients, jobs] = await Promise.all([api("GET", `backups/${encodeURIComponent(id)}`), listOf("clients"),
    listOf("jobs")]);
  if (stale()) return;
  const m = meta(b);
  const box = errorBox();
  const job = jobs.find((j) => j.job_id === m.job_id);
  const ids = clients.map((c) => c.client.client_id);
  const guess = job?.client_id || clients.find((c) => c.client.hostname === m.hostname)?.client.client_id || ids[0];
  const remove = h("button", { type: "button", class: "danger", onclick: async (ev) => {
    if (!confirmed(`Delete the record of backup ${m.backup_name || id}? The data in storage stays.`)) return;
    const ok = await busy(ev.currentTarget, box, () => api("DELETE", `backups/${encodeURIComponent(id)}`));
    if (ok !== undefined) go("#/backups", "Backup record deleted");
  } }, "Delete record");
  const keys = Object.keys(m).sort();
  const kv = [["Backup id", h("span", { class: "mono" }, b.backup_id)], ["Status", badge(b.status)],
    ["Time", fmtTime(m.time_stamp)],
    ["Job", job ? h("a", { href: `#/jobs/${encodeURIComponent(job.job_id)}` }, job.description || job.job_id) : (m.job_id || "—")],
    ...keys.filter((k) => !["time_stamp", "job_id"].includes(k)).map((k) => [k.replace(/_/g, " "),
      typeof m[k] === "object" ? JSON.stringify(m[k]) : String(m[k])])];

  const target = h("select", { name: "client_id", id: "restore-client", required: true },
    ids.map((c) => h("option", { value: c, selected: c === guess }, c)));
  const path = h("input", { name: "restore_abs_path", id: "restore-path", required: true, autocomplete: "off",
    placeholder: "/srv/restore" });
  const date = h("input", { name: "restore_from_date", id: "restore-date", type: "datetime-local", step: 1,
    value: m.time_stamp ? isoInput(m.time_stamp) : "" });
  const submit = h("button", { type: "submit", class: "primary" }, "Restore");
  const form = h("form", { class: "card", "aria-labelledby": "restore-title" },
    h("h2", { id: "restore-title" }, "Restore"),
    h("p", { class: "muted" }, "Creates a restore job for the chosen client and starts it: the client's scheduler restores the ",
      "state at the chosen time (the newest backup of this chain made at or before it)."),
    h("div", { class: "grid" },
      field("Restore on client", target),
      field("Target directory", path, "An absolute path on that client."),
      field("Point in time (UTC)", date, "Defaults to this backup's time.")),
    h("div", { class: "actions-bar" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const done = await busy(submit, box, async () => {
      const fa = { action: "restore", backup_name: m.backup_name, container: m.container, storage: m.storage,
        restore_abs_path: path.value.trim(), hostname: m.hostname };
      if (m.engine_name) fa.engine_name = m.engine_name;
      if (m.mode) fa.mode = m.mode;
      if (date.value) fa.restore_from_date = apiDate(date.value);
      for (const k of Object.keys(fa)) if (fa[k] === undefined || fa[k] === null || fa[k] === "") delete fa[k];
      const created = await api("POST", "jobs", {
        client_id: target.value, description: `Restore ${m.backup_name || id} for ${target.value}`,
        job_schedule: {}, job_actions: [{ freezer_action: fa, max_retries: 0 }],
      });
      await api("POST", `jobs/${encodeURIComponent(created.job_id)}/event`, { start: null });
      return created;
    });
    if (done) go(`#/jobs/${encodeURIComponent(done.job_id)}`, "Restore job created and started");
  });
  render(main, h("h1", {}, `Backup ${m.backup_name || id}`), box,
    h("div", { class: "actions-bar" }, remove),
    h("section", { class: "card", "aria-label": "Backup" }, h("dl", { class: "kv" }, kv.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    ids.length ? form : h("p", { class: "card muted" }, "Register a client to restore this backup."));
}
