/**
 * A small static HTTP server over a directory (an archive OSTree repo), on
 * loopback, in the test process. It counts the bytes and requests it serves
 * and can be told to misbehave: die after N bytes (every connection dropped,
 * the listener closed), or serve altered bytes for some paths.
 *
 * Because it runs in the test process, anything that talks to it must be
 * spawned asynchronously (runCliAsync), never with spawnSync.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join, normalize } from 'node:path';
import { CLI, type CliResult } from './env';

export interface RepoServer {
  url: string;
  port: number;
  /** Body bytes sent since start (or the last resetStats). */
  bytes: number;
  requests: string[];
  resetStats(): void;
  /** Drop every connection and stop listening once this many more body bytes have been sent. */
  dieAfterBytes(n: number): void;
  /** Serve `transform(body)` instead of the file's bytes for paths matching `re`. */
  corrupt(re: RegExp | undefined, transform?: (b: Buffer) => Buffer): void;
  /** Listen again (same port) after a death. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function serveDirectory(root: string): Promise<RepoServer> {
  const sockets = new Set<Socket>();
  let budget: number | undefined;
  let corruptRe: RegExp | undefined;
  let corruptFn: (b: Buffer) => Buffer = (b) => {
    const c = Buffer.from(b);
    if (c.length > 0) c[c.length >> 1] = (c[c.length >> 1]! ^ 0xff) & 0xff;
    return c;
  };
  let server: Server;
  let port = 0;
  const state = {
    bytes: 0,
    requests: [] as string[],
  };
  const die = (): void => {
    budget = undefined;
    server.close();
    for (const s of sockets) s.destroy();
  };
  const make = (): Server =>
    createServer((req, res) => {
      const urlPath = decodeURIComponent((req.url ?? '/').split('?')[0]!);
      state.requests.push(urlPath);
      const p = normalize(join(root, urlPath));
      if (!p.startsWith(root)) {
        res.writeHead(403).end();
        return;
      }
      let size: number;
      try {
        const st = statSync(p);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        res.writeHead(404).end();
        return;
      }
      if (corruptRe?.test(urlPath)) {
        const chunks: Buffer[] = [];
        createReadStream(p)
          .on('data', (c) => chunks.push(c as Buffer))
          .on('end', () => {
            const body = corruptFn(Buffer.concat(chunks));
            state.bytes += body.length;
            res.writeHead(200, { 'content-length': body.length }).end(body);
          });
        return;
      }
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const stream = createReadStream(p);
      stream.on('data', (chunk) => {
        const c = chunk as Buffer;
        if (budget !== undefined) {
          if (c.length >= budget) {
            state.bytes += budget;
            res.write(c.subarray(0, budget));
            stream.destroy();
            die();
            return;
          }
          budget -= c.length;
        }
        state.bytes += c.length;
        if (!res.write(c)) {
          stream.pause();
          res.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => res.end());
    });
  const listen = (s: Server, p: number): Promise<number> =>
    new Promise((resolve, reject) => {
      s.on('connection', (sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
      });
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        const a = s.address();
        resolve(typeof a === 'object' && a ? a.port : p);
      });
    });
  server = make();
  port = await listen(server, 0);
  const api: RepoServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    get bytes() {
      return state.bytes;
    },
    get requests() {
      return state.requests;
    },
    resetStats() {
      state.bytes = 0;
      state.requests = [];
    },
    dieAfterBytes(n: number) {
      budget = n;
    },
    corrupt(re, transform) {
      corruptRe = re;
      if (transform) corruptFn = transform;
    },
    async restart() {
      budget = undefined;
      if (server.listening) return;
      server = make();
      await listen(server, port);
    },
    close() {
      return new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        if (!server.listening) resolve();
      });
    },
  };
  return api;
}

/** Run the real CLI without blocking the event loop (the server above lives in this process). */
export function runCliAsync(args: string[], opts: SpawnOptions = {}): Promise<CliResult> {
  return runAsync(process.execPath, [CLI, ...args], { ...opts, env: { ...process.env, APT_OSTREE_DIRECT: '1', ...(opts.env ?? {}) } });
}

/** Run any program asynchronously; resolves with its output (never throws for a non-zero exit). */
export function runAsync(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('close', (code) =>
      resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}
