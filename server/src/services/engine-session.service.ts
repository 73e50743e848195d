import { Injectable, Logger } from '@nestjs/common';
import type { EngineCallHead } from '@skiff/protocol';
import type { Duplex } from 'node:stream';
import { DomainError } from '../errors/domain-error.js';
import { httpStatusOf } from '../errors/error-status.js';
import { AnswerSample, streamFailure } from './engine-call-pipe.js';
import type { OpenEngineCall } from '../repositories/agent-link.repository.js';
import { type AuthorisedCall, EngineProxyService } from './engine-proxy.service.js';

export interface SessionClient {
  /** The JSON body of the call (exec start's `{Detach, Tty}`, empty for attach). */
  body: Buffer;
  contentType: string;
  /** The caller's side: its input is the session's stdin, the session's output is written to it. */
  client: Duplex;
  /** Input the client sent before the answer (stdin typed early). */
  early?: Buffer;
  /** Tells the client the answer: taken over (`upgraded`) or a plain answer whose body follows. */
  answer(head: EngineCallHead, upgraded: boolean): void;
}

/**
 * Attach and exec sessions through the server, from an upgraded HTTP connection or a console
 * stream alike: splices the caller to the agent's raw stream both ways (each side may half-close)
 * and, once it is over, writes one audit record with its start, end, bytes each way and exit code.
 */
@Injectable()
export class EngineSessionService {
  private readonly logger = new Logger('engine-session');

  constructor(private readonly proxy: EngineProxyService) {}

  async run(call: AuthorisedCall, session: SessionClient): Promise<void> {
    const startedAt = new Date();
    const { client } = session;
    let opened: OpenEngineCall;
    let answer: EngineCallHead;
    const onClientGone = () => opened?.stream.destroy();
    try {
      opened = this.proxy.open(call, {
        headers: { 'content-type': session.contentType, 'content-length': String(session.body.length) },
        body: true,
        upgrade: true,
      });
      client.once('close', onClientGone);
      opened.stream.write(session.body);
      answer = await opened.head;
    } catch (error) {
      client.off('close', onClientGone);
      const status = error instanceof DomainError ? httpStatusOf(error.kind) : 502;
      await this.audit(call, { status, error: streamFailure(error) });
      throw error;
    }
    const { stream } = opened;
    session.answer(answer, answer.upgraded);

    if (!answer.upgraded) {
      // An error (no such exec, not running…) or exec start with Detach: a plain answer.
      const sample = new AnswerSample();
      stream.on('data', (chunk: Buffer) => sample.take(chunk));
      stream.end();
      await new Promise<void>((resolve) => {
        stream.pipe(client);
        stream.once('close', resolve);
      });
      client.end();
      await this.audit(call, {
        status: answer.status,
        error: answer.status >= 400 ? sample.errorMessage(answer.status) : null,
      });
      return;
    }

    const bodyBytes = session.body.length;
    if (session.early && session.early.length > 0) stream.write(session.early);
    let failure: string | null = null;
    await new Promise<void>((resolve) => {
      stream.once('error', (error) => {
        failure = streamFailure(error);
      });
      client.on('error', (error) => {
        failure ??= error.message;
        stream.destroy();
      });
      client.pipe(stream); // The client's half-close ends stdin.
      stream.pipe(client); // The session's end ends the client's connection.
      stream.once('close', resolve);
    });
    client.off('close', onClientGone);
    if (!client.destroyed) client.end();
    const endedAt = new Date();
    const exitCode = await this.exitCode(call);
    await this.audit(call, {
      status: answer.status,
      error: failure,
      session: {
        startedAt,
        endedAt,
        bytesIn: Math.max(0, stream.counters.sent - bodyBytes),
        bytesOut: stream.counters.received,
        exitCode,
      },
    });
  }

  /** The exit code of the exec (or the attached container, once it stopped), or null when not known. */
  private async exitCode(call: AuthorisedCall): Promise<number | null> {
    const id = call.match.params.id;
    try {
      if (call.match.route.key === 'POST /exec/{id}/start') {
        for (let attempt = 0; attempt < 10; attempt += 1) {
          const exec = await this.proxy.internalJson<{ Running?: boolean; ExitCode?: number | null }>(
            call.host.id,
            'GET',
            `/exec/${encodeURIComponent(id)}/json`,
          );
          if (!exec.Running) return typeof exec.ExitCode === 'number' ? exec.ExitCode : null;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return null;
      }
      const container = await this.proxy.internalJson<{ State?: { Running?: boolean; ExitCode?: number } }>(
        call.host.id,
        'GET',
        `/containers/${encodeURIComponent(id)}/json`,
      );
      return container.State?.Running === false && typeof container.State.ExitCode === 'number'
        ? container.State.ExitCode
        : null;
    } catch (error) {
      this.logger.debug(`exit code of ${call.match.route.key} ${id}: ${streamFailure(error)}`);
      return null;
    }
  }

  private async audit(call: AuthorisedCall, outcome: Parameters<EngineProxyService['complete']>[1]): Promise<void> {
    await this.proxy
      .complete(call, outcome)
      .catch((error: unknown) => this.logger.error(`audit of ${call.match.route.key}: ${streamFailure(error)}`));
  }
}
