import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A brand's website on loopback (port 0): static HTML pages, each rendered when requested (so
 * a page can name a leadgate started after the site). Its origin, `http://127.0.0.1:<port>`,
 * is what leadgate's `allowed_origins` lists, or not.
 */
export interface BrandSite {
  readonly origin: string;
  /** Serves `html()` at `path` (the query string is ignored for matching). */
  page(path: string, html: () => string): void;
  close(): Promise<void>;
}

export async function startBrandSite(): Promise<BrandSite> {
  const pages = new Map<string, () => string>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://site').pathname;
    const html = pages.get(path);
    if (html === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    page: (path, html) => void pages.set(path, html),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
