// The local stand-in for GitHub's secret scanning keys (SPEC §10): `npm start` serves a key set
// in GitHub's format on http://127.0.0.1:8790/secret-scanning/keys (SECRET_SCANNING_KEYS_URL in
// .dev.vars.example) and keeps the matching private key in .demo/secret-scanning-key.pem, so a
// report can be signed by hand (README "GitHub secret scanning") or with
// `npm run leak-report -- <token>` (scripts/leak-report.mjs).
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { ROOT } from "./lib.mjs";

export const SECRET_SCANNING_PORT = Number(process.env.PORTCULLIS_SECRET_SCANNING_PORT ?? 8790);
export const KEY_FILE = path.join(ROOT, ".demo", "secret-scanning-key.pem");

/** The demo key pair (created once), and its identifier: hex SHA-256 of the public key (DER), as GitHub's are. */
export function demoKey() {
  if (!existsSync(KEY_FILE)) {
    mkdirSync(path.dirname(KEY_FILE), { recursive: true });
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(KEY_FILE, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  const privatePem = readFileSync(KEY_FILE, "utf8");
  const publicKey = createPublicKey(privatePem);
  const publicPem = publicKey.export({ type: "spki", format: "pem" });
  const id = createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
  return { id, privatePem, publicPem };
}

export async function startSecretScanningKeys() {
  const { id, publicPem } = demoKey();
  const keySet = JSON.stringify({ public_keys: [{ key_identifier: id, key: publicPem, is_current: true }] });
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/secret-scanning/keys") {
      res.writeHead(200, { "content-type": "application/json" }).end(keySet);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(SECRET_SCANNING_PORT, "127.0.0.1", resolve);
  });
  return { server, id, url: `http://127.0.0.1:${SECRET_SCANNING_PORT}/secret-scanning/keys` };
}
