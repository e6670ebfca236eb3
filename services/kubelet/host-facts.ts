/**
 * Reads the facts about this machine that node-status.ts turns into a Node:
 * CPUs, memory, the data dir's filesystem, the first non-loopback IPv4 address,
 * and the identities Linux keeps in /etc and /proc. A file that cannot be read
 * gives an empty value, never an error: a kubelet in a container still runs.
 */
import { readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { goArch, type DynamicHostFacts, type StaticHostFacts } from './node-status.js';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** PRETTY_NAME from an os-release file's text, unquoted. */
export function prettyName(osRelease: string): string {
  const line = osRelease.split('\n').find((l) => l.startsWith('PRETTY_NAME='));
  if (!line) return '';
  return line
    .slice('PRETTY_NAME='.length)
    .trim()
    .replace(/^(["'])(.*)\1$/, '$2');
}

/** The first non-internal IPv4 address, or 127.0.0.1. */
export function internalIPv4(interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces()): string {
  for (const addrs of Object.values(interfaces)) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** 32 hex digits as a UUID (8-4-4-4-12); anything else unchanged. */
function asUUID(hex: string): string {
  return /^[0-9a-f]{32}$/i.test(hex) ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : hex;
}

function filesystem(dataDir: string): { size: number; available: number } | undefined {
  try {
    const s = statfsSync(dataDir);
    return { size: s.blocks * s.bsize, available: s.bavail * s.bsize };
  } catch {
    return undefined;
  }
}

export function readStaticHostFacts(dataDir: string): StaticHostFacts {
  const machineID = readText('/etc/machine-id') || readText('/var/lib/dbus/machine-id');
  const fs = filesystem(dataDir);
  return {
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    ...(fs ? { ephemeralStorageBytes: fs.size } : {}),
    internalIP: internalIPv4(),
    machineID,
    // product_uuid is root-only on most machines; the machine ID stands in for it.
    systemUUID: readText('/sys/class/dmi/id/product_uuid').toLowerCase() || asUUID(machineID),
    bootID: readText('/proc/sys/kernel/random/boot_id'),
    kernelVersion: os.release(),
    osImage: prettyName(readText('/etc/os-release')) || `${os.type()} ${os.release()}`,
    architecture: goArch(process.arch),
  };
}

export function readDynamicHostFacts(dataDir: string): DynamicHostFacts {
  const fs = filesystem(dataDir);
  return { freeMemoryBytes: os.freemem(), ...(fs ? { diskAvailableBytes: fs.available } : {}) };
}
