// Jobs: list with status and next run; detail with its actions and schedule; create, edit, clone;
// start, stop, abort and delete.
import { api, list as listOf } from "../api.js";
import { badge, busy, confirmed, errorBox, field, fmtTime, go, h, render, select, table } from "../dom.js";
import { actionEditor, readAction, readSchedule, scheduleEditor } from "../forms.js";
import { nextRun, summary } from "../schedule.js";

const now = () => Math.floor(Date.now() / 1000);
const when = (v) => (typeof v === "number" ? fmtTime(v) : v);
const jobUrl = (id) => `jobs/${encodeURIComponent(id)}`;

export async function list(main, { query, stale }) {
  const jobs = await listOf("jobs");
  if (stale()) return;
  const clients = [...new Set(jobs.map((j) => j.client_id))].sort();
  const chosen = query.get("client") || "";
  const filter = select("client", [["", "All clients"], ...clients.map((c) => [c, c])], chosen, { id: "job-client" });
  const search = h("input", { id: "job-search", type: "search", placeholder: "description, action, path…" });
  const holder = h("div");
  const draw = () => {
    const text = search.value.trim().toLowerCase();
    const shown = jobs.filter((j) => (!filter.value || j.client_id === filter.value) &&
      (!text || JSON.stringify([j.description, j.job_actions]).toLowerCase().includes(text)));
    render(holder, table("Jobs", ["Description", "Client", "Status", "Result", "Schedule", "Last run", "Next run"],
      shown.map((j) => {
        const s = j.job_schedule || {};
        return [h("a", { href: `#/jobs/${encodeURIComponent(j.job_id)}` }, j.description || j.job_id), j.client_id,
          badge(s.status || (s.event ? `${s.event} requested` : "new")), badge(s.result), summary(s),
          fmtTime(s.time_started), when(nextRun(j, now()))];
      }), jobs.length ? "No job matches." : "No job yet."));
  };
  filter.addEventListener("change", draw);
  search.addEventListener("input", draw);
  draw();
  render(main,
    h("div", { class: "row spread" }, h("h1", {}, "Jobs"), h("a", { class: "button primary", href: "#/jobs/new" }, "New job")),
    h("div", { class: "filters", role: "search" }, field("Client", filter), field("Search", search)),
    holder);
}

async function event(button, box, job, name) {
  const done = await busy(button, box, () => api("POST", `${jobUrl(job.job_id)}/event`, { [name]: null }));
  if (done) go(`#/jobs/${encodeURIComponent(job.job_id)}`, `${name[0].toUpperCase()}${name.slice(1)}: ${done.result}`);
}

