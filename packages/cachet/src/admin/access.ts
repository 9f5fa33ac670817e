import type { RouteOptions } from 'fastify'
import type { Role } from './auth.js'

/** Who may call an admin route: anybody (`public`), any authenticated caller (`read`), or admins. */
export type Access = 'public' | Role

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every admin route: an undeclared route fails the plugin's registration. */
    access?: Access
  }
}

/** True when a caller of `role` may call a route of `access`. */
export function allows(access: Access | undefined, role: Role): boolean {
  return access === 'public' || access === 'read' || role === 'admin'
}

/**
 * onRoute hook: refuses to register an admin route that does not say who may call it, so a new
 * route cannot silently be open to read-only callers (or to nobody).
 */
export function requireDeclaredAccess(route: RouteOptions): void {
  const access = route.config?.access
  if (access !== 'public' && access !== 'read' && access !== 'admin') {
    throw new Error(
      `admin route ${String(route.method)} ${route.url} declares no access (public, read or admin)`,
    )
  }
}
