/** A request URL fit for a log line: the value of `access_token` (the feed's key for browsers, RFC 6750 §2.3) is
 *  replaced, so a key never reaches the logs however the request ends. */
export const redactUrl = (url: string | undefined): string | undefined =>
  url?.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
