import * as net from 'node:net';

/** `port` when nothing listens on it on loopback, else a free port the system picks. */
export const portOrFree = (port: number, host = '127.0.0.1'): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE' || port === 0) return reject(e);
      resolve(portOrFree(0, host));
    });
    probe.listen(port, host, () => {
      const got = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(got));
    });
  });
