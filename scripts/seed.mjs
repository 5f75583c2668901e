// Seeds the demo organization through the public management API of a running proxy (SPEC §7):
// an admin (with a printed session JWT), an "Inspector" permission set, one user API token and
// one service user API token. Idempotent: if .demo/demo.json holds tokens that still work, it
// reuses them. Run standalone with `npm run seed` while `npm start` is serving.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DEMO_FILE, PREFIX, PROXY_PORT, readDevVars, requireNode22 } from "./lib.mjs";
import { mintSession } from "./session.mjs";

const BASE = `http://127.0.0.1:${PROXY_PORT}${PREFIX}`;

async function request(method, route, credential, body) {
  const res = await fetch(BASE + route, {
    method,
    headers: { authorization: `Bearer ${credential}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // fall through with the raw text in the error below
  }
  return { status: res.status, json, text };
}

async function must(method, route, credential, body, expected) {
  const res = await request(method, route, credential, body);
  if (res.status !== expected) throw new Error(`${method} ${route} answered ${res.status}: ${res.text}`);
  return res.json;
}

async function stillWorks(demo) {
  try {
    const [user, service] = await Promise.all([request("GET", "/me", demo.userToken), request("GET", "/me", demo.serviceToken)]);
    return user.status === 200 && service.status === 200;
  } catch {
    return false;
  }
}

export async function seedDemo(vars = readDevVars()) {
  if (existsSync(DEMO_FILE)) {
    const demo = JSON.parse(readFileSync(DEMO_FILE, "utf8"));
    if (await stillWorks(demo)) {
      return { ...demo, sessionJwt: await mintSession({ sub: demo.adminId, org: demo.orgId, vars }), reused: true };
    }
  }
  if (!vars.ADMIN_SECRET) throw new Error("ADMIN_SECRET is missing from .dev.vars");
  const bootstrap = await must("POST", "/orgs", vars.ADMIN_SECRET, { name: "Demo Org", admin: { name: "Ada Admin", email: "ada@demo.example" } }, 201);
  const orgId = bootstrap.org.id;
  const adminId = bootstrap.admin.id;
  const session = await mintSession({ sub: adminId, org: orgId, vars });
  const inspector = await must("POST", "/permission-sets", session, { name: "Inspector", permissions: ["inspections.edit", "inspections.view"] }, 201);
  await must("PATCH", `/users/${adminId}`, session, { permission_set_ids: [...bootstrap.admin.permission_set_ids, inspector.id] }, 200);
  const userToken = await must("POST", "/me/api-tokens", session, { name: "Demo CLI" }, 201);
  const serviceToken = await must("POST", "/service-tokens", session, { name: "Demo integration" }, 201);
  const demo = {
    orgId,
    adminId,
    adminName: bootstrap.admin.name,
    userTokenId: userToken.id,
    userToken: userToken.token,
    serviceTokenId: serviceToken.id,
    serviceToken: serviceToken.token,
  };
  mkdirSync(path.dirname(DEMO_FILE), { recursive: true });
  // Local demo secrets only; .demo/ is git-ignored.
  writeFileSync(DEMO_FILE, JSON.stringify(demo, null, 2) + "\n", { mode: 0o600 });
  return { ...demo, sessionJwt: session, reused: false };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  requireNode22();
  const demo = await seedDemo();
  console.log(JSON.stringify(demo, null, 2));
}
