// Files bundled as text modules: wrangler's `[[rules]] type = "Text"` (wrangler.toml) and the
// matching plugin in vitest.config.ts turn each into a default-exported string.
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const text: string;
  export default text;
}
