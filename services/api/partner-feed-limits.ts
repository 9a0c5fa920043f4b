import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { formatErrors } from '../common/decode';

/** What one partner feed may cost the API, from the environment (decoded here, at the edge):
 *  - PARTNER_FEED_MAX_PER_KEY (default 2): feeds open at once per API key; one more is refused with 429.
 *  - PARTNER_FEED_MAX_MESSAGE_BYTES (default 4096): largest message a partner may send (the feed reads none; a bigger
 *    one closes it with 1009).
 *  - PARTNER_FEED_MAX_BUFFERED_BYTES (default 4 MiB): outbound bytes the API holds for a reader that doesn't keep up.
 *  - PARTNER_FEED_SLOW_READER_MS (default 30000): how long a reader may stay over that before its feed is closed
 *    with 1008 (it reconnects from the last position it received). */
export interface FeedLimits {
  readonly maxPerKey: number;
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly slowReaderMs: number;
}

export const defaultFeedLimits: FeedLimits = { maxPerKey: 2, maxMessageBytes: 4096, maxBufferedBytes: 4 * 1024 * 1024, slowReaderMs: 30_000 };

const WholeNumber = new t.Type<number, string, unknown>(
  'WholeNumber',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0,
  (u, c) => (typeof u === 'string' && /^\d{1,15}$/.test(u.trim()) ? t.success(Number(u)) : t.failure(u, c, 'expected a whole number')),
  String,
);

const LimitsEnv = t.partial({
  PARTNER_FEED_MAX_PER_KEY: WholeNumber,
  PARTNER_FEED_MAX_MESSAGE_BYTES: WholeNumber,
  PARTNER_FEED_MAX_BUFFERED_BYTES: WholeNumber,
  PARTNER_FEED_SLOW_READER_MS: WholeNumber,
});

export const decodeFeedLimits = (env: NodeJS.ProcessEnv): E.Either<string, FeedLimits> =>
  pipe(
    LimitsEnv.decode(env),
    E.mapLeft((errors) => `invalid environment: ${formatErrors(errors).join('; ')}`),
    E.map((e) => ({
      maxPerKey: e.PARTNER_FEED_MAX_PER_KEY ?? defaultFeedLimits.maxPerKey,
      maxMessageBytes: e.PARTNER_FEED_MAX_MESSAGE_BYTES ?? defaultFeedLimits.maxMessageBytes,
      maxBufferedBytes: e.PARTNER_FEED_MAX_BUFFERED_BYTES ?? defaultFeedLimits.maxBufferedBytes,
      slowReaderMs: e.PARTNER_FEED_SLOW_READER_MS ?? defaultFeedLimits.slowReaderMs,
    })),
  );
