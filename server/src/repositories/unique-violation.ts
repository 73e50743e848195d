/** PostgreSQL's unique_violation (SQLSTATE 23505), as TypeORM's QueryFailedError carries it. */
export function isUniqueViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } } | null)?.driverError;
  return (
    typeof error === 'object' && error !== null && (driverError?.code ?? (error as { code?: unknown }).code) === '23505'
  );
}

/** Runs an insert or update that may hit a unique name; null when it did. */
export async function unlessTaken<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch (error) {
    if (isUniqueViolation(error)) return null;
    throw error;
  }
}
