// The pino options every jack process logs with (the server through Fastify, `jack worker` directly): one place for redaction and error shape.
import { stdTimeFunctions, type LoggerOptions } from 'pino'
import type { Config } from '../config.js'
import { serializeError } from './loggable-error.js'

export function loggerOptions (level: Config['logLevel']): LoggerOptions {
  return {
    level,
    // ISO times read at a glance in a terminal and sort the same as epoch milliseconds.
    timestamp: stdTimeFunctions.isoTime,
    // Keys must never reach a log, whatever a serializer or a later log call includes.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.headers.authorization', 'authorization'], censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError }
  }
}
