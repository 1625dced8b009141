// Form parts shared by the pages: a freezer_action editor and a job schedule editor.
import { apiDate, field, h, inputDate, select } from "./dom.js";
import { CRON_FIELDS, kindOf } from "./schedule.js";

export const ACTIONS = ["backup", "restore", "info", "admin", "exec"];
const MODES = ["fs", "mysql", "mongo", "sqlserver", "cinder", "cindernative", "glance", "nova", "null"];
const STORAGES = ["local", "swift", "ssh", "s3", "ftp", "ftps"];
const ENGINES = ["tar", "rsync", "rsyncv2", "nova", "osbrick", "glance"];
const TEXT_KEYS = ["path_to_backup", "backup_name", "container", "storage", "engine_name", "restore_abs_path",
  "restore_from_date", "remove_older_than"];
const KNOWN = ["action", "mode", ...TEXT_KEYS];
function datalists(index) {
  const dl = (id, values) => h("datalist", { id: `${id}-${index}` }, values.map((v) => h("option", { value: v })));
  return [dl("dl-modes", MODES), dl("dl-storages", STORAGES), dl("dl-engines", ENGINES)];
}

function text(name, value, attrs) {
  return h("input", { name, value: value ?? "", autocomplete: "off", ...(attrs || {}) });
}

// One action: its freezer_action and retry settings. `entry` is a job_actions entry or an action doc.
export function actionEditor(entry, index, onRemove) {
  const fa = entry.freezer_action || {};
  const extra = Object.fromEntries(Object.entries(fa).filter(([k, v]) => !KNOWN.includes(k) && v !== null));
  const set = h("fieldset", { class: "action-editor", dataset: { index: String(index) } },
    h("legend", {}, `Action ${index + 1}`),
    datalists(index),
    h("div", { class: "grid" },
      field("Action", select("action", ACTIONS, fa.action || "backup")),
      field("Mode", text("mode", fa.mode ?? "fs", { list: `dl-modes-${index}` })),
      field("Path to back up", text("path_to_backup", fa.path_to_backup), "Backups: the directory or file to save."),
      field("Backup name", text("backup_name", fa.backup_name)),
      field("Container", text("container", fa.container), "Local storage: the directory holding the backups."),
      field("Storage", text("storage", fa.storage ?? "local", { list: `dl-storages-${index}` })),
      field("Engine", text("engine_name", fa.engine_name ?? "tar", { list: `dl-engines-${index}` })),
      field("Restore into", text("restore_abs_path", fa.restore_abs_path), "Restores: the target directory."),
      field("Restore from date", text("restore_from_date", fa.restore_from_date, { placeholder: "YYYY-MM-DDThh:mm:ss" })),
      field("Remove older than (days)", text("remove_older_than", fa.remove_older_than, { inputmode: "decimal" })),
      field("Max retries", text("max_retries", entry.max_retries ?? "", { inputmode: "numeric" })),
      field("Retry interval (s)", text("max_retries_interval", entry.max_retries_interval ?? "", { inputmode: "numeric" })),
    ),
    h("div", { class: "field" },
      h("label", { for: `extra-${index}` }, "Other options (JSON object)"),
      h("textarea", { id: `extra-${index}`, name: "extra", rows: 2, class: "mono" },
        Object.keys(extra).length ? JSON.stringify(extra) : "")),
    h("div", { class: "row" },
      h("label", { class: "row" }, h("input", { type: "checkbox", name: "mandatory", checked: !!entry.mandatory }),
        "Mandatory"),
      onRemove ? h("button", { type: "button", class: "danger", onclick: onRemove }, `Remove action ${index + 1}`) : null));
  return set;
}

function integer(value) {
  if (value === "") return undefined;
  const n = Number(value);
  return Number.isInteger(n) ? n : value; // let the API say what is wrong with it
}

