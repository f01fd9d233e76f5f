import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  CreateUserBody,
  IdempotencyKeyHeaders,
  ListUsersQuery,
  PatchUserBody,
  Problem,
  UserList,
  UserParams,
  UserSchema,
} from './users.schemas.ts';
import type { UsersService } from './users.service.ts';

const problems = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, { ...Type.Ref('Problem'), description: 'Problem details' }]));

export const usersRoutes: FastifyPluginAsyncTypebox<{ service: UsersService }> = async (app, { service }) => {
  app.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List users, oldest first, with keyset pagination',
        querystring: ListUsersQuery,
        response: { 200: UserList, ...problems(400, 503) },
      },
    },
    async (request) => service.list(request.query.limit, request.query.cursor),
  );

  app.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user; retry safely with an Idempotency-Key header',
        body: CreateUserBody,
        headers: IdempotencyKeyHeaders,
        response: { 201: UserSchema, ...problems(400, 409, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const { user, replayed } = await service.create(request.body, request.headers['idempotency-key']);
      if (replayed) reply.header('idempotent-replayed', 'true');
      // A business event: written whatever REQUEST_LOG samples; the status records the risk decision.
      else
        request.log.info(
          { event: 'user_created', user_id: user.id, user_status: user.status },
          'user created',
        );
      return reply.code(201).header('location', `/users/${user.id}`).send(user);
    },
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Read one user',
        params: UserParams,
        response: { 200: UserSchema, ...problems(400, 404, 503) },
      },
    },
    async (request) => service.get(request.params.id),
  );

  app.patch(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Change a user’s name or email',
        params: UserParams,
        body: PatchUserBody,
        response: { 200: UserSchema, ...problems(400, 404, 409, 415, 503) },
      },
    },
    async (request) => service.update(request.params.id, request.body),
  );

  app.delete(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Delete a user',
        params: UserParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problems(400, 404, 503) },
      },
    },
    async (request, reply) => {
      await service.delete(request.params.id);
      return reply.code(204).send(null);
    },
  );
};

export { Problem };
