/**
 * `installChangeNotifier(db, { table, channel })`: the one documented way to make PostgreSQL
 * announce changes of a config table on a channel a `databaseSource` `notify` listens on.
 */
import type { Kysely } from 'kysely'
import { checkOptions, checks } from '../../core/option-checks'
import { requireOptional } from '../../core/optional'
import { SourceError } from '../source'
import { quoteIdentifier } from './database-listener'

/** Options of {@link installChangeNotifier}. */
export interface ChangeNotifierOptions {
  /** The table to watch, optionally schema-qualified (`'app.settings'`). Defaults to `'config'`. */
  readonly table?: string
  /** The channel to notify (the source's `notify.channel`). */
  readonly channel: string
  /** The column whose value is sent as the payload (the changed key). Defaults to `'key'`. */
  readonly keyColumn?: string
}

/** The trigger function every notifier shares (created or replaced by {@link installChangeNotifier}). */
export const CHANGE_NOTIFIER_FUNCTION = 'tributary_notify_change'

interface KyselyModule {
  sql: { raw(sql: string): { execute(db: Kysely<never>): Promise<unknown> } }
}

const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`

/**
 * Installs (or replaces) triggers on `table` that `NOTIFY channel` after every insert, update
 * and delete (the payload is the row's `keyColumn` value) and every truncate (an empty
 * payload), in one transaction. PostgreSQL only; idempotent; the triggers are named
 * `tributary_notify_<channel>` and `tributary_notify_<channel>_truncate`, and share the
 * function `tributary_notify_change()`. Notifications are sent on commit, so a watcher reads
 * the committed value. To remove them: `DROP TRIGGER tributary_notify_<channel> ON <table>`
 * (and the `_truncate` one).
 *
 * @example
 * ```ts
 * import { databaseSource, installChangeNotifier } from 'tributary'
 * await installChangeNotifier(db, { table: 'config', channel: 'config_changed' })
 * const source = databaseSource(db, { notify: { channel: 'config_changed', connection: process.env.DATABASE_URL! } })
 * ```
 */
export async function installChangeNotifier<DB>(
  db: Kysely<DB>,
  options: ChangeNotifierOptions,
): Promise<void> {
  checkOptions('installChangeNotifier(db, options)', options, {
    table: checks.name,
    channel: true,
    keyColumn: checks.name,
  })
  const table = options.table ?? 'config'
  const keyColumn = options.keyColumn ?? 'key'
  const { channel } = options
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > 63) {
    throw new SourceError(
      'installChangeNotifier: channel must be a PostgreSQL identifier of 1 to 63 characters',
      {
        source: 'database',
        key: table,
      },
    )
  }
  const { sql } = requireOptional<KyselyModule>('kysely', 'installChangeNotifier')
  const qualified = table.split('.').map(quoteIdentifier).join('.')
  const trigger = `tributary_notify_${channel}`.slice(0, 54)
  const args = `${literal(channel)}, ${literal(keyColumn)}`
  const statements = [
    `CREATE OR REPLACE FUNCTION ${CHANGE_NOTIFIER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $tributary$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify(TG_ARGV[0], '');
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify(TG_ARGV[0], coalesce(to_jsonb(OLD) ->> TG_ARGV[1], ''));
  ELSE
    PERFORM pg_notify(TG_ARGV[0], coalesce(to_jsonb(NEW) ->> TG_ARGV[1], ''));
  END IF;
  RETURN NULL;
END
$tributary$`,
    `DROP TRIGGER IF EXISTS ${quoteIdentifier(trigger)} ON ${qualified}`,
    `DROP TRIGGER IF EXISTS ${quoteIdentifier(`${trigger}_truncate`)} ON ${qualified}`,
    `CREATE TRIGGER ${quoteIdentifier(trigger)} AFTER INSERT OR UPDATE OR DELETE ON ${qualified}
  FOR EACH ROW EXECUTE FUNCTION ${CHANGE_NOTIFIER_FUNCTION}(${args})`,
    `CREATE TRIGGER ${quoteIdentifier(`${trigger}_truncate`)} AFTER TRUNCATE ON ${qualified}
  FOR EACH STATEMENT EXECUTE FUNCTION ${CHANGE_NOTIFIER_FUNCTION}(${args})`,
  ]
  await db.transaction().execute(async (trx) => {
    for (const statement of statements) await sql.raw(statement).execute(trx as unknown as Kysely<never>)
  })
}
