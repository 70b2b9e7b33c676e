/** Request-body validation for the operator APIs: a 400 naming every bad field. */
import { BadRequestException } from '@nestjs/common';
import type { z } from 'zod';

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  throw new BadRequestException({
    error: 'bad_request',
    errors: parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })),
  });
}
