import { describe, expect, it } from 'vitest'
import type { ParsedSql } from '../../src/sql/parse-tree.js'
import { type CorpusQuery, corpus } from './corpus/queries.js'
import { analysers } from './helpers/analysers.js'

const sorted = (names: Iterable<string>) => [...new Set(names)].sort()
const verdictOf = ({ verdict }: ParsedSql): CorpusQuery['verdict'] =>
  verdict.cacheable ? 'cached' : verdict.effects ? 'mutation' : 'uncacheable'

/** What an analyser says of a corpus query, in the corpus's terms. */
function answer(analyze: (sql: string) => ParsedSql, sql: string) {
  const found = analyze(sql)
  return { reads: sorted(found.reads), writes: sorted(found.writes), verdict: verdictOf(found) }
}
const expected = (query: CorpusQuery) => ({
  reads: sorted([...query.reads, ...query.writes]),
  writes: sorted(query.writes),
  verdict: query.verdict,
})

const [parser, tokenizer] = analysers

describe('the corpus of real-world statements', () => {
  it('has at least 200 distinct statements', () => {
    expect(new Set(corpus.map((query) => query.sql)).size).toBe(corpus.length)
    expect(corpus.length).toBeGreaterThanOrEqual(200)
  })

  it.each(corpus)('libpg-query: $sql', (query) => {
    expect(answer(parser!.analyze, query.sql)).toEqual(expected(query))
  })

  it('the tokenizer fallback: how many it gets right (reported, not required)', () => {
    const wrong = corpus.filter((query) => {
      try {
        return JSON.stringify(answer(tokenizer!.analyze, query.sql)) !== JSON.stringify(expected(query))
      } catch {
        return true
      }
    })
    console.info(
      `tokenizer fallback: ${corpus.length - wrong.length}/${corpus.length} corpus statements right; wrong:\n` +
        wrong.map((query) => `  ${query.sql}`).join('\n'),
    )
    expect(wrong.length).toBeLessThan(corpus.length)
  })
})
