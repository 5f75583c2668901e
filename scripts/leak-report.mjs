// Sends a secret scanning report for the given tokens to the local Portcullis, signed with the
// demo key exactly as GitHub signs its reports (SPEC §10): ECDSA P-256 over the raw body,
// DER-encoded, base64, with the key's identifier.
//   npm run leak-report -- pcs_… [pcu_…]
import { sign } from "node:crypto";
import { PREFIX, PROXY_URL, requireNode22 } from "./lib.mjs";
import { demoKey } from "./secret-scanning-demo.mjs";

requireNode22();
const tokens = process.argv.slice(2);
if (tokens.length === 0) {
  console.error("usage: npm run leak-report -- <token> [<token> …]");
  process.exit(1);
}
const body = JSON.stringify(
  tokens.map((token) => ({
    token,
    type: token.startsWith("pcu_") ? "portcullis_user_api_token" : "portcullis_service_user_api_token",
    url: "https://github.com/octo-org/demo/blob/main/leaked.env",
    source: "content",
  })),
);
const { id, privatePem } = demoKey();
const signature = sign("sha256", Buffer.from(body), privatePem).toString("base64");
const res = await fetch(`${PROXY_URL}${PREFIX}/secret-scanning/github`, {
  method: "POST",
  headers: { "content-type": "application/json", "github-public-key-identifier": id, "github-public-key-signature": signature },
  body,
});
console.log(res.status, await res.text());
