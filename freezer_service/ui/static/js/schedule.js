// Job schedules: a one-line summary and the next run, computed like freezer-scheduler does.
// Times in schedules are wall time of the scheduler's time zone; the pages assume UTC.

export const CRON_FIELDS = ["year", "month", "day", "week", "day_of_week", "hour", "minute", "second"];
const RANGES = { year: [1970, 9999], month: [1, 12], day: [1, 31], week: [1, 53], day_of_week: [0, 6],
  hour: [0, 23], minute: [0, 59], second: [0, 59] };
const NAMES = {
  month: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  day_of_week: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
};
const UNITS = { seconds: 1, minutes: 60, hours: 3600, days: 86400, weeks: 604800 };

export function kindOf(schedule) {
  const s = schedule || {};
  if (s.schedule_interval) return "interval";
  if (CRON_FIELDS.some((f) => s[`schedule_${f}`] !== undefined && s[`schedule_${f}`] !== "")) return "cron";
  if (s.schedule_date) return "date";
  return "once";
}

export function summary(schedule) {
  const s = schedule || {};
  const kind = kindOf(s);
  let text;
  if (kind === "interval") text = s.schedule_interval === "continuous" ? "continuously" : `every ${s.schedule_interval}`;
  else if (kind === "cron") {
    text = "cron " + CRON_FIELDS.filter((f) => s[`schedule_${f}`] !== undefined && s[`schedule_${f}`] !== "")
      .map((f) => `${f}=${s[`schedule_${f}`]}`).join(" ");
  } else if (kind === "date") text = `once at ${s.schedule_date}`;
  else text = "once, when started";
  if (s.schedule_start_date) text += `, from ${s.schedule_start_date}`;
  if (s.schedule_end_date) text += `, until ${s.schedule_end_date}`;
  return text;
}

// "2024-05-01T10:00:00" (UTC unless it carries a zone) → epoch seconds, or null.
export function parseDate(text) {
  if (!text) return null;
  const t = String(text).trim();
  const zoned = /(Z|[+-]\d\d:\d\d)$/i.test(t) ? t : `${t}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

export function intervalSeconds(text) {
  const m = /^(\d+) +(weeks|days|hours|minutes|seconds)$/.exec(String(text || "").trim());
  return m ? Number(m[1]) * UNITS[m[2]] : null;
}

function parseValue(name, text) {
  const t = text.trim().toLowerCase();
  const named = (NAMES[name] || []).indexOf(t);
  if (named >= 0) return name === "month" ? named + 1 : named;
  const n = Number(t);
  if (!Number.isInteger(n)) throw new Error(`schedule_${name}: ${text} is not a number`);
  return n;
}

// The values an expression allows; null means any. "last" (day) is -1.
export function parseField(name, expression) {
  const [low, high] = RANGES[name];
  const allowed = new Set();
  for (const raw of String(expression).split(",")) {
    let part = raw.trim().toLowerCase();
    if (part === "*" || part === "?") return null;
    if (name === "day" && part === "last") { allowed.add(-1); continue; }
    let step = 1;
    if (part.includes("/")) {
      const [base, s] = part.split("/");
      step = Number(s);
      part = base;
      if (!(step > 0)) throw new Error(`schedule_${name}: bad step in ${raw}`);
    }
    let a = low;
    let b = high;
    if (part !== "*") {
      if (part.includes("-")) [a, b] = part.split("-").map((v) => parseValue(name, v));
      else { a = parseValue(name, part); b = raw.includes("/") ? high : a; }
    }
    for (let v = a; v <= b; v += step) allowed.add(v);
  }
  return allowed;
}

function isoWeek(date) {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - day + 3);
  const firstThursday = new Date(Date.UTC(d.getUTCFullYear(), 0, 4));
  return 1 + Math.round(((d - firstThursday) / 86400000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7);
}

// The cron specification: fields less significant than the most specific one given default to
// their minimum, more significant ones to any (as freezer-scheduler reads them).
export function cronSpec(schedule) {
  const given = CRON_FIELDS.filter((f) => schedule[`schedule_${f}`] !== undefined && schedule[`schedule_${f}`] !== "");
  const last = Math.max(...given.map((f) => CRON_FIELDS.indexOf(f)));
  const spec = {};
  CRON_FIELDS.forEach((f, i) => {
    if (given.includes(f)) spec[f] = parseField(f, schedule[`schedule_${f}`]);
    else if (i > last && !["week", "day_of_week"].includes(f)) spec[f] = new Set([RANGES[f][0]]);
    else spec[f] = null;
  });
  return spec;
}

const ok = (set, v) => set === null || set.has(v);

// The first second strictly after `after` (epoch seconds) the cron fields allow, or null.
export function cronNext(schedule, after) {
  const spec = cronSpec(schedule);
  const start = new Date((after + 1) * 1000);
  const day0 = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  const sorted = (f) => (spec[f] === null ? [...Array(RANGES[f][1] - RANGES[f][0] + 1).keys()]
    .map((k) => k + RANGES[f][0]) : [...spec[f]].sort((a, b) => a - b));
  const hours = sorted("hour"); const minutes = sorted("minute"); const seconds = sorted("second");
  for (let i = 0; i < 366 * 8; i += 1) {
    const d = new Date(day0 + i * 86400000);
    const y = d.getUTCFullYear(); const m = d.getUTCMonth() + 1; const dd = d.getUTCDate();
    const lastDay = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const dayOk = spec.day === null || spec.day.has(dd) || (spec.day.has(-1) && dd === lastDay);
    if (!ok(spec.year, y) || !ok(spec.month, m) || !dayOk || !ok(spec.week, isoWeek(d)) ||
        !ok(spec.day_of_week, (d.getUTCDay() + 6) % 7)) continue;
    for (const hh of hours) for (const mm of minutes) for (const ss of seconds) {
      const t = d.getTime() / 1000 + hh * 3600 + mm * 60 + ss;
      if (t > after) return t;
    }
  }
  return null;
}

// When the scheduler will next run the job (epoch seconds), "now"/"—" style strings otherwise.
export function nextRun(job, nowEpoch) {
  const s = job.job_schedule || {};
  const status = s.status || "";
  if (["completed", "removed"].includes(status)) return "—";
  if (status === "running") return "running now";
  if (s.event === "start") return "starting";
  if (status === "stop" || s.event === "stop") return "stopped";
  const begin = parseDate(s.schedule_start_date);
  const end = parseDate(s.schedule_end_date);
  const now = Math.max(nowEpoch, begin || 0);
  const started = Number(s.time_started) > 0 ? Number(s.time_started) : null;
  let next = null;
  const kind = kindOf(s);
  try {
    if (kind === "interval") {
      if (s.schedule_interval === "continuous") return "continuously";
      const step = intervalSeconds(s.schedule_interval);
      if (!step) return "—";
      next = started ? Math.max(started + step, now) : now;
    } else if (kind === "cron") next = cronNext(s, now - 1);
    else if (kind === "date") next = parseDate(s.schedule_date);
    else return status ? "—" : "when a scheduler picks it up";
  } catch {
    return "invalid schedule";
  }
  if (next === null || (end !== null && next > end)) return "—";
  return next;
}
