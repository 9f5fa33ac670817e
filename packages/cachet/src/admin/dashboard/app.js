// cachet dashboard: plain JS, no build step. Every server-provided string (key names, values, tags,
// error messages) is rendered with textContent, never innerHTML: key names are attacker-influenced
// (docs/reliability.md S14). The admin token travels as a bearer header only, so there is no cookie
// to forge (no CSRF).

import { renderTrends } from './charts.js'

const API = document.querySelector('meta[name="cachet-api"]').content
const TOKEN_KEY = 'cachet.adminToken'
const REFRESH_MS = 5000
const PAGE_SIZE = 50

const $ = (id) => document.getElementById(id)
const state = { cursor: '0', pattern: '*', clearPattern: undefined, timer: undefined, auditCursor: undefined }

/** Builds an element; string children become text nodes, never markup. */
function el(tag, props, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(props || {})) {
    if (name === 'className') node.className = value
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value)
    else node.setAttribute(name, String(value))
  }
  for (const child of children) {
    if (child === undefined || child === null) continue
    node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return node
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || ''
}

function showMessage(text, kind) {
  const box = $('message')
  box.textContent = text
  box.className = kind === 'info' ? 'message info' : 'message'
  box.hidden = !text
}

/** Calls the admin API; resolves the parsed body, throws an Error carrying the server's message. */
async function api(method, path, body) {
  const headers = { accept: 'application/json' }
  if (token()) headers.authorization = `Bearer ${token()}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
  })
  let data
  try {
    data = await response.json()
  } catch {
    data = {}
  }
  if (!response.ok && !(path === '/health' && response.status === 503)) {
    const reason = data.message || data.error || response.statusText
    const error = new Error(
      response.status === 401 ? `Not authorised (401): ${reason}` : `${response.status}: ${reason}`,
    )
    error.status = response.status
    throw error
  }
  return data
}

// ---- formatting -------------------------------------------------------------------------------

function fmtNumber(value) {
  return typeof value === 'number' ? value.toLocaleString('en-US') : value === undefined ? '—' : String(value)
}

function fmtPercent(value) {
  if (typeof value === 'string') return value
  if (typeof value !== 'number') return '—'
  // The engine reports a 0..1 fraction; the admin API's original figures are percentages.
  return `${(value <= 1 ? value * 100 : value).toFixed(1)}%`
}

function fmtMs(value) {
  return typeof value === 'number'
    ? `${value.toFixed(value < 10 ? 2 : 0)} ms`
    : value === undefined
      ? '—'
      : String(value)
}

function fmtBytes(value) {
  if (typeof value === 'string') return value
  if (typeof value !== 'number') return '—'
  const units = ['B', 'KB', 'MB', 'GB']
  let n = value
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`
}

