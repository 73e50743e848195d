/**
 * The `changes` of `docker import` (and `docker commit`): Dockerfile instructions that set an
 * image's defaults (`CMD ["sh"]`, `ENV DEBUG=true`, …). Only the instructions dockerd accepts
 * there are understood; the rest are refused with dockerd's message.
 */
import { posix } from 'node:path';

import { invalidArgument } from '../engine-error.js';
import type { ContainerDefaults } from './image-config.js';

export const CHANGE_INSTRUCTIONS = [
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'ONBUILD',
  'USER',
  'VOLUME',
  'WORKDIR',
  'LABEL',
  'STOPSIGNAL',
] as const;

/** Applies each change in order to a copy of `config`. */
export function applyChanges(config: ContainerDefaults, changes: readonly string[]): ContainerDefaults {
  let result: ContainerDefaults = { ...config };
  for (const change of changes) result = applyChange(result, change);
  return result;
}

function applyChange(config: ContainerDefaults, change: string): ContainerDefaults {
  const trimmed = change.trim();
  if (trimmed === '') return config;
  const match = /^(\S+)\s*(.*)$/s.exec(trimmed);
  const instruction = (match?.[1] ?? '').toUpperCase();
  const rest = (match?.[2] ?? '').trim();
  switch (instruction) {
    case 'CMD':
      return { ...config, Cmd: commandOf(rest, instruction) };
    case 'ENTRYPOINT':
      return { ...config, Entrypoint: commandOf(rest, instruction) };
    case 'ENV': {
      const env = [...(config.Env ?? [])];
      for (const [key, value] of keyValues(rest, instruction)) {
        const index = env.findIndex((item) => item.split('=')[0] === key);
        if (index === -1) env.push(`${key}=${value}`);
        else env[index] = `${key}=${value}`;
      }
      return { ...config, Env: env };
    }
    case 'LABEL':
      return {
        ...config,
        Labels: { ...(config.Labels ?? {}), ...Object.fromEntries(keyValues(rest, instruction, false)) },
      };
    case 'EXPOSE': {
      const ports: Record<string, object> = { ...(config.ExposedPorts ?? {}) };
      for (const port of words(rest)) {
        const [number, protocol = 'tcp'] = port.split('/');
        if (!/^\d+(-\d+)?$/.test(number ?? '') || !['tcp', 'udp', 'sctp'].includes(protocol.toLowerCase())) {
          throw invalidArgument(`invalid port in EXPOSE: ${port}`);
        }
        ports[`${number}/${protocol.toLowerCase()}`] = {};
      }
      return { ...config, ExposedPorts: ports };
    }
    case 'USER':
      return { ...config, User: requireArgument(rest, instruction) };
    case 'WORKDIR': {
      const directory = requireArgument(rest, instruction);
      return { ...config, WorkingDir: posix.resolve(config.WorkingDir || '/', directory) };
    }
    case 'VOLUME': {
      const volumes: Record<string, object> = { ...(config.Volumes ?? {}) };
      const paths = rest.startsWith('[') ? jsonArray(rest, instruction) : words(rest);
      if (paths.length === 0) throw invalidArgument('VOLUME requires at least one argument');
      for (const path of paths) volumes[path] = {};
      return { ...config, Volumes: volumes };
    }
    case 'STOPSIGNAL':
      return { ...config, StopSignal: requireArgument(rest, instruction) };
    case 'ONBUILD':
      return { ...config, OnBuild: [...(config.OnBuild ?? []), requireArgument(rest, instruction)] };
    default:
      throw invalidArgument(`${instruction.toLowerCase() || change} is not a valid change command`);
  }
}

function requireArgument(rest: string, instruction: string): string {
  if (rest === '') throw invalidArgument(`${instruction} requires an argument`);
  return rest;
}

/** The exec form (`["sh","-c","x"]`) as is, the shell form wrapped in `/bin/sh -c`. */
function commandOf(rest: string, instruction: string): string[] {
  if (rest.startsWith('[')) {
    try {
      return jsonArray(rest, instruction);
    } catch {
      // Not valid JSON: Docker falls back to the shell form.
    }
  }
  return ['/bin/sh', '-c', requireArgument(rest, instruction)];
}

function jsonArray(text: string, instruction: string): string[] {
  const value = JSON.parse(text) as unknown;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidArgument(`${instruction} expects a JSON list of strings`);
  }
  return value;
}

/** `k=v k2="v 2"` or the old single form `k some value`. */
function keyValues(rest: string, instruction: string, allowOldForm = true): [string, string][] {
  const parts = words(rest);
  if (parts.length === 0) throw invalidArgument(`${instruction} requires at least one argument`);
  if (!(parts[0] ?? '').includes('=')) {
    if (!allowOldForm || parts.length < 2) throw invalidArgument(`${instruction} needs key=value pairs`);
    const key = parts[0];
    return [[key, rest.slice(rest.indexOf(key) + key.length).trim()]];
  }
  return parts.map((part) => {
    const equals = part.indexOf('=');
    if (equals <= 0) throw invalidArgument(`${instruction} needs key=value pairs, got ${part}`);
    return [part.slice(0, equals), part.slice(equals + 1)];
  });
}

/** Splits on whitespace, honouring "double" and 'single' quotes and backslash escapes. */
export function words(text: string): string[] {
  const result: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < text.length) current += text[++index];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === '\\' && index + 1 < text.length) {
      current += text[++index];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) result.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote !== undefined) throw invalidArgument(`unterminated quote in: ${text}`);
  if (inWord) result.push(current);
  return result;
}
