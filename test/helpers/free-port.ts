/** For the Node-side tests and setups only (node:net does not exist in workerd). */
import { createServer, type AddressInfo } from "node:net";

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago, for a server a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
