import { All, Controller, Logger, Param, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { CurrentActor, Origin } from '../auth/request-context.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import {
  AnswerSample,
  answerHeaders,
  filterJsonLines,
  requestHeaders,
  streamFailure,
} from '../services/engine-call-pipe.js';
import { type AuthorisedCall, type CallOutcome, EngineProxyService } from '../services/engine-proxy.service.js';
import { DomainError } from '../errors/domain-error.js';
import { httpStatusOf } from '../errors/error-status.js';
import type { OpenEngineCall } from '../repositories/agent-link.repository.js';
import type { EngineCallHead } from '@skiff/protocol';

const ENGINE_PREFIX = /^\/api\/hosts\/[^/]+\/engine(\/[^?]*)?(\?.*)?$/;

/**
 * The engine proxy for REST clients: `/api/hosts/:hostId/engine/<Engine API path>` reaches the
 * Docker Engine API of the host's agent. Streamed answers (logs follow, stats, events, pull
 * progress, tar downloads) stream back with flow control; attach and exec-start with
 * `Upgrade: tcp` are served by the engine upgrade gateway.
 */
@ApiTags('engine')
@ApiCookieAuth()
@ApiBearerAuth()
@Controller('hosts/:hostId/engine')
export class EngineProxyController {
  private readonly logger = new Logger('engine-proxy');

  constructor(private readonly proxy: EngineProxyService) {}

  @All('*path')
  @ApiParam({ name: 'hostId', description: 'The host whose engine to call' })
  @ApiParam({ name: 'path', description: 'A Docker Engine API path, e.g. `v1.41/containers/json`' })
  @ApiOperation({
    summary: 'Calls the Docker Engine API of a host',
    description:
      'Any route of the Engine API table (see GET /api/engine/routes) with its own permission; bodies that ask ' +
      'for privileged things need container.privileged. Routes outside the table are refused. Changes are audited.',
  })
  async call(
    @Param('hostId') hostId: string,
    @CurrentActor() actor: Actor,
    @Origin() origin: RequestOrigin,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const found = ENGINE_PREFIX.exec(request.originalUrl);
    const enginePath = `${found?.[1] ?? '/'}${found?.[2] ?? ''}`;
    // express.json() has read a JSON body already (and refused a malformed one with 400); body-parser 2
    // leaves req.body undefined when it parsed nothing.
    const parsed = request.body !== undefined;
    const body: unknown = parsed ? request.body : undefined;
    const authorised = await this.proxy.authorise({ actor, origin }, hostId, request.method, enginePath, body);

    const json = parsed ? Buffer.from(JSON.stringify(body)) : null;
    const rawBody = !parsed && hasBody(request);
    const headers = requestHeaders((name) => request.get(name));
    if (json) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(json.length);
    }
    let opened: OpenEngineCall;
    let answer: EngineCallHead;
    try {
      opened = this.proxy.open(authorised, { headers, body: json !== null || rawBody, upgrade: false });
      const { stream } = opened;
      // The caller hanging up ends the call on the agent too (a `logs -f` stops following).
      response.once('close', () => {
        if (!response.writableFinished) stream.destroy();
      });
      if (json) stream.end(json);
      else if (rawBody) {
        pipeline(request, stream).catch((error: unknown) => stream.destroy(error as Error));
      } else stream.end();
      answer = await opened.head;
    } catch (error) {
      // A call that never reached the engine (host offline, link lost) is recorded as failed.
      await this.audit(authorised, {
        status: error instanceof DomainError ? httpStatusOf(error.kind) : 502,
        error: streamFailure(error),
      });
      throw error;
    }
    const { stream } = opened;
    const sample = new AnswerSample();
    const filter = this.proxy.listFilter(authorised);
    const outHeaders = answerHeaders(answer);
    if (filter) {
      for (const name of Object.keys(outHeaders)) if (name.toLowerCase() === 'content-length') delete outHeaders[name];
    }
    response.status(answer.status);
    for (const [name, value] of Object.entries(outHeaders)) response.setHeader(name, value);
    response.flushHeaders();

    stream.on('data', (chunk: Buffer) => sample.take(chunk));
    let failure: string | null = null;
    try {
      if (filter) await pipeline(stream, filterJsonLines(filter), response);
      else await pipeline(stream, response);
    } catch (error) {
      failure = streamFailure(error);
      if (!response.destroyed) response.destroy();
    }
    const status = answer.status;
    await this.audit(authorised, {
      status,
      error: status >= 400 ? sample.errorMessage(status) : failure,
      createdId: sample.createdId(),
    });
  }

  private async audit(call: AuthorisedCall, outcome: CallOutcome): Promise<void> {
    await this.proxy
      .complete(call, outcome)
      .catch((error: unknown) => this.logger.error(`audit of ${call.match.route.key}: ${streamFailure(error)}`));
  }
}

function hasBody(request: Request): boolean {
  const length = request.get('content-length');
  return request.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}
