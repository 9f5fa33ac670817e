/** Deterministic pseudo-random numbers (mulberry32), so every run stores the same bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const REGIONS = ['north', 'south', 'east', 'west', 'central']
const PRODUCTS = ['widget', 'gadget', 'gizmo', 'sprocket', 'doohickey', 'thingamajig', 'whatsit']
const STATUSES = ['paid', 'pending', 'refunded', 'shipped']

/** One report row, as a SQL query would return it. */
export interface ReportRow {
  id: number
  day: string
  region: string
  product: string
  qty: number
  unitPrice: number
  total: number
  status: string
}

/** `count` report rows of a sales report; 4,080 rows are about 530 KB of JSON. */
export function reportRows(count: number): ReportRow[] {
  const next = random(42)
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!
  const rows: ReportRow[] = []
  for (let id = 1; id <= count; id++) {
    const quantity = 1 + Math.floor(next() * 50)
    const unitPrice = Math.round(next() * 50_000) / 100
    const day = new Date(Date.UTC(2024, 0, 1) + Math.floor(next() * 365) * 86_400_000)
    rows.push({
      id,
      day: day.toISOString().slice(0, 10),
      region: pick(REGIONS),
      product: pick(PRODUCTS),
      qty: quantity,
      unitPrice,
      total: Math.round(quantity * unitPrice * 100) / 100,
      status: pick(STATUSES),
    })
  }
  return rows
}

/** A user profile of about 1 KB of JSON (below cachet's default 1 KiB compression threshold). */
export function profileValue() {
  return {
    id: 1234567,
    name: 'Ada Lovelace',
    email: 'ada.lovelace@example.com',
    roles: ['admin', 'editor', 'viewer'],
    createdAt: '2024-03-01T12:34:56.000Z',
    active: true,
    preferences: { theme: 'dark', language: 'en-GB', timezone: 'Europe/London', newsletter: false },
    address: { street: '12 Analytical Row', city: 'London', postcode: 'W1 1AA', country: 'GB' },
    stats: { logins: 4821, posts: 312, followers: 10873, following: 211, score: 98.6 },
    bio: 'Mathematician and writer, chiefly known for work on the proposed mechanical general-purpose computer, the Analytical Engine. First to recognise that the machine had applications beyond pure calculation, and to publish an algorithm meant to be carried out by it.',
    tags: ['math', 'computing', 'poetry', 'engines', 'notes', 'algorithms', 'history', 'science'],
    links: [
      { rel: 'self', href: 'https://example.com/users/1234567' },
      { rel: 'avatar', href: 'https://cdn.example.com/avatars/1234567.png' },
    ],
  }
}