// The job_actions entry an editor describes; `extra` JSON errors are reported here.
export function readAction(set) {
  const get = (name) => set.querySelector(`[name="${name}"]`).value.trim();
  const fa = { action: get("action") };
  const mode = get("mode");
  if (mode) fa.mode = mode;
  for (const key of TEXT_KEYS) {
    const v = get(key);
    if (v) fa[key] = key === "remove_older_than" && !Number.isNaN(Number(v)) ? Number(v) : v;
  }
  const extra = get("extra");
  if (extra) {
    let doc;
    try {
      doc = JSON.parse(extra);
    } catch (exc) {
      throw new Error(`${set.querySelector("legend").textContent}: other options are not valid JSON (${exc.message})`);
    }
    if (typeof doc !== "object" || Array.isArray(doc) || doc === null) {
      throw new Error(`${set.querySelector("legend").textContent}: other options must be a JSON object`);
    }
    Object.assign(fa, doc);
  }
  const entry = { freezer_action: fa, mandatory: set.querySelector('[name="mandatory"]').checked };
  for (const key of ["max_retries", "max_retries_interval"]) {
    const v = integer(get(key));
    if (v !== undefined) entry[key] = v;
  }
  return entry;
}

const KINDS = [["once", "Once, when started"], ["date", "Once, at a date"], ["interval", "Every interval"],
  ["cron", "Calendar (cron)"]];

// The schedule editor: trigger kind, interval or cron fields, start and end dates.
export function scheduleEditor(schedule) {
  const s = schedule || {};
  const kind = kindOf(s);
  const group = (name, ...children) => h("div", { class: "grid", dataset: { kind: name } }, children);
  const dt = (name, value) => h("input", { type: "datetime-local", step: 1, name, value: inputDate(value) });
  const set = h("fieldset", { class: "schedule-editor" },
    h("legend", {}, "Schedule"),
    h("div", { class: "choices", role: "radiogroup", "aria-label": "When to run" },
      KINDS.map(([value, label]) => h("label", {},
        h("input", { type: "radio", name: "kind", value, checked: value === kind, onchange: () => sync() }), label))),
    group("date", field("Run at (UTC)", dt("schedule_date", s.schedule_date))),
    group("interval", field("Interval", text("schedule_interval", s.schedule_interval, { placeholder: "1 days" }),
      "“N weeks|days|hours|minutes|seconds” or “continuous”.")),
    group("cron", CRON_FIELDS.map((f) => field(f.replace(/_/g, " "), text(`schedule_${f}`, s[`schedule_${f}`],
      { placeholder: "*" })))),
    h("p", { class: "muted", dataset: { kind: "cron" } },
      "Cron fields take *, */15, 1-5, mon-fri, 0,30; unset fields after the most specific one are their minimum."),
    group("window", field("Start date (UTC)", dt("schedule_start_date", s.schedule_start_date)),
      field("End date (UTC)", dt("schedule_end_date", s.schedule_end_date))));
  function sync() {
    const chosen = set.querySelector('[name="kind"]:checked').value;
    for (const el of set.querySelectorAll("[data-kind]")) {
      const show = el.dataset.kind === chosen || (el.dataset.kind === "window" && ["interval", "cron"].includes(chosen));
      el.hidden = !show;
    }
  }
  sync();
  return set;
}

// The job_schedule an editor describes (trigger keys only; the scheduler owns the rest).
export function readSchedule(set) {
  const get = (name) => set.querySelector(`[name="${name}"]`).value.trim();
  const kind = set.querySelector('[name="kind"]:checked').value;
  const out = {};
  if (kind === "date") out.schedule_date = apiDate(get("schedule_date"));
  if (kind === "interval") out.schedule_interval = get("schedule_interval");
  if (kind === "cron") {
    for (const f of CRON_FIELDS) {
      const v = get(`schedule_${f}`);
      if (v) out[`schedule_${f}`] = v;
    }
  }
  if (kind === "interval" || kind === "cron") {
    for (const key of ["schedule_start_date", "schedule_end_date"]) {
      const v = apiDate(get(key));
      if (v) out[key] = v;
    }
  }
  return out;
}
