/** One bridge network of this engine (the default `bridge` or a user-defined one). */
export interface NetworkRecord {
  id: string;
  name: string;
  created: string;
  /** The Linux bridge: `skiff0` (or the engine's choice) for `bridge`, `sk-<id>` for user networks. */
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange?: string;
  internal: boolean;
  attachable: boolean;
  /** The default `bridge` network: no name resolution, cannot be removed. */
  isDefault: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
}

/** A container's place on one network, as long as it is connected (addresses only while it runs). */
export interface EndpointRecord {
  networkId: string;
  endpointId: string;
  aliases: string[];
  /** `--ip` / `IPAMConfig.IPv4Address`. */
  staticAddress?: string;
  /** While the container runs: its address, MAC and interface inside the container. */
  address?: string;
  mac?: string;
  interfaceName?: string;
  hostInterface?: string;
}

/** A published port as the engine keeps it while the container runs. */
export interface PortMapping {
  protocol: 'tcp' | 'udp';
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export interface NetworkState {
  version: 1;
  networks: NetworkRecord[];
  /** Container id → its endpoints, by network id. */
  endpoints: Record<string, EndpointRecord[]>;
  /** Container id → its published ports while it runs. */
  ports: Record<string, PortMapping[]>;
}
