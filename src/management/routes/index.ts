/**
 * One file per resource; each exports `registerX(app)`. Add new routes here, in the group
 * that matches their authentication.
 */
import type { ManagementApp } from "../common";

/** Routes that authenticate by other means (operator secret, none, or their own form body). */
export function registerPublicRoutes(app: ManagementApp): void {
  void app;
}

/** Routes behind `authenticate()`. */
export function registerProtectedRoutes(app: ManagementApp): void {
  void app;
}
