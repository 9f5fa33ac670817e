// The consumer test: packs the library as npm would publish it, installs the tarball into empty
// projects and uses it as an application would — the README's snippets as written, a CommonJS
// NestJS application, @cached under both decorator settings, a type check of every subpath under
// three module settings — then measures what `npm install cachet` adds to node_modules.
import { execFileSync, spawn } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '../..')
const library = join(root, 'packages/cachet')
const fixtures = join(here, 'fixtures')
/** What `npm install cachet` may add, engine only (no integration). */
const INSTALL_BUDGET_BYTES = 8 * 1024 * 1024
const versions = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages

const work = mkdtempSync(join(tmpdir(), 'cachet-consumer-'))
const failures = []
let passed = 0

function run(command, args, cwd, env = {}) {
  return execFileSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: 'pipe',
  })
}

/** The version the workspace itself uses, so the consumer installs come from the local npm cache. */
function pinned(name) {
  const entry = versions[`node_modules/${name}`]
  if (!entry) throw new Error(`${name} is not in the workspace lock`)
  return `${name}@${entry.version}`
}

function install(cwd, specs, flags = []) {
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...flags, ...specs],
    cwd,
  )
}

async function check(name, fn) {
  const started = Date.now()
  try {
    await fn()
    passed++
    console.log(`  ✓ ${name} (${Date.now() - started} ms)`)
  } catch (error) {
    failures.push(name)
    console.log(
      `  ✗ ${name}\n${String(error.stdout ?? '')}${String(error.stderr ?? '')}${error.stack ?? error}`,
    )
  }
}

function project(name, packageJson) {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, ...packageJson }),
  )
  return dir
}

function sizeOf(path) {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (!stat || stat.isSymbolicLink()) return 0
  if (!stat.isDirectory()) return stat.size
  return readdirSync(path).reduce((total, entry) => total + sizeOf(join(path, entry)), 0)
}

