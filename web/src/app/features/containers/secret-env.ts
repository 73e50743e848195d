/** Names whose values are secrets more often than not; matched anywhere in the name, any case. */
const SECRET_NAME = /PASS(WORD|WD)?|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|CERT|SALT|DSN|CONN(ECTION)?_?STR/i;

export const MASK = '••••••••';

export interface EnvVariable {
  name: string;
  value: string;
  secret: boolean;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** `NAME=value` lines of a container's config, with the secret-looking ones flagged. */
export function parseEnv(env: readonly string[] | undefined): EnvVariable[] {
  return (env ?? []).map((line) => {
    const index = line.indexOf('=');
    const name = index < 0 ? line : line.slice(0, index);
    const value = index < 0 ? '' : line.slice(index + 1);
    return { name, value, secret: isSecretName(name) };
  });
}

/** The same lines with secret values replaced, for the raw JSON view. */
export function maskEnv(env: readonly string[] | undefined): string[] | undefined {
  return env?.map((line) => {
    const index = line.indexOf('=');
    return index >= 0 && isSecretName(line.slice(0, index)) ? `${line.slice(0, index)}=${MASK}` : line;
  });
}
