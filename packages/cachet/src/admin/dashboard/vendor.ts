import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

/** The files of the chart library (uPlot) the page loads. */
export type VendorFile = 'uPlot.iife.min.js' | 'uPlot.min.css'

/**
 * The build copies uPlot's minified files next to the compiled page (scripts/copy-assets.mjs), so the
 * published package needs no uPlot at run time; running from source, they come from node_modules.
 */
export function readVendorAsset(file: VendorFile): string {
  const copied = new URL(`./vendor/${file}`, import.meta.url)
  if (existsSync(copied)) return readFileSync(copied, 'utf8')
  return readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`), 'utf8')
}
