import type { Command, Option } from 'commander'

/** The shells `cachet completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** What completion needs of one command: its name, description, options and the values its argument takes. */
interface CommandSpec {
  name: string
  description: string
  options: Option[]
  /** Fixed values of its first argument (commander `.choices()`), e.g. the shells of `completion`. */
  choices: string[]
}

function specs(program: Command): { globals: Option[]; commands: CommandSpec[] } {
  return {
    globals: program.options.filter((option) => !option.hidden),
    commands: program.commands.map((command) => ({
      name: command.name(),
      description: command.description(),
      options: command.options.filter((option) => !option.hidden),
      choices: [...(command.registeredArguments[0]?.argChoices ?? [])],
    })),
  }
}

const flags = (options: Option[]) => [
  ...new Set(
    options.flatMap((option) => [option.short, option.long].filter((flag): flag is string => Boolean(flag))),
  ),
]
/** Options followed by a value (`--url <url>`): the word after one is that value, not a command. */
const valued = (options: Option[]) => flags(options.filter((option) => option.required || option.optional))

/** Completes commands, then each command's options (and the fixed values of its argument). */
function bash(program: Command): string {
  const { globals, commands } = specs(program)
  const cases = commands
    .map((c) => `    ${c.name}) words="${[...flags(c.options), ...c.choices, '--help'].join(' ')}" ;;`)
    .join('\n')
  return `# cachet completion for bash. Load it with: source <(cachet completion bash)
_cachet_completion() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" command="" words i
  # An option that takes a value: complete nothing of ours (let the value be typed).
  case "$prev" in
    ${[...new Set([...valued(globals), ...commands.flatMap((c) => valued(c.options))])].join('|') || '--'}) return 0 ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${valued(globals).join('|') || '--'}) ((i++)) ;;
      -*) ;;
      *) command="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$command" in
    "") words="${[...commands.map((c) => c.name), ...flags(globals), '--help'].join(' ')}" ;;
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _cachet_completion cachet
`
}

const zshQuote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`
const zshOption = (option: Option) => {
  const description = option.description.replaceAll('[', '(').replaceAll(']', ')')
  const value = option.required || option.optional ? ':value:' : ''
  const names = flags([option])
  const spec = names.length > 1 ? `{${names.join(',')}}` : names[0]!
  return names.length > 1
    ? `'(${names.join(' ')})'${spec}${zshQuote(`[${description}]${value}`)}`
    : zshQuote(`${spec}[${description}]${value}`)
}

const HELP_ZSH = "'--help[display help]'"

/** Completes commands with their descriptions, then each command's options. */
function zsh(program: Command): string {
  const { globals, commands } = specs(program)
  const described = commands
    .map((c) => `    ${zshQuote(`${c.name}:${c.description.replaceAll(':', '\\:')}`)}`)
    .join('\n')
  const cases = commands
    .map((c) => {
      const options = c.options.map(zshOption)
      const argument = c.choices.length > 0 ? [`'1:${c.name}:(${c.choices.join(' ')})'`] : []
      return `        ${c.name}) _arguments ${[...options, HELP_ZSH, ...argument].join(' ')} ;;`
    })
    .join('\n')
  return `#compdef cachet
# cachet completion for zsh. Load it with: source <(cachet completion zsh)
# (or save it as _cachet in a directory of $fpath).
_cachet() {
  local -a commands
  commands=(
${described}
  )
  _arguments -C ${[...globals.map(zshOption), HELP_ZSH].join(' ')} '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe 'cachet command' commands ;;
    argument)
      case $words[1] in
${cases}
      esac ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _cachet "$@"; else compdef _cachet cachet; fi
`
}

const fishQuote = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
const fishOption = (option: Option, condition?: string) => {
  const parts = ['complete -c cachet']
  if (condition) parts.push(condition)
  if (option.short) parts.push(`-s ${option.short.slice(1)}`)
  if (option.long) parts.push(`-l ${option.long.slice(2)}`)
  if (option.required || option.optional) parts.push('-r')
  parts.push(`-d ${fishQuote(option.description)}`)
  return parts.join(' ')
}

/** Completes commands with their descriptions, then each command's options and argument values. */
function fish(program: Command): string {
  const { globals, commands } = specs(program)
  const names = commands.map((c) => c.name).join(' ')
  const lines = [
    '# cachet completion for fish. Load it with: cachet completion fish | source',
    '# (or save it as ~/.config/fish/completions/cachet.fish).',
    'complete -c cachet -f',
    "complete -c cachet -l help -d 'display help'",
    ...globals.map((option) => fishOption(option)),
    ...commands.map(
      (c) =>
        `complete -c cachet -n "not __fish_seen_subcommand_from ${names}" -a ${c.name} -d ${fishQuote(c.description)}`,
    ),
    ...commands.flatMap((c) => {
      const when = `-n "__fish_seen_subcommand_from ${c.name}"`
      return [
        ...c.options.map((option) => fishOption(option, when)),
        ...(c.choices.length > 0 ? [`complete -c cachet ${when} -a '${c.choices.join(' ')}'`] : []),
      ]
    }),
  ]
  return `${lines.join('\n')}\n`
}

/** The completion script of `program` (its commands and options, as declared) for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  return { bash, zsh, fish }[shell](program)
}
