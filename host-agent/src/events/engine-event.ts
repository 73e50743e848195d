/** The kinds of object an event is about, as the Engine API names them. */
export const ENGINE_EVENT_TYPES = [
  'builder',
  'config',
  'container',
  'daemon',
  'image',
  'network',
  'node',
  'plugin',
  'secret',
  'service',
  'volume',
] as const;

export type EngineEventType = (typeof ENGINE_EVENT_TYPES)[number];

/** An event as `GET /events` sends it (the Engine API's EventMessage). */
export interface EngineEvent {
  Type: EngineEventType;
  /** `create`, `start`, `die`, `exec_start: sh -c …`, `pull`, `mount`, … */
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Seconds since the epoch. */
  time: number;
  /** Nanoseconds since the epoch; exact to about a quarter of a microsecond as a JSON number. */
  timeNano: number;
  /** Deprecated copies kept for old clients: container and image events carry them, as from dockerd. */
  status?: string;
  id?: string;
  from?: string;
}

/** What a part of the engine says happened. */
export interface EngineEventInput {
  type: EngineEventType;
  action: string;
  /** The object's id (a container id, an image id or reference, a volume or network name). */
  id: string;
  /**
   * `name`, `image`, labels… Container events carry the container's labels and `image` and
   * `name`; image events carry `name`; volume events `driver`; network events `name` and `type`.
   */
  attributes?: Record<string, string>;
}