function fmtSpan(ms) {
  const s = Math.round(ms / 1000)
  if (s >= 86400) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  return s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`
}

/**
 * What a key's lifetime means to a reader: how long it stays fresh, then how long it is still served
 * stale (its Redis TTL includes that grace), or, for a tombstone, how long it keeps refusing late writes.
 */
function fmtLifetime(item) {
  const ms = item.ttlMs ?? (typeof item.ttl === 'number' && item.ttl >= 0 ? item.ttl * 1000 : undefined)
  if (item.state === 'tombstone') {
    return `tombstone (invalidated)${ms === undefined ? '' : ` · refuses late writes for ${fmtSpan(ms)}`}`
  }
  if (typeof item.freshForMs === 'number' && typeof item.staleForMs === 'number') {
    const stale = `stale until ${fmtSpan(item.staleForMs)}`
    return item.freshForMs > 0 ? `fresh for ${fmtSpan(item.freshForMs)} · ${stale}` : `stale now · ${stale}`
  }
  if (ms === undefined) return item.ttl === -1 ? 'no ttl' : '—'
  return `ttl ${fmtSpan(ms)}`
}

/** First defined value among several field names (the API's shape may carry either). */
function pick(obj, ...names) {
  for (const name of names) {
    const value = name.split('.').reduce((o, part) => (o == null ? undefined : o[part]), obj)
    if (value !== undefined && value !== null) return value
  }
  return undefined
}

// ---- health and stats -------------------------------------------------------------------------

async function refreshHealth() {
  const badge = $('health')
  try {
    const body = await api('GET', '/health')
    const status = body.status || 'unknown'
    badge.textContent = `health: ${status}`
    badge.className = `badge badge-${status}`
    const reasons = body.reasons
    badge.title = Array.isArray(reasons) ? reasons.join('; ') : ''
  } catch (error) {
    badge.textContent = 'health: unreachable'
    badge.className = 'badge badge-unhealthy'
    badge.title = error.message
  }
}

function card(label, value) {
  return el(
    'div',
    { className: 'card' },
    el('div', { className: 'label' }, label),
    el('div', { className: 'value' }, value),
  )
}

async function refreshStats() {
  if (!token()) return
  const body = await api('GET', '/stats')
  const d = body.data || body.stats || body
  const cards = $('stats')
  cards.replaceChildren(
    card('hit rate', fmtPercent(pick(d, 'cache.hitRate', 'hitRate'))),
    card('hits', fmtNumber(pick(d, 'cache.hits', 'hits'))),
    card('misses', fmtNumber(pick(d, 'cache.misses', 'misses'))),
    card('stale hits', fmtNumber(pick(d, 'cache.staleHits', 'staleHits'))),
    card('errors', fmtNumber(pick(d, 'cache.errors', 'errors'))),
    card('keys', fmtNumber(pick(d, 'keyCount', 'redis.keyCount', 'keys'))),
    card('memory', fmtBytes(pick(d, 'memory', 'redis.memory', 'redis.usedMemory'))),
    card('loader avg', fmtMs(pick(d, 'cache.loaderMs', 'loaderMs'))),
    card('cache avg', fmtMs(pick(d, 'cache.cacheMs', 'cacheMs'))),
  )
  renderNamespaces(pick(d, 'namespaces', 'cache.namespaces'))
  $('stats-updated').textContent = `updated ${new Date().toLocaleTimeString()}`
}

/**
 * The trend charts: every live instance's history (GET /history?instance=all; instances share it
 * through Redis), all drawn together or the one picked in the selector. The line above names the
 * instance that answered, since behind a load balancer each poll may reach another one.
 */
async function refreshHistory() {
  if (!token()) return
  const history = (await api('GET', '/history?instance=all')).data
  const picker = $('trends-instance')
  const wanted = picker.value || 'all'
  const options = [el('option', { value: 'all' }, `every instance (${history.series.length})`)]
  for (const series of history.series) {
    options.push(
      el(
        'option',
        { value: series.instance },
        series.self ? `${series.instance} (answered)` : series.instance,
      ),
    )
  }
  picker.replaceChildren(...options)
  const shown = history.series.filter((series) => wanted === 'all' || series.instance === wanted)
  // An instance that stopped publishing drops out of the list: show every instance instead.
  picker.value = shown.length > 0 ? wanted : 'all'
  const drawn = shown.length > 0 ? shown : history.series
  const points = drawn.reduce((sum, series) => sum + series.points.length, 0)
  $('trends-info').textContent =
    `answered by instance ${history.instance} · ${history.series.length} instance(s)` +
    `${history.shared ? '' : ' (history not shared: no Redis client)'} · ` +
    `a point every ${history.intervalMs / 1000} s · ${points} point(s)`
  renderTrends($('trends'), drawn)
}

/**
 * The write-behinds the admin API was given (GET /write-behind): per write-behind its status, the
 * backlog not yet in the database and the age of its oldest entry, flushes and failures, dead letters,
 * and how durable its journal is. The section stays hidden when there is none.
 */
async function refreshWriteBehind() {
  if (!token()) return
  let list
  try {
    list = (await api('GET', '/write-behind')).data.writeBehinds
  } catch (error) {
    // An admin API without the route (an older server) has nothing to show.
    if (error.status === 404) list = []
    else throw error
  }
  $('write-behind-section').hidden = list.length === 0
  $('write-behind').replaceChildren(...list.map(writeBehindBlock))
  $('write-behind-updated').textContent = list.length ? `updated ${new Date().toLocaleTimeString()}` : ''
}

function fmtAge(ms) {
  if (typeof ms !== 'number') return '—'
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : fmtSpan(ms)
}

function fmtJournal(journal) {
  if (!journal || journal.appendfsync === 'unknown') return 'unknown'
  return `${journal.aof ? 'AOF' : 'no AOF'} · fsync ${journal.appendfsync} · ${journal.maxmemoryPolicy}`
}

function figureCard(name, label, value, bad) {
  const node = card(label, value)
  node.setAttribute('data-figure', name)
  if (bad) node.className = 'card bad'
  return node
}

function writeBehindBlock(wb) {
  const notes = [...(wb.reasons || [])]
  if (wb.lastError) notes.push(`last error: ${wb.lastError}`)
  return el(
    'div',
    { className: 'write-behind', 'data-name': wb.name },
    el(
      'h3',
      {},
      el('span', { className: 'name' }, wb.name),
      ' ',
      el('span', { className: `badge badge-${wb.status}` }, wb.status),
    ),
    el(
      'div',
      { className: 'cards' },
      figureCard('backlog', 'backlog', fmtNumber(wb.backlog ?? undefined)),
      figureCard('backlogAge', 'oldest entry', fmtAge(wb.backlogAgeMs ?? undefined)),
      figureCard(
        'flushRate',
        'flushed / s',
        typeof wb.flushRate === 'number' ? wb.flushRate.toFixed(1) : '—',
      ),
      figureCard('flushed', 'flushed', fmtNumber(wb.flushed ?? undefined)),
      figureCard('failures', 'failures', fmtNumber(wb.failures ?? undefined), wb.failures > 0),
      figureCard(
        'deadLettered',
        'dead letters',
        fmtNumber(wb.deadLettered ?? undefined),
        wb.deadLettered > 0,
      ),
      figureCard(
        'journal',
        'journal',
        fmtJournal(wb.journal),
        !wb.journal?.aof || wb.journal.maxmemoryPolicy !== 'noeviction',
      ),
    ),
    notes.length ? el('p', { className: 'muted notes' }, notes.join(' · ')) : undefined,
  )
}

function renderNamespaces(namespaces) {
  const table = $('namespaces')
  const rows = namespaces && typeof namespaces === 'object' ? Object.entries(namespaces) : []
  table.hidden = rows.length === 0
  table.tBodies[0].replaceChildren(
    ...rows.map(([name, n]) =>
      el(
        'tr',
        {},
        el('td', {}, name),
        el('td', {}, fmtNumber(n.hits)),
        el('td', {}, fmtNumber(n.misses)),
        el('td', {}, fmtPercent(n.hitRate)),
        el('td', {}, fmtNumber(pick(n, 'keys', 'keyCount'))),
        el('td', {}, fmtBytes(pick(n, 'memory', 'bytes'))),
      ),
    ),
  )
}

// ---- key browser ------------------------------------------------------------------------------

async function loadKeys(reset) {
  if (reset) state.cursor = '0'
  const query = new URLSearchParams({
    pattern: state.pattern,
    limit: String(PAGE_SIZE),
    cursor: state.cursor,
  })
  const body = await api('GET', `/keys?${query}`)
  const d = body.data || body
  const keys = d.keys || []
  const next = pick(d, 'pagination.nextCursor', 'cursor', 'nextCursor')
  const hasMore = pick(d, 'pagination.hasMore') ?? (next !== undefined && String(next) !== '0')
  state.cursor = hasMore ? String(next) : '0'
  $('keys-next').disabled = !hasMore
  $('keys-empty').hidden = keys.length > 0
  $('keys').tBodies[0].replaceChildren(...keys.map(keyRow))
}

function keyRow(item) {
  const key = typeof item === 'string' ? item : item.key
  return el(
    'tr',
    {},
    el('td', { className: 'key' }, key),
    el('td', {}, item.type || '—'),
    el('td', { className: 'lifetime' }, fmtLifetime(item)),
    el('td', {}, fmtBytes(pick(item, 'size', 'bytes'))),
    el(
      'td',
      {},
      el('button', { type: 'button', onclick: () => run(() => inspectKey(key)) }, 'Inspect'),
      ' ',
      el(
        'button',
        { type: 'button', className: 'danger', onclick: () => run(() => deleteKey(key)) },
        'Delete',
      ),
    ),
  )
}

async function inspectKey(key) {
  const body = await api('GET', `/keys/${encodeURIComponent(key)}`)
  const d = body.data || body
  $('inspect-key').textContent = key
  const meta = [
    ['state', d.state],
    ['type', d.type],
    ['lifetime', fmtLifetime(d)],
    ['tags', Array.isArray(d.tags) ? d.tags.join(', ') || '—' : '—'],
    ['stored', `${fmtBytes(pick(d, 'storedBytes', 'size'))}${d.compressed ? ' (compressed)' : ''}`],
    ['created', d.createdAt ? new Date(d.createdAt).toISOString() : '—'],
  ]
  $('inspect-meta').replaceChildren(
    ...meta.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value ?? '—')]),
  )
  // Large values come back as a truncated JSON preview instead of the value itself.
  $('inspect-value').textContent = d.valueHidden
    ? '(value hidden: this token is read-only)'
    : d.truncated
      ? `${d.preview}… (truncated)`
      : (JSON.stringify(d.value, null, 2) ?? 'undefined')
  $('inspect').hidden = false
}

async function deleteKey(key) {
  await api('DELETE', `/keys/${encodeURIComponent(key)}`)
  showMessage(`Deleted ${key}`, 'info')
  await loadKeys(true)
}

// ---- clear (dry run first) --------------------------------------------------------------------

async function previewClear(pattern) {
  const body = await api('POST', '/clear', { pattern, dryRun: true })
  const count = pick(body, 'stats.keysMatched', 'data.count') ?? 0
  const sample = pick(body, 'details.sample', 'data.sample') || []
  state.clearPattern = pattern
  $('clear-count').textContent = `${count} key(s) match ${pattern}`
  $('clear-sample').replaceChildren(...sample.map((key) => el('li', {}, key)))
  $('clear-confirm').textContent = `Delete ${count} key(s)`
  $('clear-confirm').disabled = count === 0
  $('clear-preview').hidden = false
}

async function confirmClear() {
  const pattern = state.clearPattern
  const body = await api('POST', '/clear', { pattern, confirm: true })
  const d = body.stats || body.data || body
  $('clear-preview').hidden = true
  showMessage(`Cleared ${fmtNumber(pick(d, 'keysDeleted', 'count'))} key(s) for ${pattern}`, 'info')
  await Promise.all([loadKeys(true), refreshStats()])
}

// ---- warm-up ----------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One bar per module of a job: full when done (or failed), moving while it runs, empty while it waits. */
function renderModuleProgress(job) {
  const results = new Map(job.results.map((result) => [result.module, result]))
  $('warmup-modules-progress').replaceChildren(
    ...job.modules.map((module) => {
      const result = results.get(module)
      const running = job.current && job.current.module === module
      const bar = el('progress', { max: '1' })
      // A <progress> without a value is indeterminate: the module's total is not known beforehand.
      if (result) bar.value = 1
      else if (!running) bar.value = 0
      const label = result
        ? result.ok
          ? `done, ${result.keys} key(s) in ${fmtMs(result.durationMs)}`
          : `failed: ${result.error}`
        : running
          ? `${job.current.keys} key(s)…`
          : 'waiting'
      return el(
        'li',
        { className: result && !result.ok ? 'failed' : '', 'data-module': module },
        el('span', { className: 'module' }, module),
        bar,
        el('span', { className: 'label' }, label),
      )
    }),
  )
}

/** Starts a warm-up job and follows it by polling (EventSource cannot send the bearer header). */
async function warmup(modules, force) {
  const bar = $('warmup-progress')
  const result = $('warmup-result')
  bar.hidden = false
  bar.value = 0
  result.textContent = 'starting…'
  const started = await api('POST', '/warmup', {
    modules: modules.length ? modules : undefined,
    force,
    wait: false,
  })
  const jobId = started.data.jobId
  let state
  do {
    await sleep(300)
    state = (await api('GET', `/warmup/${encodeURIComponent(jobId)}`)).data
    bar.max = Math.max(1, state.modules.length)
    bar.value = state.results.length
    renderModuleProgress(state)
    result.textContent = state.current
      ? `warming ${state.current.module}: ${state.current.keys} key(s)…`
      : `${state.results.length}/${state.modules.length} module(s) done`
  } while (state.status === 'running')
  bar.value = bar.max
  const failed = state.results.filter((r) => !r.ok).map((r) => `${r.module} (${r.error})`)
  result.textContent =
    `${state.status}: warmed ${state.modulesWarmed.join(', ') || 'nothing'}, ${state.keysCreated} key(s) created, ` +
    `${state.errors} error(s) in ${(state.durationMs / 1000).toFixed(1)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`
}

// ---- audit trail ------------------------------------------------------------------------------

async function loadAudit(reset) {
  if (reset) state.auditCursor = undefined
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) })
  if (state.auditCursor) query.set('cursor', state.auditCursor)
  for (const [name, id] of [
    ['who', 'audit-who'],
    ['action', 'audit-action'],
    ['outcome', 'audit-outcome'],
  ]) {
    const value = $(id).value.trim()
    if (value) query.set(name, value)
  }
  const d = (await api('GET', `/audit?${query}`)).data
  state.auditCursor = d.pagination.nextCursor || undefined
  $('audit-older').disabled = !d.pagination.hasMore
  $('audit-empty').hidden = d.records.length > 0
  $('audit').tBodies[0].replaceChildren(...d.records.map(auditRow))
}

/**
 * What a record was about: its reason, else its parameters, with a denial's repeat count. Bidi
 * controls (a key may hold U+202E) are shown as escapes so they cannot reorder the line.
 */
function auditDetails(record) {
  const text = (record.reason ?? JSON.stringify(record.params ?? {})).replace(
    /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  return record.count > 1 ? `×${record.count} · ${text}` : text
}

function auditRow(record) {
  return el(
    'tr',
    { className: `outcome-${record.outcome}` },
    el('td', {}, new Date(record.at).toISOString().replace('T', ' ').slice(0, 19)),
    el(
      'td',
      { className: 'who' },
      el(
        'button',
        {
          type: 'button',
          className: 'link',
          title: 'show only this caller',
          onclick: () => {
            $('audit-who').value = record.who
            run(() => loadAudit(true))
          },
        },
        record.who,
      ),
    ),
    el('td', {}, record.ip),
    el('td', {}, record.action),
    el('td', { className: 'outcome' }, record.outcome),
    el('td', {}, record.status),
    el('td', {}, fmtNumber(record.keysAffected)),
    el('td', { className: 'details' }, auditDetails(record)),
  )
}

// ---- wiring -----------------------------------------------------------------------------------

/** Runs an action and shows its failure in the message box instead of an unhandled rejection. */
async function run(action) {
  try {
    showMessage('')
    await action()
  } catch (error) {
    showMessage(error.message)
    if (error.status === 401) stopRefresh()
  }
}

function stopRefresh() {
  clearInterval(state.timer)
  state.timer = undefined
}

function startRefresh() {
  stopRefresh()
  state.timer = setInterval(
    () => run(() => Promise.all([refreshStats(), refreshHistory(), refreshWriteBehind()])),
    REFRESH_MS,
  )
}

function connect() {
  $('token').value = ''
  $('token').placeholder = token() ? 'token saved for this tab' : 'paste the admin token'
  if (!token()) return
  run(async () => {
    await Promise.all([
      refreshStats(),
      refreshHistory(),
      refreshWriteBehind(),
      loadKeys(true),
      loadAudit(true),
    ])
    startRefresh()
  })
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const value = $('token').value.trim()
  if (value) sessionStorage.setItem(TOKEN_KEY, value)
  connect()
})
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY)
  stopRefresh()
  $('stats').replaceChildren()
  $('write-behind').replaceChildren()
  $('write-behind-section').hidden = true
  $('keys').tBodies[0].replaceChildren()
  connect()
})
$('keys-form').addEventListener('submit', (event) => {
  event.preventDefault()
  state.pattern = $('keys-pattern').value.trim() || '*'
  run(() => loadKeys(true))
})
$('keys-next').addEventListener('click', () => run(() => loadKeys(false)))
$('trends-instance').addEventListener('change', () => run(refreshHistory))
$('audit-form').addEventListener('submit', (event) => {
  event.preventDefault()
  run(() => loadAudit(true))
})
$('audit-older').addEventListener('click', () => run(() => loadAudit(false)))
$('clear-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const pattern = $('clear-pattern').value.trim()
  if (!pattern) return showMessage('Enter a pattern to clear (e.g. search:*); * clears everything.')
  run(() => previewClear(pattern))
})
$('clear-confirm').addEventListener('click', () => run(confirmClear))
$('clear-cancel').addEventListener('click', () => {
  $('clear-preview').hidden = true
})
$('warmup-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const modules = $('warmup-modules')
    .value.split(',')
    .map((m) => m.trim())
    .filter(Boolean)
  run(() => warmup(modules, $('warmup-force').checked))
})

// Health is public: it refreshes with or without a token.
refreshHealth()
setInterval(refreshHealth, REFRESH_MS)
connect()
