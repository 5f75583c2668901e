/**
 * GET /docs: an interactive reference for humans, rendered in the browser from /openapi.json
 * (SPEC §4; issue 3 item 8). Public and self-contained: the page, its script and its styles
 * are served from here, so it works with no internet access and under a strict CSP
 * (`script-src 'self'`, no inline script, no third-party origin). The script builds every
 * element with textContent, never innerHTML, so nothing in the document can inject markup.
 * The credential typed into "try it" stays in the page's memory; it is never stored.
 */
import type { ManagementApp } from "../common";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function page(prefix: string): string {
  const p = escapeHtml(prefix);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis management API</title>
<link rel="stylesheet" href="${p}/docs/docs.css">
</head>
<body>
<header>
  <h1>Portcullis management API</h1>
  <p id="about">Reference generated from <a href="${p}/openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
  <label class="credential">Credential for “try it”
    <input id="credential" type="password" autocomplete="off" spellcheck="false" placeholder="pcu_… or pcs_… token, or a session JWT">
  </label>
  <p class="hint">Sent only as <code>Authorization: Bearer</code> to this server, kept in this page's memory, never stored.</p>
</header>
<div class="layout">
  <nav id="nav" aria-label="Operations"></nav>
  <main id="operations"><p>Loading the API description…</p></main>
</div>
<noscript><p>This page needs JavaScript. The raw description is at <a href="${p}/openapi.json">openapi.json</a>.</p></noscript>
<script src="${p}/docs/docs.js" data-spec="${p}/openapi.json"></script>
</body>
</html>
`;
}

const STYLES = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --panel: #f6f8fa; --accent: #0b5fff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b1; --line: #30363d; --bg: #0d1117; --panel: #161b22; --accent: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 1rem 1.5rem; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 .25rem; font-size: 1.4rem; }
a { color: var(--accent); }
code, pre, textarea, input { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.credential { display: block; margin-top: .5rem; font-weight: 600; }
.credential input { display: block; width: min(40rem, 100%); margin-top: .25rem; padding: .4rem; }
.hint { margin: .25rem 0 0; color: var(--muted); font-size: 13px; }
.layout { display: grid; grid-template-columns: 17rem 1fr; }
nav { padding: 1rem; border-right: 1px solid var(--line); position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto; }
nav h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 1rem 0 .25rem; }
nav a { display: block; text-decoration: none; color: var(--fg); padding: .1rem 0; font-size: 13px; }
main { padding: 1rem 1.5rem; min-width: 0; }
main h2 { margin: 1.5rem 0 .5rem; border-bottom: 1px solid var(--line); }
details.op { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; background: var(--panel); }
details.op > summary { cursor: pointer; padding: .5rem .75rem; list-style: none; display: flex; gap: .75rem; align-items: baseline; }
details.op > summary::-webkit-details-marker { display: none; }
.body { padding: .25rem 1rem 1rem; background: var(--bg); border-top: 1px solid var(--line); }
.method { font-weight: 700; font-size: 12px; min-width: 4.2rem; text-align: center; border-radius: 4px; padding: .05rem .4rem; color: #fff; }
.get { background: #1f7a3a; } .post { background: #0b5fff; } .patch { background: #9a6700; } .put { background: #8250df; } .delete { background: #cf222e; }
.path { font-family: ui-monospace, monospace; font-weight: 600; }
.summary { color: var(--muted); }
.lock { margin-left: auto; color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: .25rem .5rem; vertical-align: top; font-size: 13px; }
ul.schema { list-style: none; padding-left: 1rem; margin: .25rem 0; border-left: 2px solid var(--line); }
.name { font-family: ui-monospace, monospace; font-weight: 600; }
.type { color: var(--muted); font-family: ui-monospace, monospace; }
.req { color: #cf222e; font-size: 12px; }
form.try { border-top: 1px dashed var(--line); margin-top: .75rem; padding-top: .5rem; }
form.try > strong { display: block; }
form.try label { display: block; margin: .25rem 0; }
form.try input { width: min(30rem, 100%); padding: .3rem; }
form.try textarea { width: 100%; min-height: 8rem; padding: .4rem; }
button { margin-top: .5rem; padding: .35rem 1rem; font-weight: 600; cursor: pointer; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .5rem; overflow: auto; white-space: pre-wrap; word-break: break-all; }
.status-ok { color: #1f7a3a; font-weight: 700; } .status-err { color: #cf222e; font-weight: 700; }
@media (max-width: 50rem) { .layout { grid-template-columns: 1fr; } nav { position: static; max-height: none; border-right: 0; border-bottom: 1px solid var(--line); } }
`;

// Plain ES2020 without template literals (this file embeds it in one).
const SCRIPT = `"use strict";
(function () {
  var script = document.currentScript;
  var specUrl = script.getAttribute("data-spec");
  var spec = null;
  var credential = document.getElementById("credential");
  var METHODS = ["get", "post", "put", "patch", "delete"];

  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) for (var key in props) {
      if (key === "text") node.textContent = props[key];
      else if (key === "className") node.className = props[key];
      else node.setAttribute(key, props[key]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function refName(ref) { return ref.split("/").pop(); }
  function lookup(ref) {
    var parts = ref.replace(/^#\\//, "").split("/");
    var node = spec;
    for (var i = 0; i < parts.length && node; i++) node = node[parts[i].replace(/~1/g, "/").replace(/~0/g, "~")];
    return node || {};
  }
  function resolve(schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 20) schema = lookup(schema.$ref);
    return schema || {};
  }
  function variants(schema) { return schema.anyOf || schema.oneOf || null; }
  function mainType(schema) {
    if (Array.isArray(schema.type)) return schema.type.filter(function (t) { return t !== "null"; })[0] || "null";
    return schema.type;
  }
  function typeLabel(raw) {
    var schema = resolve(raw);
    var label;
    var vs = variants(schema);
    if (vs) label = vs.map(typeLabel).join(" | ");
    else if (schema.enum) label = schema.enum.map(function (v) { return JSON.stringify(v); }).join(" | ");
    else if (schema.const !== undefined) label = JSON.stringify(schema.const);
    else if (mainType(schema) === "array") label = typeLabel(schema.items || {}) + "[]";
    else label = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "any");
    if (schema.format) label += " (" + schema.format + ")";
    return raw && raw.$ref ? refName(raw.$ref) + ": " + label : label;
  }

  function example(raw, depth, allFields) {
    var schema = resolve(raw);
    if (depth > 6) return null;
    if (schema.example !== undefined) return schema.example;
    if (schema.examples && schema.examples.length) return schema.examples[0];
    if (schema.default !== undefined) return schema.default;
    if (schema.enum) return schema.enum[0];
    if (schema.const !== undefined) return schema.const;
    var vs = variants(schema);
    if (vs) return example(vs.filter(function (v) { return resolve(v).type !== "null"; })[0] || vs[0], depth + 1, allFields);
    switch (mainType(schema)) {
      case "object": {
        var out = {};
        var props = schema.properties || {};
        var required = schema.required || [];
        var keys = Object.keys(props).filter(function (k) { return allFields || required.indexOf(k) >= 0; });
        if (keys.length === 0 && !allFields) keys = Object.keys(props).slice(0, 1);
        keys.forEach(function (k) { out[k] = example(props[k], depth + 1, true); });
        return out;
      }
      case "array": return schema.items ? [example(schema.items, depth + 1, allFields)] : [];
      case "string": return schema.format === "email" ? "user@example.com" : "string";
      case "integer": case "number": return schema.minimum !== undefined ? schema.minimum : 1;
      case "boolean": return true;
      default: return null;
    }
  }

  function schemaTree(raw, depth) {
    var schema = resolve(raw);
    var vs = variants(schema);
    if (vs) {
      var nonNull = vs.filter(function (v) { return resolve(v).type !== "null"; });
      if (nonNull.length === 1) return schemaTree(nonNull[0], depth);
    }
    if (depth > 5) return null;
    if (mainType(schema) === "array" && schema.items) return schemaTree(schema.items, depth);
    if (mainType(schema) !== "object" || !schema.properties) return null;
    var list = el("ul", { className: "schema" });
    var required = schema.required || [];
    Object.keys(schema.properties).forEach(function (key) {
      var prop = schema.properties[key];
      var info = resolve(prop);
      var item = el("li", null,
        el("span", { className: "name", text: key }), " ",
        el("span", { className: "type", text: typeLabel(prop) }),
        required.indexOf(key) >= 0 ? el("span", { className: "req", text: " required" }) : null,
        info.description ? el("div", { text: info.description }) : null,
        schemaTree(prop, depth + 1));
      list.appendChild(item);
    });
    return list;
  }

  function jsonContent(content) {
    if (!content) return null;
    var key = Object.keys(content).filter(function (t) { return /json/.test(t); })[0] || Object.keys(content)[0];
    return key ? { type: key, schema: content[key].schema || {} } : null;
  }

  function shellQuote(value) { return "'" + String(value).replace(/'/g, "'\\\\''") + "'"; }

  function operationId(method, path) { return "op-" + method + "-" + path.replace(/[^A-Za-z0-9]+/g, "-"); }

  function tryForm(method, path, op, base) {
    var form = el("form", { className: "try" });
    form.appendChild(el("strong", { text: "Try it" }));
    var inputs = [];
    (op.parameters || []).forEach(function (param) {
      var p = param.$ref ? lookup(param.$ref) : param;
      var input = el("input", { type: "text", name: p.name, placeholder: p.required ? "required" : "optional" });
      var ex = p.schema ? resolve(p.schema).example : undefined;
      if (p.in === "path" && ex !== undefined) input.value = String(ex);
      inputs.push({ param: p, input: input });
      form.appendChild(el("label", null, p.in + " ", el("span", { className: "name", text: p.name }), " ", input));
    });
    var body = null;
    var content = op.requestBody ? jsonContent(op.requestBody.content) : null;
    if (content) {
      body = el("textarea", { spellcheck: "false", "aria-label": "Request body" });
      body.value = JSON.stringify(example(content.schema, 0, false), null, 2);
      form.appendChild(el("label", { text: "Body (" + content.type + ")" }));
      form.appendChild(body);
    }
    var send = el("button", { type: "submit", text: "Send " + method.toUpperCase() });
    var curl = el("pre", { "aria-label": "curl" });
    var result = el("div", { "aria-live": "polite" });
    form.appendChild(send);
    form.appendChild(el("div", { text: "As curl:" }));
    form.appendChild(curl);
    form.appendChild(result);

    function target() {
      var url = base + path;
      var query = [];
      inputs.forEach(function (entry) {
        var value = entry.input.value;
        if (entry.param.in === "path") url = url.replace("{" + entry.param.name + "}", encodeURIComponent(value));
        else if (entry.param.in === "query" && value !== "") query.push(encodeURIComponent(entry.param.name) + "=" + encodeURIComponent(value));
      });
      return url + (query.length ? "?" + query.join("&") : "");
    }
    function updateCurl() {
      var parts = ["curl -sS -X " + method.toUpperCase() + " " + shellQuote(location.origin + target())];
      if (isSecured(op)) parts.push("-H 'Authorization: Bearer '\\"$TOKEN\\"");
      if (body) parts.push("-H 'Content-Type: " + content.type + "' -d " + shellQuote(body.value));
      curl.textContent = parts.join(" \\\\\\n  ");
    }
    form.addEventListener("input", updateCurl);
    updateCurl();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var headers = { accept: "application/json" };
      if (credential.value.trim()) headers.authorization = "Bearer " + credential.value.trim();
      var init = { method: method.toUpperCase(), headers: headers };
      if (body && body.value.trim() !== "") {
        headers["content-type"] = content.type;
        init.body = body.value;
      }
      result.textContent = "Sending…";
      fetch(target(), init).then(function (res) {
        return res.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: show as is */ }
          result.textContent = "";
          result.appendChild(el("p", null, el("span", { className: res.ok ? "status-ok" : "status-err", text: res.status + " " + res.statusText })));
          result.appendChild(el("pre", { text: shown || "(empty body)" }));
        });
      }).catch(function (err) {
        result.textContent = "Request failed: " + err.message;
      });
    });
    return form;
  }

  // An operation without its own security falls back to the document's (none here: public).
  function isSecured(op) {
    return op.security === undefined ? !!(spec.security && spec.security.length) : op.security.length > 0;
  }

  function operationCard(method, path, op, base) {
    var secured = isSecured(op);
    var card = el("details", { className: "op", id: operationId(method, path) },
      el("summary", null,
        el("span", { className: "method " + method, text: method.toUpperCase() }),
        el("span", { className: "path", text: path }),
        el("span", { className: "summary", text: op.summary || "" }),
        el("span", { className: "lock", text: secured ? "needs a credential" : "public" })));
    var inner = el("div", { className: "body" });
    if (op.description) inner.appendChild(el("p", { text: op.description }));
    if (op.parameters && op.parameters.length) {
      var table = el("table", null, el("tr", null, el("th", { text: "Parameter" }), el("th", { text: "In" }), el("th", { text: "Type" }), el("th", { text: "Description" })));
      op.parameters.forEach(function (param) {
        var p = param.$ref ? lookup(param.$ref) : param;
        table.appendChild(el("tr", null,
          el("td", null, el("span", { className: "name", text: p.name }), p.required ? el("span", { className: "req", text: " required" }) : null),
          el("td", { text: p.in }),
          el("td", { className: "type", text: p.schema ? typeLabel(p.schema) : "" }),
          el("td", { text: p.description || (p.schema && resolve(p.schema).description) || "" })));
      });
      inner.appendChild(el("h4", { text: "Parameters" }));
      inner.appendChild(table);
    }
    var content = op.requestBody ? jsonContent(op.requestBody.content) : null;
    if (content) {
      inner.appendChild(el("h4", { text: "Request body " + typeLabel(content.schema) }));
      inner.appendChild(schemaTree(content.schema, 0) || el("p", { className: "type", text: typeLabel(content.schema) }));
    }
    inner.appendChild(el("h4", { text: "Responses" }));
    var responses = el("table");
    Object.keys(op.responses || {}).forEach(function (status) {
      var response = op.responses[status];
      var body = jsonContent(response.content);
      responses.appendChild(el("tr", null,
        el("td", { className: "name", text: status }),
        el("td", { text: response.description || "" }),
        el("td", { className: "type", text: body ? typeLabel(body.schema) : "" })));
    });
    inner.appendChild(responses);
    var success = Object.keys(op.responses || {}).filter(function (s) { return /^2/.test(s); })[0];
    var successBody = success ? jsonContent(op.responses[success].content) : null;
    if (successBody) {
      var tree = schemaTree(successBody.schema, 0);
      if (tree) {
        inner.appendChild(el("h4", { text: success + " body" }));
        inner.appendChild(tree);
      }
    }
    inner.appendChild(tryForm(method, path, op, base));
    card.appendChild(inner);
    return card;
  }

  function render() {
    var base = (spec.servers && spec.servers[0] && spec.servers[0].url) || "";
    document.title = (spec.info && spec.info.title) || document.title;
    if (spec.info && spec.info.description) document.getElementById("about").prepend(spec.info.description + " ");
    var byTag = {};
    var order = [];
    Object.keys(spec.paths || {}).sort().forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = spec.paths[path][method];
        if (!op) return;
        var segment = path.split("/")[1] || "";
        if (segment.charAt(0) === ".") segment = segment.slice(1);
        var tag = (op.tags && op.tags[0]) || (segment.charAt(0).toUpperCase() + segment.slice(1)) || "Other";
        if (!byTag[tag]) { byTag[tag] = []; order.push(tag); }
        byTag[tag].push({ method: method, path: path, op: op });
      });
    });
    var main = document.getElementById("operations");
    var nav = document.getElementById("nav");
    main.textContent = "";
    order.sort(function (a, b) { return a.localeCompare(b); }).forEach(function (tag) {
      nav.appendChild(el("h2", { text: tag }));
      main.appendChild(el("h2", { text: tag }));
      byTag[tag].forEach(function (entry) {
        var link = el("a", { href: "#" + operationId(entry.method, entry.path), text: entry.method.toUpperCase() + " " + entry.path });
        link.addEventListener("click", function () {
          var card = document.getElementById(operationId(entry.method, entry.path));
          if (card) card.open = true;
        });
        nav.appendChild(link);
        main.appendChild(operationCard(entry.method, entry.path, entry.op, base));
      });
    });
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
    }
  }

  fetch(specUrl, { headers: { accept: "application/json" } })
    .then(function (res) {
      if (!res.ok) throw new Error("openapi.json answered " + res.status);
      return res.json();
    })
    .then(function (doc) { spec = doc; render(); })
    .catch(function (err) {
      document.getElementById("operations").textContent = "Could not load the API description: " + err.message;
    });
})();
`;

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

export function registerDocs(app: ManagementApp): void {
  app.get("/docs", (c) => c.body(page(c.get("config").managementPrefix), 200, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" }));
  app.get("/docs/docs.js", (c) => c.body(SCRIPT, 200, { ...SECURITY_HEADERS, "content-type": "text/javascript; charset=utf-8" }));
  app.get("/docs/docs.css", (c) => c.body(STYLES, 200, { ...SECURITY_HEADERS, "content-type": "text/css; charset=utf-8" }));
}
