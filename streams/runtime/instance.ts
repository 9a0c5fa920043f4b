import { randomUUID } from 'node:crypto';
import * as os from 'node:os';

/** An id unique per process and host (two instances on one host, or a restarted one, never share it). */
export const instanceId = (): string => `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
