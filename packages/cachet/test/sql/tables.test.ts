import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/index.js'
import { tableName } from '../../src/sql/index.js'
import { type Analyser, analysers } from './helpers/analysers.js'

for (const analyser of analysers) describe(`tables found by ${analyser.name}`, () => tablesSuite(analyser))

function tablesSuite({ analyze }: Analyser) {
  const reads = (sql: string) => analyze(sql).reads.sort()
  const writes = (sql: string) => analyze(sql).writes.sort()
  const tables = (sql: string) => {
    const { reads, writes } = analyze(sql)
    return { reads, writes }
  }

  describe('tables read', () => {
    it('finds FROM and JOIN targets, with and without aliases', () => {
      expect(
        reads(`SELECT * FROM orders o
             JOIN order_items oi ON o.id = oi.order_id
             LEFT OUTER JOIN products AS p ON p.id = oi.product_id
             NATURAL JOIN customers`),
      ).toEqual(['customers', 'order_items', 'orders', 'products'])
    })

    it("seed 003's revenue query", () => {
      const sql = `SELECT DATE_TRUNC('day', o.created_at) AS day, p.category,
        PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY oi.quantity * oi.unit_price) AS p95
      FROM orders o JOIN order_items oi ON o.id = oi.order_id
      JOIN products p ON oi.product_id = p.id JOIN customers c ON o.customer_id = c.id
      WHERE o.created_at >= NOW() - INTERVAL '30 days' AND c.country IN ('US', 'CA', 'MX')
      GROUP BY DATE_TRUNC('day', o.created_at), p.category ORDER BY day DESC`
      expect(reads(sql)).toEqual(['customers', 'order_items', 'orders', 'products'])
    })

    it('finds every item of a comma list, including after a JOIN … ON', () => {
      expect(reads('SELECT * FROM a, b AS x (c1, c2), c JOIN d ON c.id = d.id, e WHERE a.id = 1')).toEqual([
        'a',
        'b',
        'c',
        'd',
        'e',
      ])
    })

    it('finds tables inside CTEs (drizzle #4677) and subqueries, and not the CTE names', () => {
      const sql = `WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day'),
                      top AS MATERIALIZED (SELECT customer_id FROM recent JOIN payments USING (order_id))
                 SELECT * FROM top, recent
                 WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = top.customer_id)
                   AND top.customer_id IN (SELECT id FROM (SELECT id FROM vip) v)`
      expect(reads(sql)).toEqual(['customers', 'orders', 'payments', 'vip'])
    })

    it('keeps a table that shares its name with a CTE where the CTE is not in scope', () => {
      // Inside a plain CTE's own body, its name is the real table.
      expect(reads('WITH orders AS (SELECT * FROM orders WHERE paid) SELECT * FROM orders')).toEqual([
        'orders',
      ])
      // A CTE in a subquery does not hide the table outside it.
      expect(reads('SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) s, t')).toEqual(['t'])
      // A schema-qualified name is never a CTE.
      expect(reads('WITH t AS (SELECT 1) SELECT * FROM t, public.t')).toEqual(['t'])
    })

    it('handles WITH RECURSIVE: the self-reference is the CTE, its base table is not', () => {
      const sql = `WITH RECURSIVE tree(id, parent) AS (
        SELECT id, parent FROM categories WHERE parent IS NULL
        UNION ALL SELECT c.id, c.parent FROM categories c JOIN tree ON c.parent = tree.id)
      SELECT * FROM tree`
      expect(reads(sql)).toEqual(['categories'])
    })

    it('uses the unqualified name of schema-qualified and quoted tables', () => {
      expect(
        reads('SELECT * FROM sales.orders JOIN "Audit"."Log" l ON true JOIN db.public.items i ON true'),
      ).toEqual(['Log', 'items', 'orders'])
    })

    it('ignores FROM inside EXTRACT, SUBSTRING, TRIM and IS DISTINCT FROM', () => {
      const sql = `SELECT EXTRACT(year FROM o.created_at), SUBSTRING(name FROM 2 FOR 3), TRIM(BOTH 'x' FROM code)
                 FROM orders o WHERE o.a IS DISTINCT FROM o.b AND o.c IS NOT DISTINCT FROM o.d`
      expect(reads(sql)).toEqual(['orders'])
    })

    it('adds no tag for functions, LATERAL subqueries or ROWS FROM, but sees the tables inside', () => {
      expect(reads('SELECT * FROM generate_series(1, 10) g')).toEqual([])
      expect(
        reads('SELECT * FROM users u, LATERAL (SELECT * FROM posts p WHERE p.user_id = u.id) x'),
      ).toEqual(['posts', 'users'])
      expect(reads('SELECT * FROM ROWS FROM (unnest(ARRAY[1]), unnest(ARRAY[2])) r')).toEqual([])
      expect(reads('SELECT * FROM a CROSS JOIN LATERAL unnest(a.tags) t')).toEqual(['a'])
    })

    it('stops a FROM list at WHERE, GROUP BY, ORDER BY, FOR UPDATE OF and friends', () => {
      expect(reads('SELECT * FROM a WHERE x IN (1, 2) GROUP BY a, b ORDER BY c, d')).toEqual(['a'])
      expect(reads('SELECT * FROM a FOR UPDATE OF a, b')).toEqual(['a'])
      expect(reads('SELECT a, b FROM t WINDOW w AS (PARTITION BY a), v AS (ORDER BY b)')).toEqual(['t'])
    })

    it('reads TABLE t, UNION branches, and scalar subqueries in the select list', () => {
      expect(reads('TABLE a UNION ALL TABLE b')).toEqual(['a', 'b'])
      expect(reads('SELECT (SELECT max(x) FROM m), y FROM n UNION SELECT 1, 2 FROM o')).toEqual([
        'm',
        'n',
        'o',
      ])
    })

    it('reads tables in every statement of a multi-statement text', () => {
      expect(reads('SELECT * FROM a; SELECT * FROM b')).toEqual(['a', 'b'])
    })

    it('does not see tables hidden in string literals, comments or dollar-quoted bodies', () => {
      expect(reads("SELECT 'FROM secret' FROM a -- FROM b\n /* JOIN c */")).toEqual(['a'])
      expect(reads('SELECT $$ FROM hidden $$ FROM a')).toEqual(['a'])
    })
  })

  describe('tables written', () => {
    it('INSERT INTO, UPDATE, DELETE FROM, with their read sources', () => {
      expect(tables('INSERT INTO orders (id, total) SELECT id, total FROM staging')).toEqual({
        reads: expect.arrayContaining(['orders', 'staging']),
        writes: ['orders'],
      })
      expect(
        writes('UPDATE ONLY public.orders o SET total = p.total FROM prices p WHERE p.id = o.id'),
      ).toEqual(['orders'])
      expect(reads('UPDATE orders SET a = 1, b = 2 FROM prices, taxes WHERE true')).toEqual([
        'orders',
        'prices',
        'taxes',
      ])
      expect(
        tables('DELETE FROM orders USING customers c, blocked b WHERE c.id = orders.customer_id'),
      ).toEqual({
        reads: expect.arrayContaining(['orders', 'customers', 'blocked']),
        writes: ['orders'],
      })
    })

    it('TRUNCATE lists, MERGE, COPY … FROM, REFRESH MATERIALIZED VIEW, ALTER and DROP TABLE', () => {
      expect(writes('TRUNCATE TABLE ONLY a, b *, c RESTART IDENTITY')).toEqual(['a', 'b', 'c'])
      expect(writes('TRUNCATE a')).toEqual(['a'])
      expect(
        tables('MERGE INTO stock s USING deliveries d ON s.id = d.id WHEN MATCHED THEN UPDATE SET n = 1'),
      ).toEqual({ reads: expect.arrayContaining(['stock', 'deliveries']), writes: ['stock'] })
      expect(writes('COPY orders (id, total) FROM STDIN')).toEqual(['orders'])
      expect(writes('COPY orders TO STDOUT')).toEqual([])
      expect(writes('REFRESH MATERIALIZED VIEW CONCURRENTLY revenue_daily')).toEqual(['revenue_daily'])
      expect(writes('ALTER TABLE IF EXISTS orders ADD COLUMN note text')).toEqual(['orders'])
      expect(writes('DROP TABLE IF EXISTS a, b CASCADE')).toEqual(['a', 'b'])
    })

    it('writes inside a data-modifying CTE', () => {
      expect(
        writes(
          'WITH moved AS (DELETE FROM inbox WHERE done RETURNING *) INSERT INTO archive SELECT * FROM moved',
        ),
      ).toEqual(['archive', 'inbox'])
      expect(writes('WITH x AS (SELECT 1) UPDATE t SET a = 1')).toEqual(['t'])
    })

    it('is not fooled by UPDATE / DELETE that are not statements', () => {
      expect(writes('SELECT * FROM t FOR UPDATE')).toEqual([])
      expect(writes('SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED')).toEqual([])
      expect(
        writes('INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET n = t.n + 1, m = 2'),
      ).toEqual(['t'])
      expect(
        reads('INSERT INTO t (id) SELECT id FROM s ON CONFLICT (id) DO UPDATE SET n = 1, m = 2'),
      ).toEqual(['s', 't'])
      expect(writes('CREATE TABLE c (p int REFERENCES p ON DELETE CASCADE ON UPDATE CASCADE)')).toEqual([])
      expect(
        writes('CREATE TRIGGER x BEFORE INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION f()'),
      ).toEqual([])
      expect(writes('GRANT SELECT, UPDATE, TRUNCATE ON t TO bob')).toEqual([])
    })

    it('EXPLAIN ANALYZE of a write is a write (it runs)', () => {
      expect(writes('EXPLAIN ANALYZE UPDATE t SET a = 1')).toEqual(['t'])
    })
  })
}

describe('tableName', () => {
  it('reads a name as SQL does', () => {
    expect(tableName('Orders')).toBe('orders')
    expect(tableName('"Orders"')).toBe('Orders')
    expect(tableName('sales.orders')).toBe('orders')
    expect(tableName(' public . "Line""Items" ')).toBe('Line"Items')
  })

  it('rejects what is not a name', () => {
    expect(() => tableName('orders; drop')).toThrow(InvalidOptionError)
    expect(() => tableName('')).toThrow(InvalidOptionError)
    expect(() => tableName("'orders'")).toThrow(InvalidOptionError)
  })
})
