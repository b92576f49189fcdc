// s3rver on loopback: the one place this repo starts it (clients of it take S3RVER_CLIENT_SETTINGS from local-account.ts).
import S3rver from '@20minutes/s3rver';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3rverOnLoopback {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  server: S3rver;
  /** Closes the server (keep-alive sockets included) and removes its directory. */
  stop(): Promise<void>;
}

export interface S3rverOptions {
  buckets: readonly string[];
  /** @default a free port */
  port?: number | undefined;
  /** Called before the server starts, e.g. to listen to its events. */
  beforeStart?: (server: S3rver) => void;
}

/** s3rver on 127.0.0.1 with `buckets`, storing into a fresh temporary directory. */
export async function startS3rver(options: S3rverOptions): Promise<S3rverOnLoopback> {
  const directory = mkdtempSync(join(tmpdir(), 'fps-s3-'));
  const removeDirectory = () => rmSync(directory, { recursive: true, force: true });
  const server = new S3rver({
    port: options.port ?? 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  options.beforeStart?.(server);
  let address: { port: number };
  try {
    address = (await server.run()) as { port: number };
  } catch (error) {
    removeDirectory();
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    server,
    async stop() {
      const closing = server.close();
      // Keep-alive sockets (the simulator's downloads, SDK clients) would hold close() open.
      server.httpServer?.closeAllConnections();
      await closing;
      removeDirectory();
    },
  };
}
