/** `wasmfleet token create|list|revoke`: API tokens with roles viewer, operator, admin (admin only). */
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

const ROLES = ['viewer', 'operator', 'admin'] as const;

interface TokenView {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  [key: string]: unknown;
}

const create: CommandModule<GlobalArgs, GlobalArgs & { name: string; role: string }> = {
  command: 'create <name>',
  describe: 'Create an API token; it is shown once (only its hash is stored)',
  builder: (argv) =>
    argv
      .positional('name', { type: 'string', demandOption: true, describe: 'who or what will use it' })
      .option('role', { choices: ROLES, demandOption: true, describe: 'viewer: reads; operator: devices, modules, deployments; admin: tokens, keys, audit' })
      .example('$0 token create ci-deployer --role operator', 'a token for a CI pipeline that deploys')
      .example('WASMFLEET_TOKEN=$($0 token create grafana --role viewer --json | jq -r .token)', 'capture the token in a script') as Argv<
      GlobalArgs & { name: string; role: string }
    >,
  handler: async (args) => {
    const created = await clientFor(args).post<TokenView & { token: string }>('/api/v1/tokens', { name: args.name, role: args.role });
    emit(args.json, created, () =>
      [`created token ${created.id} '${created.name}' (role ${created.role})`, `  token  ${created.token}   (shown once)`].join('\n'),
    );
  },
};

const list: CommandModule<GlobalArgs, GlobalArgs & { revoked: boolean }> = {
  command: 'list',
  describe: 'List API tokens: id, name, role, when created, last used and revoked (never secrets)',
  builder: (argv) =>
    argv
      .option('revoked', { type: 'boolean', default: true, describe: 'include revoked tokens (--no-revoked hides them)' })
      .example('$0 token list --no-revoked', 'the tokens that still work') as Argv<GlobalArgs & { revoked: boolean }>,
  handler: async (args) => {
    const result = await clientFor(args).get<{ tokens: TokenView[] }>('/api/v1/tokens', { revoked: args.revoked });
    emit(args.json, result, () => table(result.tokens, ['id', 'name', 'role', 'createdAt', 'lastUsedAt', 'revokedAt']));
  },
};

const revoke: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: 'revoke <id>',
  describe: 'Revoke an API token at once (the last active admin token cannot be revoked)',
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true, describe: 'token id (the 16 hex digits after wft_)' })
      .example('$0 token revoke 3f2a9c0d11e4b7a8', 'stop a leaked token') as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    await clientFor(args).delete(`/api/v1/tokens/${encodeURIComponent(args.id)}`);
    emit(args.json, { revoked: args.id }, () => `revoked token ${args.id}`);
  },
};

export const tokenCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'token <command>',
  describe: 'Create, list and revoke API tokens (roles viewer, operator, admin)',
  builder: (argv) =>
    argv
      .command(create)
      .command(list)
      .command(revoke)
      .demandCommand(1)
      .example('$0 token create ops-alice --role operator', 'a token for an operator') as Argv<GlobalArgs>,
  handler: () => undefined,
};
