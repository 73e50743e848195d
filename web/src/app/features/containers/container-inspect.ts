/** The parts of Docker's container inspect (GET /containers/{id}/json) the console shows. */
export interface ContainerInspect {
  Id: string;
  Name?: string;
  Created?: string;
  Path?: string;
  Args?: string[];
  Image?: string;
  RestartCount?: number;
  State?: {
    Status?: string;
    Running?: boolean;
    Paused?: boolean;
    Restarting?: boolean;
    ExitCode?: number;
    Error?: string;
    StartedAt?: string;
    FinishedAt?: string;
    Health?: {
      Status?: string;
      FailingStreak?: number;
      Log?: { Start?: string; End?: string; ExitCode?: number; Output?: string }[];
    };
  };
  Config?: {
    Image?: string;
    Tty?: boolean;
    Env?: string[];
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string>;
  };
  HostConfig?: {
    RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
    NetworkMode?: string;
    Privileged?: boolean;
    Memory?: number;
    NanoCpus?: number;
  };
  Mounts?: { Type?: string; Source?: string; Destination?: string; Mode?: string; RW?: boolean; Name?: string }[];
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

/** `/web-1` → `web-1`. */
export function inspectName(inspect: ContainerInspect): string {
  return inspect.Name ? inspect.Name.replace(/^\//, '') : inspect.Id.slice(0, 12);
}
