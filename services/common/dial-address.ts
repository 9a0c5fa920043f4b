/** The address a local client dials to reach a listener bound to `bindHost`, written for a URL: a wildcard bind
 *  (0.0.0.0, ::) is reached on loopback, an IPv6 address is bracketed. */
export const dialAddress = (bindHost: string): string => {
  if (bindHost === '0.0.0.0' || bindHost === '') return '127.0.0.1';
  if (bindHost === '::' || bindHost === '[::]') return '[::1]';
  return bindHost.includes(':') && !bindHost.startsWith('[') ? `[${bindHost}]` : bindHost;
};
