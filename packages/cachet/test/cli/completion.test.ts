import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const COMMANDS = ['stats', 'top', 'health', 'keys', 'inspect', 'clear', 'invalidate', 'warmup', 'completion']

/** Runs the CLI from its sources, as `cachet …` would. */
function cachet(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    })
  })
}

function has(shell: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cachet-completion-'))
const scripts: Record<string, string> = {}

beforeAll(async () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    const { code, stdout } = await cachet(['completion', shell])
    expect(code).toBe(0)
    scripts[shell] = join(dir, `cachet.${shell}`)
    writeFileSync(scripts[shell]!, stdout)
  }
}, 30_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.skipIf(!has('bash'))('cachet completion bash', () => {
  /** What bash offers for the words typed so far (the last one being completed). */
  const complete = (...words: string[]) =>
    execFileSync('bash', [
      '--norc',
      '--noprofile',
      '-c',
      `
      source "$1"; shift
      COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
      _cachet_completion
      printf '%s\\n' "\${COMPREPLY[@]}"
    `,
      'complete',
      scripts.bash!,
      'cachet',
      ...words,
    ])
      .toString()
      .split('\n')
      .filter(Boolean)

  it('registers itself for the cachet command', () => {
    const registered = execFileSync('bash', [
      '--norc',
      '-c',
      'source "$1"; complete -p cachet',
      'x',
      scripts.bash!,
    ])
    expect(registered.toString().trim()).toBe('complete -F _cachet_completion cachet')
  })

  it('completes subcommands and global options', () => {
    expect(complete('')).toEqual([...COMMANDS, '--url', '--token', '--json', '--help'])
    expect(complete('wa')).toEqual(['warmup'])
    expect(complete('in')).toEqual(['inspect', 'invalidate'])
    expect(complete('--')).toEqual(['--url', '--token', '--json', '--help'])
  })

  it("completes a subcommand's options, after global options and their values", () => {
    expect(complete('top', '--i')).toEqual(['--interval', '--iterations', '--instance'])
    expect(complete('--url', 'http://127.0.0.1:3000', 'warmup', '-')).toEqual(['-f', '--force', '--help'])
    expect(complete('--json', 'clear', '--')).toEqual(['--dry-run', '--yes', '--help'])
    expect(complete('completion', '')).toEqual(['bash', 'zsh', 'fish', '--help'])
  })

  it('offers nothing of its own where a value is expected', () => {
    expect(complete('--url', '')).toEqual([])
    expect(complete('top', '--interval', '')).toEqual([])
  })
})

describe.skipIf(!has('fish'))('cachet completion fish', () => {
  const complete = (line: string) =>
    execFileSync('fish', ['--no-config', '-c', `source $argv[1]; complete -C '${line}'`, scripts.fish!])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((entry) => entry.split('\t')[0])

  it('completes subcommands with their descriptions, then their options and values', () => {
    expect(complete('cachet wa')).toEqual(['warmup'])
    expect(complete('cachet ')).toEqual(expect.arrayContaining(COMMANDS))
    expect(complete('cachet top --i')).toEqual(expect.arrayContaining(['--interval', '--iterations']))
    expect(complete('cachet completion ')).toEqual(['bash', 'fish', 'zsh'])
  })
})

describe.skipIf(!has('zsh'))('cachet completion zsh', () => {
  it('is valid zsh naming every command', () => {
    execFileSync('zsh', ['-n', scripts.zsh!])
    const text = execFileSync('cat', [scripts.zsh!]).toString()
    for (const command of COMMANDS) expect(text).toContain(`'${command}:`)
  })
})

it('refuses an unknown shell with a usage error', async () => {
  const { code, stderr } = await cachet(['completion', 'powershell'])
  expect(code).toBe(2)
  expect(stderr).toMatch(/Allowed choices are bash, zsh, fish/)
})
