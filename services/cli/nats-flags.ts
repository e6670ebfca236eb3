/**
 * The NATS flags every component and client command takes: where the servers
 * are, and on a secured cluster as whom to connect and which CA their TLS
 * certificates are checked against.
 */
import { natsTarget, type NatsTarget } from '../lib/nats/index.js';

export const NATS_FLAGS = {
  nats: { type: 'string' },
  'nats-credentials': { type: 'string' },
  'nats-ca': { type: 'string' },
} as const;

/** Help lines for the two flags of a secured cluster (`--nats` is told by each command). */
export const NATS_AUTH_HELP = `      --nats-credentials FILE  this program's NATS user on a secured cluster (default $KEELSON_NATS_CREDENTIALS)
      --nats-ca FILE     the CA the NATS servers' TLS certificates are checked against (default $KEELSON_NATS_CA)
`;

export type NatsFlagValues = { nats?: string; 'nats-credentials'?: string; 'nats-ca'?: string };

/** Files are read now: a wrong path or a broken file fails the start. */
export function natsFlagTarget(values: NatsFlagValues): NatsTarget {
  return natsTarget(values.nats, { credentials: values['nats-credentials'], ca: values['nats-ca'] });
}
