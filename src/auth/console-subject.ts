/**
 * How the web console (SPEC §8) acts as a signed-in member through the management API's own
 * route handlers, so that no rule has a second implementation: the console builds a Request,
 * attaches the member's subject (read live from D1 for this request) here, and calls the
 * management app in-process. The mark is a WeakMap entry on the Request object itself, which
 * only code inside this isolate can create; nothing a client sends can produce it.
 */
import type { Subject } from "./subject";

const subjects = new WeakMap<Request, Subject>();

export function withConsoleSubject(request: Request, subject: Subject): Request {
  subjects.set(request, subject);
  return request;
}

export function consoleSubjectOf(request: Request): Subject | undefined {
  return subjects.get(request);
}
