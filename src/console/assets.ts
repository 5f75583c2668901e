/**
 * The console's one stylesheet and one script, served as files so the CSP can forbid inline
 * script and style (SPEC §8). The script only opens and closes `<dialog>`s and copies the
 * secret; every action is a plain form post that works the same without it.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light; --fg: #17202a; --muted: #566270; --line: #d6dce3; --bg: #f5f7fa; --panel: #fff; --accent: #1d4ed8; --accent-fg: #fff; --danger: #b42318; --ok: #146c2e; --warn: #8a5300; --focus: #f59e0b; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem 1.5rem; padding: .75rem 1.5rem; background: #0f172a; color: #e2e8f0; }
.brand { font-weight: 700; font-size: 1.1rem; letter-spacing: .01em; }
.mark { color: #93c5fd; }
.top nav { display: flex; gap: .25rem; flex-wrap: wrap; }
.top nav a { color: #e2e8f0; text-decoration: none; padding: .35rem .7rem; border-radius: 6px; }
.top nav a:hover { background: #1e293b; }
.top nav a[aria-current="page"] { background: #1e3a8a; color: #fff; }
.who { margin-left: auto; display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
.who .muted { color: #94a3b8; }
.who form { margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
.muted { color: var(--muted); }
.heading { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-start; gap: 1rem; margin-bottom: 1rem; }
.heading p { margin: .25rem 0 0; max-width: 44rem; }
.tabs span { display: inline-block; font-weight: 600; border-bottom: 3px solid var(--accent); padding-bottom: .1rem; }
button, .button { font: inherit; font-weight: 600; padding: .45rem 1rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button:hover { border-color: #9aa5b1; }
button.primary, .button { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.danger-quiet { color: var(--danger); }
button.quiet { background: transparent; color: #e2e8f0; border-color: #475569; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .6rem .8rem; border-bottom: 1px solid var(--line); vertical-align: middle; white-space: nowrap; }
th { font-size: .85rem; color: var(--muted); background: #f8fafc; }
tbody tr:last-child td { border-bottom: 0; }
.row-actions { display: flex; gap: .5rem; justify-content: flex-end; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.badge { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-size: .85rem; font-weight: 600; border: 1px solid; }
.badge.active { color: var(--ok); background: #ecfdf3; }
.badge.revoked { color: var(--danger); background: #fef3f2; }
.badge.expired { color: var(--warn); background: #fffaeb; }
.alert { border-left: 4px solid var(--danger); background: #fef3f2; color: #7a1a12; padding: .6rem .9rem; border-radius: 4px; margin: 0 0 1rem; }
.notice { border-left: 4px solid var(--ok); background: #ecfdf3; color: #0b4a1f; padding: .6rem .9rem; border-radius: 4px; margin: 0 0 1rem; }
.empty { display: none; }
.empty-state { background: var(--panel); border: 1px dashed var(--line); border-radius: 8px; padding: 2rem; text-align: center; color: var(--muted); }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 1.25rem; }
.narrow { max-width: 34rem; margin: 3rem auto; }
dialog { border: 0; border-radius: 10px; padding: 1.5rem; width: min(32rem, calc(100vw - 2rem)); box-shadow: 0 20px 50px rgb(15 23 42 / .35); color: var(--fg); }
dialog::backdrop { background: rgb(15 23 42 / .55); }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input[type="text"], select { width: 100%; font: inherit; padding: .5rem .6rem; border: 1px solid #8b96a3; border-radius: 6px; background: #fff; color: var(--fg); }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 1rem 0 0; padding: .5rem .9rem .75rem; }
legend { font-weight: 600; padding: 0 .25rem; }
.check { display: flex; align-items: center; gap: .5rem; }
.check label { font-weight: 400; margin: .25rem 0; }
.check input { width: 1.1rem; height: 1.1rem; }
.actions { display: flex; justify-content: flex-end; gap: .5rem; margin-top: 1.25rem; }
.secret-row { display: flex; gap: .5rem; }
.secret-row input { font-family: ui-monospace, monospace; font-size: .85rem; }
.warning { background: #fffaeb; border-left: 4px solid var(--warn); padding: .5rem .75rem; color: #5c3a00; }
.copied { min-height: 1.5em; margin: .25rem 0 0; color: var(--ok); }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; margin: 1rem 0; }
.facts div { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; }
.facts dt { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-weight: 600; }
.crumbs { margin: 0 0 .5rem; }
.orgs { list-style: none; padding: 0; }
.orgs li { margin: .5rem 0; }
.orgs a { display: block; padding: .75rem 1rem; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); text-decoration: none; font-weight: 600; }
.foot { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 2rem; font-size: .9rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 40rem) {
  main, .foot { padding-left: 1rem; padding-right: 1rem; }
  .top { padding: .75rem 1rem; }
  .who { margin-left: 0; width: 100%; justify-content: space-between; }
  th, td { padding: .5rem; }
}
`;

export const CONSOLE_JS = `"use strict";
(function () {
  function open(id) {
    var dialog = document.getElementById(id);
    if (dialog && !dialog.open) dialog.showModal();
    return dialog;
  }
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("button") : null;
    if (!target) return;
    var id = target.getAttribute("data-dialog");
    if (id) {
      event.preventDefault();
      var dialog = open(id);
      var field = dialog && dialog.querySelector("input[type=text]:not([readonly])");
      if (field) field.focus();
      return;
    }
    if (target.hasAttribute("data-close")) {
      var parent = target.closest("dialog");
      if (parent) parent.close();
      return;
    }
    var copy = target.getAttribute("data-copy");
    if (copy) {
      var input = document.getElementById(copy);
      var status = document.getElementById("copy-status");
      var done = function () { if (status) status.textContent = "Copied to the clipboard."; };
      input.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var dialogs = document.querySelectorAll("dialog[data-open]");
    for (var i = 0; i < dialogs.length; i++) {
      dialogs[i].showModal();
      var field = dialogs[i].querySelector("input[type=text]");
      if (field) field.focus();
    }
  });
})();
`;