function filesEndingWith(path, suffix, found = []) {
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name)
    if (entry.isDirectory()) filesEndingWith(full, suffix, found)
    else if (entry.name.endsWith(suffix)) found.push(full)
  }
  return found
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function startRedis() {
  const port = await freePort()
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  )
  for (let i = 0; i < 100; i++) {
    try {
      if (run('redis-cli', ['-p', String(port), 'PING'], work).trim() === 'PONG') return { port, child }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill()
  throw new Error('redis-server did not start')
}

/**
 * The TypeScript blocks of the package README: ```ts is type-checked in an ES module project, ```ts run
 * is also run there, and ```ts nest is type-checked in the CommonJS NestJS project.
 */
function readmeSnippets(kind) {
  const readme = readFileSync(join(library, 'README.md'), 'utf8')
  return [...readme.matchAll(/^```ts(?: (run|nest))?\n([\s\S]*?)^```$/gm)]
    .map((match, index) => ({ file: `snippet-${index + 1}.ts`, kind: match[1] ?? 'ts', code: match[2] }))
    .filter((snippet) => kind.includes(snippet.kind))
}

console.log(`consumer test in ${work}`)
run('npm', ['run', 'build', '--silent'], library)
const tarball = join(
  work,
  run('npm', ['pack', '--silent', '--pack-destination', work], library).trim().split('\n').pop(),
)
const redis = await startRedis()
const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}` }

try {
  await check('npm install cachet adds at most 8 MB and no WebAssembly to node_modules', () => {
    const dir = project('install-size', {})
    install(dir, [tarball], ['--omit=dev'])
    const bytes = sizeOf(join(dir, 'node_modules'))
    const wasm = filesEndingWith(join(dir, 'node_modules'), '.wasm')
    const count = readdirSync(join(dir, 'node_modules')).length
    console.log(
      `    installed: ${(bytes / 1024 / 1024).toFixed(2)} MB in ${count} top-level packages, ${wasm.length} .wasm`,
    )
    if (bytes > INSTALL_BUDGET_BYTES)
      throw new Error(`installed size ${bytes} B is over the ${INSTALL_BUDGET_BYTES} B budget`)
    if (wasm.length > 0) throw new Error(`WebAssembly installed: ${wasm.join(', ')}`)
  })

  const esm = project('esm-app', { type: 'module' })
  cpSync(join(fixtures, 'esm-app'), esm, { recursive: true })
  install(esm, [
    tarball,
    ...[
      'typescript',
      'tsx',
      '@types/node',
      'fastify',
      'express',
      '@types/express',
      'pg',
      '@types/pg',
      'keyv',
    ].map(pinned),
    ...[
      'prom-client',
      'zod',
      'jose',
      '@nestjs/common',
      '@nestjs/core',
      'rxjs',
      'reflect-metadata',
      '@opentelemetry/api',
    ].map(pinned),
  ])

  await check('the README snippets type-check as written (skipLibCheck: false)', () => {
    const snippets = readmeSnippets(['ts', 'run'])
    if (snippets.length === 0) throw new Error('no ```ts snippet in the README')
    for (const snippet of snippets) writeFileSync(join(esm, snippet.file), snippet.code)
    run('npx', ['tsc', '-p', 'tsconfig.snippets.json'], esm)
  })

  await check('the runnable README snippets run and exit by themselves', () => {
    const runnable = readmeSnippets(['run'])
    if (runnable.length === 0) throw new Error('no ```ts run snippet in the README')
    for (const snippet of runnable) run('npx', ['tsx', snippet.file], esm, env)
  })

  await check('@cached caches under standard decorators (TC39, target ES2022)', () => {
    run('npx', ['tsc', '-p', 'tsconfig.decorators.json'], esm)
    const output = run('node', ['out/decorators.js'], esm, env)
    if (!output.includes('loader calls: 1')) throw new Error(output)
  })

  for (const module of ['nodenext', 'node16']) {
    await check(`every subpath's types resolve from ESM under module ${module} (skipLibCheck: false)`, () => {
      run(
        'npx',
        ['tsc', '--noEmit', '-p', 'tsconfig.types.json', '--module', module, '--moduleResolution', module],
        esm,
      )
    })
  }

  await check('cachet/testing loads by import and by require, and its proxy forwards to Redis', () => {
    for (const probe of ['testing-probe.mjs', 'testing-probe.cjs']) {
      const output = run('node', [probe], esm, env)
      if (!output.includes('function +PONG')) throw new Error(`${probe}: ${output}`)
    }
  })

  await check('import of a subpath without its peer names the package to install', () => {
    const dir = project('missing-peer', { type: 'module' })
    install(dir, [tarball], ['--omit=dev', '--omit=peer'])
    const output = run(
      'node',
      ['--input-type=module', '-e', "import('cachet/nestjs').catch((e) => console.log(e.code, e.message))"],
      dir,
    )
    if (!output.includes('E_MISSING_PEER') || !output.includes('@nestjs/common')) throw new Error(output)
  })

  const cjs = project('nest-cjs-app', {})
  cpSync(join(fixtures, 'nest-cjs-app'), cjs, { recursive: true })
  install(cjs, [
    tarball,
    ...[
      'typescript',
      '@types/node',
      '@types/express',
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/platform-express',
    ].map(pinned),
    ...[
      'rxjs',
      'reflect-metadata',
      'express',
      'fastify',
      'prom-client',
      'zod',
      'jose',
      'keyv',
      'pg',
      '@types/pg',
      '@opentelemetry/api',
    ].map(pinned),
  ])

  await check(
    'a CommonJS NestJS app (Nest default tsconfig) answers MISS then HIT through @CacheResponse',
    () => {
      run('npx', ['tsc', '-p', 'tsconfig.json'], cjs)
      const output = run('node', ['dist/main.js'], cjs, env)
      if (!output.includes('first: MISS') || !output.includes('second: HIT')) throw new Error(output)
    },
  )

  await check("seed 004's AFTER migration code compiles and runs unchanged with CacheService", () => {
    const output = run('node', ['dist/seed-004-migration.js'], cjs, env)
    for (const line of ['same: true', 'fetches: 1', 'ttl 3600 s ± 10 %: true']) {
      if (!output.includes(line)) throw new Error(output)
    }
  })

  await check('@cached caches under experimentalDecorators in the same CommonJS app', () => {
    const output = run('node', ['dist/decorated.js'], cjs, env)
    if (!output.includes('loader calls: 1')) throw new Error(output)
  })

  await check('the NestJS README snippets type-check in the CommonJS NestJS app', () => {
    const snippets = readmeSnippets(['nest'])
    if (snippets.length === 0) throw new Error('no ```ts nest snippet in the README')
    for (const snippet of snippets) writeFileSync(join(cjs, 'src', snippet.file), snippet.code)
    run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.snippets.json'], cjs)
  })

  await check(
    "every subpath's types resolve from CommonJS under module commonjs (skipLibCheck: false)",
    () => {
      run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.types.json'], cjs)
    },
  )
} finally {
  redis.child.kill()
  if (failures.length === 0) rmSync(work, { recursive: true, force: true })
}

console.log(`consumer: ${passed} passed, ${failures.length} failed`)
process.exitCode = failures.length === 0 ? 0 : 1
