/** The order of an interleaved A/B(/C…) run: every round visits each candidate, starting one further along. */
export function* interleaved<T>(candidates: readonly T[], rounds: number): Generator<T> {
  for (let round = 0; round < rounds; round += 1) {
    for (let step = 0; step < candidates.length; step += 1) yield candidates[(round + step) % candidates.length];
  }
}
