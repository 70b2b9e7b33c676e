/**
 * Turns body-parser failures into the API's JSON error shape (`error` + `errors[{field, message}]`):
 * 413 naming the limit for a body above the service's (chunked bodies: a Content-Length above it is
 * refused earlier, by http-hardening.ts), 400 for malformed JSON (Nest has already made that
 * a BadRequestException in its default shape), 415 for a charset other than UTF-8. Our own
 * exceptions and everything else go to Nest's default handling.
 */
import { BadRequestException, Catch, HttpException, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Response } from 'express';
import { throwError, type Observable } from 'rxjs';

interface BodyParserError {
  readonly type: string;
  readonly status?: number;
  readonly limit?: number;
  readonly length?: number;
  readonly charset?: string;
  readonly message: string;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string' && !(err instanceof HttpException);
}

/** Nest turns body-parser's SyntaxError into a BadRequestException with its default body. */
function isNestJsonParseError(err: unknown): err is BadRequestException {
  if (!(err instanceof BadRequestException)) return false;
  const body = err.getResponse();
  return typeof body === 'object' && 'statusCode' in body && /JSON/.test(err.message);
}

@Catch()
export class BodyErrorsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void | Observable<never> {
    // Global filters also see the Kafka handlers' errors: hand those back to the consumer loop,
    // which classifies them (retry or dead letter).
    if (host.getType() !== 'http') return throwError(() => exception);
    const res = host.switchToHttp().getResponse<Response>();
    if (isNestJsonParseError(exception)) {
      res.status(400).json({ error: 'malformed_json', errors: [{ field: '(body)', message: `body is not valid JSON: ${exception.message}` }] });
      return;
    }
    if (!isBodyParserError(exception)) return super.catch(exception, host);
    switch (exception.type) {
      case 'entity.too.large':
        res.status(413).json({
          error: 'payload_too_large',
          errors: [{ field: '(body)', message: `request body of ${exception.length ?? 'more than'} bytes exceeds the limit of ${exception.limit} bytes` }],
        });
        return;
      case 'entity.parse.failed':
        res.status(400).json({ error: 'malformed_json', errors: [{ field: '(body)', message: `body is not valid JSON: ${exception.message}` }] });
        return;
      case 'charset.unsupported':
      case 'encoding.unsupported':
        res.status(415).json({ error: 'unsupported_encoding', errors: [{ field: 'content-type', message: `${exception.message}; send UTF-8 JSON` }] });
        return;
      default:
        res.status(exception.status ?? 400).json({ error: 'bad_request', errors: [{ field: '(body)', message: exception.message }] });
    }
  }
}
