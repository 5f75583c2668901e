/** The SPEC §4 error shape, asserted once for every test that inspects an error. */
import { expect } from "vitest";

export interface ErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

/** Asserts `{"error": {"code", "message", ...}}` with a JSON content type; returns the `error` object. */
export async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

/** The `error.code` of a JSON error response, with no check of its shape (see `errorOf` for that). */
export async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as ErrorBody).error.code;
}
