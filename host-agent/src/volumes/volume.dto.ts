/** The Engine API's shapes for volumes (docker-engine-api v1.56: Volume, VolumeListResponse, …). */

/** `docker volume create`'s body, VolumeCreateRequest, in the agent's spelling. */
export interface VolumeCreateRequest {
  /** Absent or empty: an anonymous volume with a random 64-hex name. */
  name?: string;
  /** Absent or empty: `local`, the only driver. */
  driver?: string;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface VolumeUsageData {
  /** Bytes in the volume; -1 where not measured (a volume mounted from a device). */
  Size: number;
  /** Containers using the volume. */
  RefCount: number;
}

export interface VolumeDto {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: 'local';
  /** Only in `GET /system/df`. */
  UsageData?: VolumeUsageData;
}

export interface VolumeListResponse {
  Volumes: VolumeDto[];
  /** A volume whose metadata cannot be read is left out and named here. */
  Warnings: string[];
}

export interface VolumePruneResponse {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}

/** `VolumeUsage` of `GET /system/df` (VolumesDiskUsage); older API versions list `Items` as `Volumes`. */
export interface VolumesDiskUsage {
  ActiveCount: number;
  TotalCount: number;
  Reclaimable: number;
  TotalSize: number;
  Items: VolumeDto[];
}
