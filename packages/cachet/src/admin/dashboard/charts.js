// Trend charts of GET /history, drawn with uPlot (vendor/uplot.js, a classic script that defines the
// global `uPlot` before the modules run). Each chart keeps its uPlot instance on its element
// (`.uplot`), so a test can read the data it draws.

const MB = 1024 * 1024
const TREND_CHARTS = [
  {
    id: 'chart-hit-rate',
    title: 'Hit rate (%)',
    // A fixed 0-100 axis: autoscaled, 49.4 % to 49.8 % would look like a swing.
    yRange: [0, 100],
    series: [
      { label: 'hit rate', stroke: '#14804a', value: (p) => (p.hitRate === null ? null : p.hitRate * 100) },
    ],
  },
  {
    id: 'chart-ops',
    title: 'Operations per second',
    series: [
      { label: 'hit', stroke: '#14804a', value: (p) => p.opsPerSecond.hit },
      { label: 'miss', stroke: '#2f6fdf', value: (p) => p.opsPerSecond.miss },
      { label: 'stale', stroke: '#b25e09', value: (p) => p.opsPerSecond.stale },
      { label: 'error', stroke: '#c0262d', value: (p) => p.opsPerSecond.error },
    ],
  },
  {
    id: 'chart-latency',
    title: 'Latency (ms)',
    series: [
      { label: 'read p50', stroke: '#14804a', value: (p) => p.readMs?.p50 ?? null },
      { label: 'read p99', stroke: '#7ccf9f', value: (p) => p.readMs?.p99 ?? null },
      { label: 'loader p50', stroke: '#2f6fdf', value: (p) => p.loaderMs?.p50 ?? null },
      { label: 'loader p99', stroke: '#9bb9f0', value: (p) => p.loaderMs?.p99 ?? null },
    ],
  },
  {
    id: 'chart-memory',
    title: 'Memory (MB)',
    series: [
      { label: 'L1', stroke: '#6941c6', value: (p) => (p.l1Bytes === null ? null : p.l1Bytes / MB) },
      {
        label: 'Redis',
        stroke: '#c11574',
        value: (p) => (p.redisMemoryBytes === null ? null : p.redisMemoryBytes / MB),
      },
    ],
  },
  {
    id: 'chart-l2',
    title: 'L2 errors per interval · circuit (0 closed, 1 half-open, 2 open)',
    series: [
      { label: 'L2 errors', stroke: '#c0262d', value: (p) => p.l2Errors },
      { label: 'circuit', stroke: '#1d232a', value: (p) => p.circuit },
    ],
  },
]
const trendCharts = new Map()

function chartOptions(spec, width) {
  return {
    width,
    height: 170,
    scales: { x: { time: true }, ...(spec.yRange ? { y: { range: spec.yRange } } : {}) },
    series: [{}, ...spec.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5 }))],
    axes: [{}, { size: 56 }],
  }
}

/** Draws (or updates) every trend chart inside `container` from a GET /history answer. */
export function renderTrends(container, history) {
  const points = history.points || []
  const xs = points.map((p) => p.at / 1000)
  for (const spec of TREND_CHARTS) {
    const data = [xs, ...spec.series.map((s) => points.map(s.value))]
    const chart = trendCharts.get(spec.id)
    if (chart) {
      chart.setData(data)
      continue
    }
    const figure = document.createElement('figure')
    figure.className = 'trend'
    const caption = document.createElement('figcaption')
    caption.textContent = spec.title
    const target = document.createElement('div')
    target.id = spec.id
    figure.append(caption, target)
    container.append(figure)
    const created = new globalThis.uPlot(
      chartOptions(spec, Math.max(280, figure.clientWidth - 8)),
      data,
      target,
    )
    target.uplot = created
    trendCharts.set(spec.id, created)
  }
}