export async function detail(main, { id, stale }) {
  const job = await api("GET", jobUrl(id));
  if (stale()) return;
  const s = job.job_schedule || {};
  const box = errorBox();
  const btn = (label, onclick, cls) => h("button", { type: "button", class: cls || "", onclick }, label);
  const bar = h("div", { class: "actions-bar", role: "toolbar", "aria-label": "Job operations" },
    btn("Start", (ev) => event(ev.currentTarget, box, job, "start"), "primary"),
    btn("Stop", (ev) => event(ev.currentTarget, box, job, "stop")),
    btn("Abort", (ev) => event(ev.currentTarget, box, job, "abort"), "danger"),
    h("a", { class: "button", href: `#/jobs/${encodeURIComponent(id)}/edit` }, "Edit"),
    h("a", { class: "button", href: `#/jobs/${encodeURIComponent(id)}/clone` }, "Clone"),
    btn("Delete", async (ev) => {
      if (!confirmed(`Delete job “${job.description || id}”?`)) return;
      const ok = await busy(ev.currentTarget, box, () => api("DELETE", jobUrl(id)));
      if (ok !== undefined) go("#/jobs", "Job deleted");
    }, "danger"));
  const kv = [
    ["Job id", h("span", { class: "mono" }, job.job_id)], ["Client", job.client_id],
    ["Status", badge(s.status || "new")], ["Result", badge(s.result)], ["Pending event", s.event || "—"],
    ["Schedule", summary(s)], ["Next run", when(nextRun(job, now()))],
    ["Last started", fmtTime(s.time_started)], ["Last ended", fmtTime(s.time_ended)],
    ["Created", fmtTime(s.time_created)],
    ["Session", job.session_id ? h("a", { href: `#/sessions/${encodeURIComponent(job.session_id)}` }, job.session_id) : "—"],
  ];
  const actions = (job.job_actions || []).map((a, i) => {
    const fa = a.freezer_action || {};
    return [String(i + 1), fa.action || "—", fa.mode || "—", fa.backup_name || "—",
      fa.path_to_backup || fa.restore_abs_path || "—", `${fa.storage || "—"} ${fa.container || ""}`,
      a.max_retries ?? "—", a.mandatory ? "yes" : "no"];
  });
  render(main,
    h("h1", {}, job.description || `Job ${id}`), box, bar,
    h("section", { class: "card", "aria-label": "Job" }, h("dl", { class: "kv" }, kv.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    h("h2", {}, "Actions"),
    table("Actions of the job", ["#", "Action", "Mode", "Backup name", "Path", "Storage", "Retries", "Mandatory"], actions),
    h("details", {}, h("summary", {}, "Job document (JSON)"), h("pre", { class: "json" }, JSON.stringify(job, null, 2))));
}

// A job's copy without what the server owns, for clone and edit.
function reusable(job) {
  return (job.job_actions || []).map((a) => {
    const { action_id: _a, user_id: _u, project_id: _p, ...rest } = a;
    return rest;
  });
}

async function jobForm(main, { job, mode, stale }) {
  const clients = await listOf("clients");
  if (stale()) return;
  const box = errorBox();
  const ids = clients.map((c) => c.client.client_id);
  if (job.client_id && !ids.includes(job.client_id)) ids.unshift(job.client_id);
  const client = select("client_id", ids.map((c) => [c, c]), job.client_id || ids[0], { id: "job-client-id", required: true });
  const description = h("input", { name: "description", id: "job-description", value: job.description || "", required: true,
    autocomplete: "off" });
  const holder = h("div");
  let entries = reusable(job);
  if (!entries.length) entries = [{ freezer_action: { action: "backup", mode: "fs", storage: "local", engine_name: "tar" }, max_retries: 0 }];
  const drawActions = () => render(holder, entries.map((e, i) => actionEditor(e, i, entries.length > 1 ? () => {
    entries = [...holder.querySelectorAll(".action-editor")].map(readActionLoose);
    entries.splice(i, 1);
    drawActions();
  } : null)));
  drawActions();
  const schedule = scheduleEditor(job.job_schedule);
  const submit = h("button", { type: "submit", class: "primary" }, mode === "edit" ? "Save job" : "Create job");
  const el = h("form", { "aria-label": "Job" }, box,
    h("fieldset", {}, h("legend", {}, "Job"), h("div", { class: "grid" },
      field("Description", description), field("Client", client,
        ids.length ? "The machine whose scheduler runs the job." : "No client registered: start freezer-scheduler first."))),
    holder,
    h("div", { class: "actions-bar" }, h("button", { type: "button", onclick: () => {
      entries = [...holder.querySelectorAll(".action-editor")].map(readActionLoose);
      entries.push({ freezer_action: { action: "backup", mode: "fs", storage: "local", engine_name: "tar" } });
      drawActions();
      holder.querySelector(".action-editor:last-child select").focus();
    } }, "Add action")),
    schedule,
    h("div", { class: "actions-bar" }, submit,
      h("a", { class: "button", href: job.job_id && mode === "edit" ? `#/jobs/${encodeURIComponent(job.job_id)}` : "#/jobs" }, "Cancel")));
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const done = await busy(submit, box, async () => {
      const body = {
        description: description.value.trim(), client_id: client.value,
        job_actions: [...holder.querySelectorAll(".action-editor")].map(readAction),
        job_schedule: readSchedule(schedule),
      };
      if (mode === "edit") {
        await api("PATCH", jobUrl(job.job_id), body);
        return { job_id: job.job_id };
      }
      return api("POST", "jobs", body);
    });
    if (done) go(`#/jobs/${encodeURIComponent(done.job_id)}`, mode === "edit" ? "Job saved" : "Job created");
  });
  const title = { new: "New job", edit: `Edit ${job.description || "job"}`, clone: `Clone ${job.description || "job"}` }[mode];
  render(main, h("h1", {}, title), el);
}

function readActionLoose(set) {
  try {
    return readAction(set);
  } catch {
    return { freezer_action: {} };
  }
}

export async function form(main, { id, stale }) {
  const job = id ? await api("GET", jobUrl(id)) : { job_schedule: {} };
  if (stale()) return;
  await jobForm(main, { job, mode: id ? "edit" : "new", stale });
}

export async function cloneForm(main, { id, stale }) {
  const job = await api("GET", jobUrl(id));
  if (stale()) return;
  const copy = { ...job, job_id: undefined, description: `Copy of ${job.description || id}` };
  await jobForm(main, { job: copy, mode: "clone", stale });
}
