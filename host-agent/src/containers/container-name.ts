import { randomInt } from 'node:crypto';
import { invalidArgument } from '../engine-error.js';

const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A name as `docker run --name` takes it; the leading slash Docker shows in inspect is optional. */
export function checkContainerName(name: string): string {
  if (!VALID_NAME.test(name)) {
    throw invalidArgument(
      `invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters`,
    );
  }
  return name.replace(/^\//, '');
}

const ADJECTIVES = [
  'brave',
  'calm',
  'eager',
  'fond',
  'gentle',
  'happy',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'proud',
  'quiet',
  'sharp',
  'swift',
  'tidy',
  'vivid',
  'wise',
  'zesty',
];
const NOUNS = [
  'anchor',
  'buoy',
  'cove',
  'delta',
  'ferry',
  'gull',
  'harbor',
  'inlet',
  'jetty',
  'keel',
  'lagoon',
  'mast',
  'oar',
  'pier',
  'reef',
  'sail',
  'tide',
  'wharf',
];

/** A readable name for a container created without one, like Docker's `adjective_noun`. */
export function generateContainerName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}${attempt > 10 ? randomInt(100) : ''}`;
    if (!taken(name)) return name;
  }
  throw new Error('could not find a free container name');
}
