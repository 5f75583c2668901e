/** The subject type lives in the domain; this name stays for the proxy and token modules that import it here. */
export type { Subject } from "../domain/subject";
