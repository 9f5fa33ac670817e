/**
 * True when the promise settles before the event loop's next turn: on its own microtasks, with no
 * timer and no I/O in between. Unlike a bound in milliseconds, this does not depend on how busy the
 * machine is, and a call that waits for a deadline or a reply still fails it.
 */
export async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  const done = () => {
    settled = true
  }
  promise.then(done, done)
  await new Promise((resolve) => setImmediate(resolve))
  return settled
}
