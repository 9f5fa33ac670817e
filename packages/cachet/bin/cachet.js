#!/usr/bin/env node
// The `cachet` command. From a published package it runs the compiled CLI in dist/; from a clone
// (no build step) it registers tsx's loader and runs the TypeScript sources directly.
import { existsSync } from 'node:fs'

const built = new URL('../dist/cli/main.js', import.meta.url)
if (existsSync(built)) {
  await import(built.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli/main.ts', import.meta.url).href)
}
