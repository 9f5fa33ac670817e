/**
 * How late this process's timers fire right now: the largest overshoot of `samples` 1 ms timers.
 * Well under a millisecond on an idle machine, tens of ms on a starved one. A bound on how soon
 * something happens adds a multiple of it, so it holds on a loaded CI machine without being widened
 * on a quiet one.
 */
export async function timerLagMs(samples = 20): Promise<number> {
  let worst = 0
  for (let i = 0; i < samples; i++) {
    const started = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 1))
    worst = Math.max(worst, performance.now() - started - 1)
  }
  return worst
}
