// Prints a fresh session JWT for a member, signed with SESSION_SECRET from .dev.vars, as the
// demo identity provider would issue it (claims sub, org, auth_time = now). Creating a user
// API token needs auth_time ≤ 5 minutes old, so mint a new one when the printed one is stale:
//   npm run session                 (the demo admin, from .demo/demo.json)
//   npm run session -- <userId> <orgId>
import { readFileSync, existsSync } from "node:fs";
import { SignJWT } from "jose";
import { DEMO_FILE, readDevVars, requireNode22 } from "./lib.mjs";

export async function mintSession({ sub, org, vars = readDevVars(), ttlSeconds = 12 * 3600 }) {
  if (!vars.SESSION_SECRET) throw new Error("SESSION_SECRET is missing from .dev.vars");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ org, auth_time: now })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuer(vars.SESSION_ISSUER ?? "portcullis-demo-idp")
    .setAudience(vars.SESSION_AUDIENCE ?? "portcullis")
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(vars.SESSION_SECRET));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  requireNode22();
  let [sub, org] = process.argv.slice(2);
  if (!sub || !org) {
    if (!existsSync(DEMO_FILE)) {
      console.error("No demo data yet: run `npm start` first, or pass <userId> <orgId>.");
      process.exit(1);
    }
    const demo = JSON.parse(readFileSync(DEMO_FILE, "utf8"));
    sub = demo.adminId;
    org = demo.orgId;
  }
  console.log(await mintSession({ sub, org }));
}
