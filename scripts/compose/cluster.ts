/**
 * `npm run cluster:up | cluster:status | cluster:down`: the compose HA cluster
 * (docker-compose.yml). Environment: KEELSON_CLUSTER (name, default keelson),
 * KEELSON_API_PORT (haproxy on 127.0.0.1, default 6443), KEELSON_COMPOSE_DATA
 * (node data and the kubeconfig, default .keelson/compose).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { composeCluster, composeDown, composeUp, ROOT } from './compose-cluster.js';

const USAGE = 'usage: node --import tsx scripts/compose/cluster.ts up [--build] | status | down';

async function main(): Promise<number> {
  const [verb, ...flags] = process.argv.slice(2);
  const c = composeCluster();
  const log = (line: string) => process.stderr.write(`cluster: ${line}\n`);
  switch (verb) {
    case 'up': {
      const { viewerToken } = await composeUp(c, { build: flags.includes('--build'), log });
      process.stdout.write(
        [
          `The compose cluster ${c.name} is up: API through haproxy at ${c.api} (HTTPS; the kubeconfig holds the CA and the admin certificate).`,
          `  dashboard ${c.api}/ui#token=${viewerToken}`,
          `  export KUBECONFIG=${c.kubeconfigPath}`,
          '  kubectl get nodes -o wide',
          '  npm run cluster:status',
          '',
        ].join('\n'),
      );
      return status(c.kubeconfigPath);
    }
    case 'status':
      return status(c.kubeconfigPath);
    case 'down':
      await composeDown(c, log);
      process.stdout.write(`The compose cluster ${c.name} is gone.\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

function status(kubeconfigPath: string): number {
  const cli = join(ROOT, 'services', 'cli', 'main.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, 'status', '--kubeconfig', kubeconfigPath], { stdio: 'inherit' });
  return r.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`cluster: ${e.message}\n`);
    process.exit(1);
  },
);
