import { Injectable } from '@nestjs/common';

/** Time as services see it, so tests can move it. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
