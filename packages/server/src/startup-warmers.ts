import type { WarmupRegistry } from 'cachet/admin'

/**
 * The registry as the demo's modules register into it, with `skip` (CACHET_STARTUP_WARMUP_SKIP) left
 * out of the start-up run; they stay available to POST /api/cache/warmup.
 */
export function skippingAtStartup(registry: WarmupRegistry, skip: ReadonlySet<string>): WarmupRegistry {
  if (skip.size === 0) return registry
  const view: WarmupRegistry = {
    ...registry,
    register(module, warmer, options = {}) {
      registry.register(module, warmer, {
        ...options,
        onStart: options.onStart === true && !skip.has(module),
      })
      return view
    },
  }
  return view
}
