// Prints bench/results/latest.json (or the file given) as the Markdown table of docs/performance.md.
import { readFileSync } from "node:fs";
import path from "node:path";
import { markdownReport } from "./lib/report.mjs";

const file = process.argv[2] ?? path.join(import.meta.dirname, "results", "latest.json");
console.log(markdownReport(JSON.parse(readFileSync(file, "utf8"))));
