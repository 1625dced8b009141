// Login: paste a token (embedded tokens or a Keystone token), or username/password when offered.
import { login, passwordLogin, uiConfig } from "../api.js";
import { busy, errorBox, field, h, render } from "../dom.js";

export async function page(main) {
  const config = await uiConfig();
  const box = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  let inputs;
  if (config.login === "password") {
    inputs = [
      field("Username", h("input", { name: "username", autocomplete: "username", required: true })),
      field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
      field("Project", h("input", { name: "project", autocomplete: "off" })),
    ];
  } else {
    inputs = [field("Token", h("input", { name: "token", type: "password", autocomplete: "off", required: true,
      spellcheck: false }), "The token from your freezer-api token file (or a Keystone token).")];
  }
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to Freezer"), box, ...inputs, h("div", { class: "actions-bar" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const done = await busy(submit, box, () => (config.login === "password"
      ? passwordLogin(data.get("username"), data.get("password"), data.get("project"))
      : login(String(data.get("token")).trim())));
    if (done) window.dispatchEvent(new HashChangeEvent("hashchange"));
  });
  render(main, form);
  form.querySelector("input").focus();
}
