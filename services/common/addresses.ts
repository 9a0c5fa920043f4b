/** Bind addresses and the addresses clients use to reach what is bound there. */

const wildcards: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]']);

/** Where a client on this machine reaches a listener bound to `bindHost`: a wildcard bind is reached on loopback. */
export const hostToReach = (bindHost: string): string => (wildcards.has(bindHost) ? '127.0.0.1' : bindHost);

/** host:port, with an IPv6 literal in brackets. */
export const hostPort = (host: string, port: number): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`);

/** Splits host:port ([v6]:port too); undefined when there is no numeric port. */
export const parseHostPort = (s: string): { host: string; port: number } | undefined => {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s.trim());
  return m ? { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } : undefined;
};

const loopback = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;
export const isLoopback = (host: string): boolean => loopback.test(host);
