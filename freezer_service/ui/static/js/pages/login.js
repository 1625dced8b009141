// Login: paste a token (embedded tokens or a Keystone token), or username/password when the server offers it
// (the token form then stays available under "Use a token instead").
import { login, passwordLogin, uiConfig } from "../api.js";
import { busy, errorBox, field, h, render } from "../dom.js";

function loginForm(attrs, title, inputs, buttonText, work) {
  const box = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, buttonText);
  const form = h("form", attrs, title, box, ...inputs, h("div", { class: "actions-bar" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const done = await busy(submit, box, () => work(new FormData(form)));
    if (done) window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  return form;
}

function tokenInputs(hint) {
  return [field("Token", h("input", { name: "token", type: "password", autocomplete: "off", required: true,
    spellcheck: false }), hint)];
}

const tokenLogin = (data) => login(String(data.get("token")).trim());

export async function page(main) {
  const config = await uiConfig();
  const title = h("h1", { id: "login-title" }, "Log in to Freezer");
  if (config.login !== "password") {
    const form = loginForm({ class: "card login", "aria-labelledby": "login-title" }, title,
      tokenInputs("The token from your freezer-api token file (or a Keystone token)."), "Log in", tokenLogin);
    render(main, form);
    form.querySelector("input").focus();
    return;
  }
  const form = loginForm({ "aria-labelledby": "login-title" }, title, [
    field("Username", h("input", { name: "username", autocomplete: "username", required: true })),
    field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password",
      required: true })),
    field("Project", h("input", { name: "project", autocomplete: "off" }),
      "Optional when you have a role on one project only."),
  ], "Log in", (data) => passwordLogin(data.get("username"), data.get("password"), data.get("project")));
  const tokenForm = loginForm({ "aria-label": "Log in with a token" }, null,
    tokenInputs("A project-scoped Keystone token, e.g. from: openstack token issue"), "Log in with token",
    tokenLogin);
  render(main, h("div", { class: "card login" }, form,
    h("details", {}, h("summary", {}, "Use a token instead"), tokenForm)));
  form.querySelector("input").focus();
}
