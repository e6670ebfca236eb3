/** The kubeconfig `keelson up` writes, so kubectl talks to the local API server. */
export function kubeconfig(server: string, name = 'keelson'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}`,
    '    namespace: default',
    `current-context: ${name}`,
    'users:',
    `- name: ${name}`,
    '  user: {}',
    '',
  ].join('\n');
}
