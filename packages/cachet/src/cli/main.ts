import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { AdminClient, CliError, EXIT } from './client.js'
import { clearCommand } from './commands/clear.js'
import { healthCommand } from './commands/health.js'
import { inspectCommand } from './commands/inspect.js'
import { invalidateCommand } from './commands/invalidate.js'
import { keysCommand } from './commands/keys.js'
import { statsCommand } from './commands/stats.js'
import { topCommand } from './commands/top.js'
import { warmupCommand } from './commands/warmup.js'
import { completionScript, SHELLS, type Shell } from './completion.js'
import type { CommandContext } from './context.js'
import { type Output, processOutput } from './output.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

function positiveNumber(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) {
    throw new InvalidArgumentError('must be a number of seconds from 0.1 to 3600')
  }
  return n
}

function positiveInteger(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1')
  return n
}

function instanceId(value: string): string {
  if (!/^[0-9a-f]{8}$/.test(value)) throw new InvalidArgumentError('must be an instance id (8 hex digits)')
  return value
}

/** Builds the `cachet` program; `exit` receives the exit code of the command that ran. */
export function createProgram(output: Output, exit: (code: number) => void): Command {
  const program = new Command('cachet')
    .description('cachet: steer a running cache through its admin API')
    .addOption(new Option('--url <url>', 'server URL').env('CACHET_URL').default('http://127.0.0.1:3000'))
    .addOption(new Option('--token <token>', 'admin bearer token').env('CACHET_ADMIN_TOKEN'))
    .option('--json', 'print the raw JSON answer (for scripts)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })

  // Wraps an admin command: builds its context from the global options and records its exit code.
  const admin =
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      const command = args[args.length - 1] as Command
      const globals = command.optsWithGlobals<{ url: string; token?: string; json?: boolean }>()
      const client = new AdminClient({ url: globals.url, token: globals.token })
      // Commands that can fail softly (health, warmup) resolve their exit code; the others resolve nothing.
      const result = await fn({ client, output, json: Boolean(globals.json) }, ...args)
      exit(typeof result === 'number' ? result : EXIT.ok)
    }

  program
    .command('stats')
    .description('hit rate, hits/misses, memory, keys, loader vs cache time')
    .action(admin((ctx) => statsCommand(ctx)))

  program
    .command('top')
    .description(
      'live view of the dashboard charts: hit rate, ops/s, latency, memory, circuit (Ctrl-C to stop)',
    )
    .option('-i, --interval <seconds>', 'seconds between refreshes', positiveNumber, 2)
    .option('-n, --iterations <n>', 'stop after n refreshes', positiveInteger)
    .option(
      '--instance <id>',
      "another instance's history (its id, from health), through this server",
      instanceId,
    )
    .action(admin((ctx, options) => topCommand(ctx, options)))

  program
    .command('health')
    .description('health of the cache and Redis (exit 1 when unhealthy)')
    .action(admin((ctx) => healthCommand(ctx)))

  program
    .command('keys')
    .description('list keys (SCAN on the server), relative to the cache prefix')
    .argument('[pattern]', 'glob pattern', '*')
    .option('-n, --limit <n>', 'keys per page (max 100)', (v) => Number.parseInt(v, 10), 100)
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--all', 'follow the cursor to the end')
    .action(admin((ctx, pattern: string, options) => keysCommand(ctx, pattern, options)))

  program
    .command('inspect')
    .description("one key's decoded value, state, tags, ttl and size")
    .argument('<key>', 'key, relative to the cache prefix (e.g. dashboard:abc…)')
    .action(admin((ctx, key: string) => inspectCommand(ctx, key)))

  program
    .command('clear')
    .description('delete keys matching a pattern (everything when omitted), after a dry-run preview')
    .argument('[pattern]', 'glob pattern, e.g. search:*')
    .option('--dry-run', 'only count and show a sample')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(admin((ctx, pattern: string | undefined, options) => clearCommand(ctx, pattern, options)))

  program
    .command('invalidate')
    .description('invalidate by tag, key or pattern (each flag may repeat)')
    .option('--tag <tag>', 'a tag', collect)
    .option('--key <key>', 'a key', collect)
    .option('--pattern <pattern>', 'a glob pattern', collect)
    .option('--expire', "keep the tags' entries as stale fail-safe copies (soft purge)")
    .option('--dry-run', 'only count')
    .action(admin((ctx, options) => invalidateCommand(ctx, options)))

  program
    .command('warmup')
    .description('run warm-up modules (all when none given), with a progress bar')
    .argument('[modules...]', 'module names, e.g. config dashboard')
    .option('-f, --force', 'overwrite entries that are already cached')
    .action(admin((ctx, modules: string[], options) => warmupCommand(ctx, modules, options)))

  program
    .command('completion')
    .description('print a shell completion script: source <(cachet completion bash)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .action((shell: Shell) => {
      output.out(completionScript(program, shell).trimEnd())
      exit(EXIT.ok)
    })

  return program
}

/** Runs the CLI on `argv` and resolves its exit code (it never calls process.exit itself). */
export async function run(argv: string[], output: Output = processOutput): Promise<number> {
  let code: number = EXIT.ok
  const program = createProgram(output, (c) => {
    code = c
  })
  try {
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage
    if (error instanceof CliError) {
      output.err(`cachet: ${error.message}`)
      return error.exitCode
    }
    output.err(`cachet: ${(error as Error).message}`)
    return EXIT.failed
  }
}

process.exitCode = await run(process.argv.slice(2))
