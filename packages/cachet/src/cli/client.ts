/** Exit codes of the `cachet` command. */
export const EXIT = {
  ok: 0,
  /** The server answered with an error (4xx other than auth, 5xx), or reported itself unhealthy. */
  failed: 1,
  /** Bad arguments. */
  usage: 2,
  /** No answer from the server. */
  unreachable: 3,
  /** 401/403: missing or wrong admin token. */
  auth: 4,
} as const

/** A failure the CLI reports as one line on stderr and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

/** Where the server is and how to authenticate. */
export interface ClientOptions {
  url: string
  token?: string
  /** Per-request deadline in ms. @default 30000 */
  timeoutMs?: number
}

/** A parsed JSON answer and its status. */
export interface ApiResponse<T = any> {
  status: number
  body: T
}

/** Talks to a running server's admin API (mounted at /api/cache). */
export class AdminClient {
  readonly #base: string
  readonly #token?: string
  readonly #timeoutMs: number

  constructor(options: ClientOptions) {
    if (!URL.canParse(options.url) || !/^https?:$/.test(new URL(options.url).protocol)) {
      throw new CliError(`--url must be an http(s) URL, got ${JSON.stringify(options.url)}`, EXIT.usage)
    }
    this.#base = `${options.url.replace(/\/+$/, '')}/api/cache`
    this.#token = options.token
    this.#timeoutMs = options.timeoutMs ?? 30_000
  }

  /** Sends one request; throws CliError on no answer, on 401/403, and on any status not in `accept`. */
  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    accept: (status: number) => boolean = (status) => status < 400,
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(this.#base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (error) {
      // undici hides the reason (ECONNREFUSED, a timeout…) in `cause`, sometimes inside an AggregateError.
      const cause = (
        error as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }
      ).cause
      const reason = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message
      throw new CliError(
        `cannot reach the cachet server at ${this.#base} (${reason}); is it running? (--url / CACHET_URL)`,
        EXIT.unreachable,
      )
    }
    const parsed = await readJson(response)
    if (response.status === 401 || response.status === 403) {
      const hint = this.#token ? 'the admin token was refused' : 'no admin token given'
      throw new CliError(
        `${response.status} ${message(parsed, response.statusText)}: ${hint} (--token / CACHET_ADMIN_TOKEN)`,
        EXIT.auth,
      )
    }
    if (!accept(response.status)) {
      throw new CliError(`${response.status} ${message(parsed, response.statusText)}`, EXIT.failed)
    }
    return { status: response.status, body: parsed as T }
  }

  /** Follows a server-sent-events stream (GET); yields each event's name and parsed data. */
  async *events(path: string): AsyncGenerator<{ event: string; data: any }> {
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    let response: Response
    try {
      response = await fetch(this.#base + path, { headers })
    } catch (error) {
      throw new CliError(
        `cannot reach the cachet server at ${this.#base}: ${(error as Error).message}`,
        EXIT.unreachable,
      )
    }
    if (!response.ok || !response.body) {
      const parsed = await readJson(response)
      const code = response.status === 401 || response.status === 403 ? EXIT.auth : EXIT.failed
      throw new CliError(`${response.status} ${message(parsed, response.statusText)}`, code)
    }
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const raw = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: ?(.*)$/m.exec(raw)?.[1] ?? 'message'
        const data = raw
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n')
        if (data) yield { event, data: JSON.parse(data) }
        end = buffer.indexOf('\n\n')
      }
    }
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text()
  try {
    return JSON.parse(text)
  } catch {
    return { message: text.slice(0, 200) }
  }
}

function message(body: unknown, fallback: string): string {
  const b = body as { message?: string; error?: string } | null
  return b?.message || b?.error || fallback
}
