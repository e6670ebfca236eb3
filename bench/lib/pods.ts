/**
 * Realistic pods for load: the shape a Deployment's pod has in a real cluster
 * (labels, one container with image, ports, env, resources, a probe), about
 * 1 KiB of JSON before the server adds its defaults.
 */
import type { KObject } from '../../services/lib/api/resources.js';

export const SENT_ANNOTATION = 'bench.keelson.io/sent';

export function podName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(5, '0')}`;
}

export function benchPod(namespace: string, name: string, annotations?: Record<string, string>): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: {
        app: 'checkout',
        tier: 'frontend',
        release: 'stable',
        'app.kubernetes.io/name': 'checkout',
        'app.kubernetes.io/instance': 'checkout-prod',
        'app.kubernetes.io/version': '2.14.1',
        'pod-template-hash': '7d4b9c8f5d',
      },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', ...annotations },
    },
    spec: {
      containers: [
        {
          name: 'checkout',
          image: 'registry.example.com/shop/checkout-service:2.14.1',
          imagePullPolicy: 'IfNotPresent',
          args: ['--listen=:8080', '--metrics=:9090', '--config=/etc/checkout/config.yaml'],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DATABASE_URL', value: 'postgres://checkout@db.shop.svc.cluster.local:5432/checkout' },
            { name: 'CACHE_TTL_SECONDS', value: '300' },
            { name: 'FEATURE_FLAGS', value: 'new-cart,fast-pay,promo-banner' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10, failureThreshold: 3 },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      nodeSelector: { 'kubernetes.io/os': 'linux' },
    },
  };
}
