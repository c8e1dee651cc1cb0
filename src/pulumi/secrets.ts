/**
 * Secret values as the engine passes them to a provider that accepts secrets (the Node.js
 * provider server says it does): `{ [specialSigKey]: specialSecretSig, value }`, anywhere in a
 * property bag. The provider methods work on plain values; what is secret goes back wrapped.
 * Pure; no @pulumi/pulumi runtime (the signature constants are the wire format).
 */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const isSecret = (value: unknown): value is { value: unknown } =>
  value !== null && typeof value === "object" && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;

/** `value` with every secret marker removed (the secret's value kept). */
export function revealed<T = unknown>(value: unknown): T {
  if (isSecret(value)) return revealed(value.value);
  if (Array.isArray(value)) return value.map((v) => revealed(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealed(v)])) as T;
  }
  return value as T;
}

/** `value` marked secret (once). */
export function secret(value: unknown): unknown {
  return isSecret(value) || value === undefined ? value : { [SIG_KEY]: SECRET_SIG, value };
}

/** `props` with the listed keys marked secret. */
export function withSecrets(props: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out = { ...props };
  for (const key of keys) if (out[key] !== undefined) out[key] = secret(out[key]);
  return out;
}
