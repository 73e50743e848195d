/**
 * `docker build` with the classic builder: each instruction of the Dockerfile is one step whose
 * result is an image (untagged, its parent the step before), so `docker history` shows every
 * step and the build cache can point at them. RUN runs in a real container of this engine, made
 * from the image of the step before; COPY, ADD and WORKDIR write into an overlay of that image
 * mounted in the build's own directory; either way the upper directory becomes the step's layer.
 *
 * The build directory `<root>/build/<id>/` holds the context and the mounts and is removed, with
 * every mount and container of the build, however the build ends.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';

import { EngineError, invalidArgument, notFound } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import { diskView, PathResolveError, resolveInRoot } from '../containers/container-archive.js';
import type { ContainerService } from '../containers/container-service.js';
import { resolveUser } from '../containers/process-config.js';
import type { ContainerDefaults, HistoryEntry, ImageConfig } from '../images/image-config.js';
import { hostPlatform } from '../images/image-config.js';
import type { ImageService, ResolvedImage } from '../images/image-service.js';
import { decompress } from '../snapshots/compression.js';
import { shortId, type Digest } from '../snapshots/digest.js';
import { extractTar } from '../snapshots/tar-extractor.js';
import { packDirectory, packTar, type TarEntry } from '../snapshots/tar-packer.js';
import type { SysCalls } from '../sys/sys-calls.js';
import type { IdMap } from '../userns/id-map.js';
import { BuildCache, stepKey } from './build-cache.js';
import { BuildContext } from './build-context.js';
import { mountReadOnly, mountWritable, type MountedRootfs, type RootfsMounter } from './build-rootfs.js';
import {
  applyMetadata,
  argv,
  DEFAULT_PATH_ENV,
  DEFAULT_SHELL,
  nopCreatedBy,
  planStages,
  PREDEFINED_ARGS,
  stagesUpTo,
  variables,
  workingDirectory,
  type Stage,
} from './build-steps.js';
import { toCommand, toCommands, type Command } from './dockerfile-instructions.js';
import { parseDockerfile } from './dockerfile-parser.js';
import { SourceRoot, type Owner, type ResolvedSource } from './file-sources.js';
import { expandWord, type VariableLookup } from './shell-lexer.js';

/** What POST /build asks for. */
export interface BuildRequest {
  /** The Dockerfile's path in the context. */
  dockerfile?: string;
  /** Names for the result, already checked. */
  tags: readonly string[];
  buildArgs: ReadonlyMap<string, string | undefined>;
  labels: Readonly<Record<string, string>>;
  target?: string;
  noCache: boolean;
  quiet: boolean;
  /** RUN containers' network (`--network`); the engine's default when absent. */
  networkMode?: string;
  /** Limits of the RUN containers (`-m`, `--cpu-shares`, `--shm-size`, …), as HostConfig fields. */
  runHostConfig?: Readonly<Record<string, unknown>>;
  /** `--pull`: pull base images even when they are here. */
  alwaysPull?: boolean;
  /** Pulls an image that is not here (FROM, COPY --from), sending the pull's progress lines. */
  pull?: (name: string, progress: (message: object) => Promise<void>) => Promise<ResolvedImage>;
  signal: AbortSignal;
}

/** One message of the build's JSON stream: output, the result, or a base image's pull progress. */
export type BuildMessage = { stream: string } | { aux: { ID: string } } | object;

export type BuildContainers = Pick<
  ContainerService,
  'create' | 'start' | 'attach' | 'wait' | 'remove' | 'get' | 'list'
>;

/** The label of RUN containers, so that those of a build cut short by an agent stop are found again. */
export const BUILD_CONTAINER_LABEL = 'com.skiff.build-step';

export interface ImageBuilderOptions {
  images: ImageService;
  containers: BuildContainers;
  sys: SysCalls;
  /** `<root>/build`: the cache index and the directories of running builds. */
  directory: string;
  ids?: IdMap;
}

/** A failed RUN: its message, and the exit code the CLI exits with. */
export class RunFailedError extends EngineError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('invalid-argument', message);
  }
}

interface StageState {
  stage: Stage;
  /** The image of the last step; undefined right after `FROM scratch`. */
  image: ResolvedImage | undefined;
  /** The config the next step starts from. */
  config: ImageConfig;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
}

interface Job {
  request: BuildRequest;
  directory: string;
  context: BuildContext;
  escape: string;
  emit: (message: BuildMessage) => Promise<void>;
  /** Build args some ARG declared. */
  consumed: Set<string>;
  /** The result of each stage built so far, by index. */
  stageImages: (ResolvedImage | undefined)[];
  stageNames: Map<string, number>;
  cleanups: (() => Promise<void> | void)[];
  step: number;
  totalSteps: number;
}

export class ImageBuilder {
  readonly cache: BuildCache;
  private readonly mounter: RootfsMounter;

  private constructor(private readonly options: ImageBuilderOptions) {
    this.cache = new BuildCache(options.directory);
    this.mounter = {
      layers: options.images.layers,
      sys: options.sys,
      emptyDirectory: options.images.snapshotter.emptyLowerDirectory,
      ...(options.ids ? { ids: options.ids } : {}),
    };
  }

  static async open(options: ImageBuilderOptions): Promise<ImageBuilder> {
    await mkdir(options.directory, { recursive: true, mode: 0o700 });
    // Directories of builds cut short by a stop of the agent: their mounts went with its namespace
    // only if it was the host's; detach whatever is left, then remove them.
    for (const name of await readdir(options.directory)) {
      if (!name.startsWith('job-')) continue;
      const job = join(options.directory, name);
      for (const mount of await readdir(job).catch(() => [] as string[])) {
        for (const target of ['merged', 'rootfs']) detach(options.sys, join(job, mount, target));
      }
      await rm(job, { recursive: true, force: true });
    }
    // RUN containers of those builds (their shims outlive the agent): none of them will be committed.
    for (const record of options.containers.list()) {
      if (record.labels[BUILD_CONTAINER_LABEL] === undefined) continue;
      await options.containers.remove(record.id, { force: true, volumes: true }).catch(() => undefined);
    }
    const builder = new ImageBuilder(options);
    await builder.cache.load();
    return builder;
  }

  /**
   * Builds from the context tar `body`; `emit` receives the output as it happens. Resolves with
   * the image and the names it was given.
   */
  async build(
    body: AsyncIterable<Uint8Array>,
    request: BuildRequest,
    emit: (message: BuildMessage) => Promise<void>,
  ): Promise<{ id: Digest; tags: string[] }> {
    const directory = join(this.options.directory, `job-${randomBytes(8).toString('hex')}`);
    await mkdir(directory, { mode: 0o700 });
    const job: Job = {
      request,
      directory,
      context: undefined as unknown as BuildContext,
      escape: '\\',
      emit: request.quiet ? () => Promise.resolve() : emit,
      consumed: new Set(),
      stageImages: [],
      stageNames: new Map(),
      cleanups: [],
      step: 0,
      totalSteps: 0,
    };
    try {
      job.context = await BuildContext.receive(body, directory, this.options.sys);
      const text = await job.context.readDockerfile(request.dockerfile);
      await job.context.applyDockerIgnore();
      const parsed = parseDockerfile(text);
      job.escape = parsed.escape;
      const plan = planStages(toCommands(parsed.instructions, parsed.escape));
      const stages = stagesUpTo(plan, request.target);
      const labels = Object.entries(request.labels);
      job.totalSteps =
        plan.metaArgs.length +
        stages.reduce((total, stage) => total + 1 + stage.commands.length, 0) +
        (labels.length > 0 ? 1 : 0);
      if (labels.length > 0) {
        // `--label` is one LABEL step at the end, its values taken literally (single-quoted).
        const literal = (text: string): string => `'${text.replace(/'/g, `'"'"'`)}'`;
        const original = `LABEL ${labels.map(([key, value]) => `${JSON.stringify(key)}=${JSON.stringify(value)}`).join(' ')}`;
        stages[stages.length - 1].commands.push({
          kind: 'LABEL',
          line: 0,
          original,
          pairs: labels.map(([key, value]) => ({ key: literal(key), value: literal(value) })),
        });
      }

      const metaArgs = new Map<string, string | undefined>();
      for (const command of plan.metaArgs) {
        await this.announce(job, command);
        for (const arg of command.args) {
          const lookup = variables([], metaArgs);
          const given = request.buildArgs.get(arg.name);
          if (request.buildArgs.has(arg.name)) job.consumed.add(arg.name);
          metaArgs.set(
            arg.name,
            given ?? (arg.defaultValue === undefined ? undefined : expandWord(arg.defaultValue, lookup, job.escape)),
          );
        }
      }

      let last: ResolvedImage | undefined;
      for (const stage of stages) {
        last = await this.buildStage(job, stage, metaArgs);
        job.stageImages[stage.index] = last;
        if (stage.name !== undefined) job.stageNames.set(stage.name, stage.index);
      }
      if (last === undefined) {
        // `FROM scratch` and nothing else: an image with no layer, as Docker makes it.
        last = await this.options.images.addBuiltImage({ config: () => scratchConfig(), what: 'the build' });
      }

      const unused = [...request.buildArgs.keys()].filter(
        (name) => !job.consumed.has(name) && !PREDEFINED_ARGS.includes(name),
      );
      if (unused.length > 0) {
        await job.emit({ stream: `[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n` });
      }
      await emit({ aux: { ID: last.id } });
      if (request.quiet) await emit({ stream: `${last.id}\n` });
      await job.emit({ stream: `Successfully built ${shortId(last.id)}\n` });
      const tags: string[] = [];
      for (const tag of request.tags) {
        const name = await this.options.images.tag(last.id, tag);
        tags.push(name);
        await job.emit({ stream: `Successfully tagged ${name}\n` });
      }
      return { id: last.id, tags };
    } finally {
      for (const cleanup of job.cleanups.reverse()) {
        try {
          await cleanup();
        } catch {
          // Keep cleaning: the next start of the agent removes what is left.
        }
      }
      await rm(directory, { recursive: true, force: true });
    }
  }

  /**
   * `docker builder prune`: forgets every cache entry and removes the images only the cache kept
   * (untagged, no child image, no container): the intermediate images of past builds.
   */
  async prune(): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
    const { images } = this.options;
    const used = async (): Promise<number> => {
      const usage = await images.diskUsage();
      return usage.layersSize + usage.blobsSize;
    };
    const before = await used();
    const entries = await this.cache.remove();
    let candidates = [...new Set(entries.map(([, entry]) => entry.image))];
    for (let progress = true; progress && candidates.length > 0;) {
      progress = false;
      const remaining: Digest[] = [];
      for (const id of candidates) {
        const record = images.store.get(id);
        if (record === undefined) continue;
        const keep =
          images.store.referencesTo(id).length > 0 || images.store.list().some((other) => other.parent === id);
        if (keep) {
          remaining.push(id);
          continue;
        }
        try {
          await images.remove(id);
          progress = true;
        } catch (error) {
          // In use by a container: it stays.
          if (!(error instanceof EngineError && error.kind === 'conflict')) throw error;
        }
      }
      candidates = remaining;
    }
    return { CachesDeleted: entries.map(([key]) => key), SpaceReclaimed: Math.max(0, before - (await used())) };
  }

  private async announce(job: Job, command: Command): Promise<void> {
    if (job.request.signal.aborted) throw invalidArgument('the build was cancelled');
    job.step += 1;
    await job.emit({ stream: `Step ${job.step}/${job.totalSteps} : ${command.original}\n` });
  }

  private async buildStage(
    job: Job,
    stage: Stage,
    metaArgs: ReadonlyMap<string, string | undefined>,
  ): Promise<ResolvedImage | undefined> {
    await this.announce(job, stage.from);
    const name = expandWord(stage.from.image, variables([], metaArgs), job.escape);
    if (stage.from.platform !== undefined) {
      const platform = expandWord(stage.from.platform, variables([], metaArgs), job.escape);
      const host = hostPlatform();
      if (platform !== `${host.os}/${host.architecture}` && platform !== host.os) {
        throw invalidArgument(
          `FROM --platform=${platform}: this engine builds for ${host.os}/${host.architecture} only`,
        );
      }
    }
    let base: ResolvedImage | undefined;
    const earlier = job.stageNames.get(name.toLowerCase());
    if (earlier !== undefined) base = job.stageImages[earlier];
    else if (name === 'scratch') base = undefined;
    else {
      if (name === '') throw invalidArgument(`FROM on line ${stage.from.line} names no image`);
      base = await this.baseImage(job, name);
    }
    if (base !== undefined) await job.emit({ stream: ` ---> ${shortId(base.id)}\n` });
    const config: ImageConfig = base === undefined ? scratchConfig() : structuredClone(base.config);
    const defaults = config.config ?? {};
    if (!(defaults.Env ?? []).some((entry) => entry.startsWith('PATH=')))
      defaults.Env = [...(defaults.Env ?? []), DEFAULT_PATH_ENV];
    const triggers = defaults.OnBuild ?? [];
    // A child image does not inherit its base's triggers: they ran here.
    defaults.OnBuild = null;
    config.config = defaults;
    const state: StageState = { stage, image: base, config, args: new Map(), cmdSet: false };
    if (triggers.length > 0) {
      await job.emit({ stream: `# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n` });
      for (const trigger of triggers) {
        const parsed = parseDockerfile(trigger).instructions[0];
        if (parsed === undefined) continue;
        await this.runCommand(job, state, toCommand(parsed, job.escape));
      }
    }
    for (const command of stage.commands) {
      await this.announce(job, command);
      await this.runCommand(job, state, command);
    }
    return state.image;
  }

  /**
   * An image named by FROM or COPY --from: the local one, or pulled when missing (or with
   * --pull); held until the build ends.
   */
  private async baseImage(job: Job, name: string): Promise<ResolvedImage> {
    const image = await this.findOrPull(job, name);
    job.cleanups.push(this.options.images.hold(image.id));
    return image;
  }

  private async findOrPull(job: Job, name: string): Promise<ResolvedImage> {
    const local = this.options.images.find(name);
    const { pull } = job.request;
    if (pull !== undefined && (local === undefined || job.request.alwaysPull === true)) {
      try {
        return await pull(name, (message) => job.emit(message));
      } catch (error) {
        const message = `cannot pull ${name}, which the build needs: ${errorMessage(error)}`;
        throw new EngineError(error instanceof EngineError ? error.kind : 'unavailable', message);
      }
    }
    if (local === undefined) {
      throw notFound(`No such image: ${name}: it is not here and this build cannot pull it (docker pull ${name})`);
    }
    return local;
  }

  private lookup(state: StageState): VariableLookup {
    return variables(state.config.config?.Env ?? [], state.args);
  }

  private async runCommand(job: Job, state: StageState, command: Command): Promise<void> {
    switch (command.kind) {
      case 'FROM':
        throw new Error('internal: FROM inside a stage');
      case 'ARG': {
        const parts: string[] = [];
        for (const arg of command.args) {
          if (job.request.buildArgs.has(arg.name)) job.consumed.add(arg.name);
          const given = job.request.buildArgs.get(arg.name);
          const value =
            given ??
            (arg.defaultValue === undefined ? undefined : expandWord(arg.defaultValue, this.lookup(state), job.escape));
          state.args.set(arg.name, value);
          parts.push(arg.defaultValue === undefined ? arg.name : `${arg.name}=${arg.defaultValue}`);
        }
        await this.commitMetadata(job, state, state.config.config ?? {}, `ARG ${parts.join(' ')}`);
        return;
      }
      case 'RUN':
        await this.run(job, state, command);
        return;
      case 'COPY':
      case 'ADD':
        await this.copy(job, state, command);
        return;
      case 'WORKDIR':
        await this.workdir(job, state, command);
        return;
      default: {
        const change = applyMetadata(command, state.config.config ?? {}, this.lookup(state), job.escape, state.cmdSet);
        if (command.kind === 'CMD') state.cmdSet = true;
        await this.commitMetadata(job, state, change.defaults, change.text);
      }
    }
  }

  private shell(state: StageState): string[] {
    return state.config.config?.Shell ?? DEFAULT_SHELL;
  }

  /** A step that changes only the config: cached, else a new image without a new layer. */
  private async commitMetadata(job: Job, state: StageState, defaults: ContainerDefaults, text: string): Promise<void> {
    if (text.startsWith('MAINTAINER ')) state.config.author = text.slice('MAINTAINER '.length);
    await this.commitStep(job, state, { createdBy: nopCreatedBy(this.shell(state), text), defaults });
  }

  /**
   * Takes the step's image from the cache, or makes it: `change` (when given) writes the step's
   * files and returns the upper directory whose contents are its layer.
   */
  private async commitStep(
    job: Job,
    state: StageState,
    step: {
      createdBy: string;
      defaults: ContainerDefaults;
      contentHash?: string;
      change?: () => Promise<{ upper: string; done: () => Promise<void> } | undefined>;
    },
  ): Promise<void> {
    const key = stepKey({
      parent: state.image?.id,
      createdBy: step.createdBy,
      ...(step.contentHash === undefined ? {} : { contentHash: step.contentHash }),
    });
    if (!job.request.noCache) {
      const cached = this.cache.get(key);
      const image = cached === undefined ? undefined : this.options.images.find(cached);
      if (image !== undefined && image.record.parent === state.image?.id) {
        job.cleanups.push(this.options.images.hold(image.id));
        state.image = image;
        state.config = structuredClone(image.config);
        await job.emit({ stream: ` ---> Using cache\n ---> ${shortId(image.id)}\n` });
        return;
      }
    }
    const changed = await step.change?.();
    try {
      const upper = changed?.upper;
      const hasChanges = upper !== undefined && (await readdir(upper)).length > 0;
      const created = new Date().toISOString();
      const parentConfig = state.config;
      const image = await this.options.images.addBuiltImage({
        ...(state.image ? { parent: state.image.id } : {}),
        ...(hasChanges && upper !== undefined
          ? {
              layer: () =>
                packDirectory(upper, {
                  sys: this.options.sys,
                  mode: 'overlay-diff',
                  ...(this.options.ids ? { ids: this.options.ids } : {}),
                }),
            }
          : {}),
        what: `step ${job.step}`,
        hold: (release) => job.cleanups.push(release),
        config: (diffId) => {
          const history: HistoryEntry = {
            created,
            created_by: step.createdBy,
            ...(diffId === undefined ? { empty_layer: true } : {}),
          };
          // What described the container of the base image's last step is not this image's.
          const rest: Record<string, unknown> = { ...parentConfig };
          delete rest.container;
          delete rest.container_config;
          return {
            ...rest,
            created,
            config: step.defaults,
            rootfs: { type: 'layers', diff_ids: [...parentConfig.rootfs.diff_ids, ...(diffId ? [diffId] : [])] },
            history: [...(parentConfig.history ?? []), history],
          };
        },
      });
      state.image = image;
      state.config = structuredClone(image.config);
      await this.cache.put(key, image.id);
    } finally {
      await changed?.done();
    }
    await job.emit({ stream: ` ---> ${shortId(state.image.id)}\n` });
  }

  // ── RUN ────────────────────────────────────────────────────────────────────────────────

  private async run(job: Job, state: StageState, command: Command & { kind: 'RUN' }): Promise<void> {
    const defaults = state.config.config ?? {};
    const shell = this.shell(state);
    const args = argv(command.form, shell);
    // Build args in effect reach the command as variables but not the image; an ENV of the same name wins.
    const env = defaults.Env ?? [];
    const argEnv = [...state.args]
      .filter(([name, value]) => value !== undefined && !env.some((entry) => entry.startsWith(`${name}=`)))
      .map(([name, value]) => `${name}=${value ?? ''}`);
    for (const name of PREDEFINED_ARGS) {
      const value = job.request.buildArgs.get(name);
      if (value !== undefined && !state.args.has(name)) argEnv.push(`${name}=${value}`);
    }
    const recordedArgs = argEnv.filter((entry) => !PREDEFINED_ARGS.includes(entry.slice(0, entry.indexOf('='))));
    const createdBy =
      recordedArgs.length > 0 ? `|${recordedArgs.length} ${recordedArgs.join(' ')} ${args.join(' ')}` : args.join(' ');
    await this.commitStep(job, state, {
      createdBy,
      defaults,
      change: async () => {
        const image = state.image;
        if (image === undefined) {
          throw invalidArgument(
            `cannot RUN on line ${command.line}: FROM scratch has no files yet; COPY or ADD a shell first`,
          );
        }
        return this.runContainer(job, image, args, [...env, ...argEnv], defaults);
      },
    });
  }

  private async runContainer(
    job: Job,
    image: ResolvedImage,
    args: string[],
    env: string[],
    defaults: ContainerDefaults,
  ): Promise<{ upper: string; done: () => Promise<void> }> {
    const { containers } = this.options;
    const { Id: id } = await containers.create(
      {
        Image: image.id,
        Entrypoint: args,
        Cmd: [],
        Env: env,
        WorkingDir: defaults.WorkingDir ?? '',
        User: defaults.User ?? '',
        AttachStdout: true,
        AttachStderr: true,
        Labels: { [BUILD_CONTAINER_LABEL]: `step ${job.step}` },
        Healthcheck: { Test: ['NONE'] },
        HostConfig: {
          ...job.request.runHostConfig,
          ...(job.request.networkMode ? { NetworkMode: job.request.networkMode } : {}),
        },
      },
      undefined,
    );
    let removing: Promise<void> | undefined;
    const remove = (): Promise<void> => (removing ??= containers.remove(id, { force: true, volumes: true }));
    job.cleanups.push(remove);
    await job.emit({ stream: ` ---> Running in ${shortId(id)}\n` });
    const onAbort = (): void => void remove().catch(() => undefined);
    job.request.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let pending = Promise.resolve();
      // Listening from the moment the attachment exists: output comes as soon as the process starts.
      // One decoder for the whole output: a character split between two reads stays whole.
      const decoder = new TextDecoder();
      const attached = containers.attach(id, false).then(({ attachment }) => {
        attachment.on('output', (_stream, data) => {
          const text = decoder.decode(data, { stream: true });
          if (text === '') return;
          // A slow client slows the step down instead of filling the agent's memory.
          attachment.pause();
          pending = pending.then(() => job.emit({ stream: text })).finally(() => attachment.resume());
        });
        return attachment;
      });
      await containers.start(id);
      const attachment = await attached;
      await attachment.closed;
      await pending;
      const { StatusCode } = await containers.wait(id, 'not-running');
      if (job.request.signal.aborted) throw invalidArgument('the build was cancelled');
      if (StatusCode !== 0) {
        throw new RunFailedError(`The command '${args.join(' ')}' returned a non-zero code: ${StatusCode}`, StatusCode);
      }
    } finally {
      job.request.signal.removeEventListener('abort', onAbort);
    }
    return {
      upper: containers.get(id).rootfs.upperDir,
      done: async () => {
        await job.emit({ stream: `Removing intermediate container ${shortId(id)}\n` });
        await remove();
      },
    };
  }

  // ── WORKDIR ────────────────────────────────────────────────────────────────────────────

  private async workdir(job: Job, state: StageState, command: { value: string }): Promise<void> {
    const value = expandWord(command.value, this.lookup(state), job.escape);
    const dir = workingDirectory(state.config.config?.WorkingDir, value);
    const defaults = { ...(state.config.config ?? {}), WorkingDir: dir };
    await this.commitStep(job, state, {
      createdBy: nopCreatedBy(this.shell(state), `WORKDIR ${dir}`),
      defaults,
      change: async () => {
        const rootfs = await this.mountStep(job, state);
        await makeDirectories(rootfs.root, dir, this.hostOwner({ uid: 0, gid: 0 }), this.options.sys);
        rootfs.unmount();
        return { upper: rootfs.upper ?? '', done: () => Promise.resolve() };
      },
    });
  }

  // ── COPY and ADD ───────────────────────────────────────────────────────────────────────

  private async copy(job: Job, state: StageState, command: Command & { kind: 'COPY' | 'ADD' }): Promise<void> {
    const lookup = this.lookup(state);
    const expand = (word: string): string => expandWord(word, lookup, job.escape);
    const words = command.sources.map(expand);
    const destinationWord = expand(command.destination);
    if (destinationWord === '')
      throw invalidArgument(`${command.kind} on line ${command.line} has an empty destination`);
    const chown = command.chown === undefined ? undefined : expand(command.chown);
    const from = command.from === undefined ? undefined : expand(command.from);
    const sourceRoot = await this.sourceRoot(job, state, from);
    const sources: ResolvedSource[] = [];
    for (const word of words) {
      if (/^https?:\/\//i.test(word)) {
        throw invalidArgument(
          `${command.kind} from a URL (${word}) is not supported by this engine: download it in a RUN step`,
        );
      }
      if (/^git@|\.git$/i.test(word) && command.kind === 'ADD') {
        throw invalidArgument(`ADD of a git repository (${word}) is not supported by this engine`);
      }
      sources.push(...(await sourceRoot.expand(word)));
    }
    if (sources.length === 0) throw invalidArgument(`${command.kind} failed: no source files were specified`);
    const destination = posix.isAbsolute(destinationWord)
      ? destinationWord
      : posix.join(state.config.config?.WorkingDir || '/', destinationWord);
    const toDirectory = destination.endsWith('/') || destinationWord === '.' || destinationWord.endsWith('/.');
    if (sources.length > 1 && !toDirectory) {
      throw invalidArgument(
        `When using ${command.kind} with more than one source file, the destination must be a directory and end with a /`,
      );
    }
    const archives = new Set<ResolvedSource>();
    if (command.kind === 'ADD') {
      for (const source of sources)
        if (source.kind === 'file' && (await isArchive(source.hostPath))) archives.add(source);
    }
    const hash = await sourceRoot.hash(sources);
    const kind = sources.length > 1 ? 'multi' : sources[0].kind === 'directory' ? 'dir' : 'file';
    const flags = [
      ...(from === undefined ? [] : [`--from=${from}`]),
      ...(chown === undefined ? [] : [`--chown=${chown}`]),
      ...(command.chmod === undefined ? [] : [`--chmod=${command.chmod}`]),
    ];
    const createdBy = `${this.shell(state).join(' ')} #(nop) ${command.kind} ${flags.map((flag) => `${flag} `).join('')}${kind}:${hash} in ${destination} `;
    await this.commitStep(job, state, {
      createdBy,
      defaults: state.config.config ?? {},
      contentHash: hash,
      change: async () => {
        const rootfs = await this.mountStep(job, state);
        const owner: Owner = {
          ...(chown === undefined ? { uid: 0, gid: 0 } : await chownIds(rootfs.root, chown)),
          ...(command.chmod === undefined ? {} : { mode: parseInt(command.chmod, 8) }),
        };
        await this.place(rootfs.root, destination, toDirectory, sources, archives, sourceRoot, owner);
        rootfs.unmount();
        return { upper: rootfs.upper ?? '', done: () => Promise.resolve() };
      },
    });
  }

  /** Where COPY takes its files from: the context, or the rootfs of a stage or image (`--from`). */
  private async sourceRoot(job: Job, state: StageState, from: string | undefined): Promise<SourceRoot> {
    if (from === undefined) return job.context.sources;
    let image: ResolvedImage | undefined;
    let what: string;
    const byName = job.stageNames.get(from.toLowerCase());
    if (byName !== undefined) {
      image = job.stageImages[byName];
      what = `stage ${from}`;
    } else if (/^\d+$/.test(from)) {
      const index = Number(from);
      if (index >= state.stage.index) {
        throw invalidArgument(
          `COPY --from=${from}: only an earlier stage can be copied from (this is stage ${state.stage.index})`,
        );
      }
      image = job.stageImages[index];
      what = `stage ${index}`;
    } else {
      if (from.toLowerCase() === state.stage.name)
        throw invalidArgument(`COPY --from=${from} names the stage it is in`);
      image = await this.baseImage(job, from);
      what = `image ${from}`;
    }
    const directory = join(job.directory, `source-${randomBytes(4).toString('hex')}`);
    const mounted = await mountReadOnly(this.mounter, directory, image?.chainIds ?? []);
    job.cleanups.push(() => mounted.unmount());
    return new SourceRoot(mounted.root, 'rootfs', this.options.sys, this.options.ids, what);
  }

  /** A writable overlay of the current image for COPY, ADD or WORKDIR; unmounted when the build ends at the latest. */
  private async mountStep(job: Job, state: StageState): Promise<MountedRootfs> {
    const directory = join(job.directory, `step-${job.step}-${randomBytes(4).toString('hex')}`);
    const mounted = await mountWritable(this.mounter, directory, state.image?.chainIds ?? []);
    job.cleanups.push(() => mounted.unmount());
    return mounted;
  }

  private hostOwner(owner: { uid: number; gid: number }): { uid: number; gid: number } {
    const { ids } = this.options;
    return ids ? { uid: ids.hostUid(owner.uid), gid: ids.hostGid(owner.gid) } : owner;
  }

  /** Copies the sources into the mounted rootfs by Docker's rules for COPY's destination. */
  private async place(
    root: string,
    destination: string,
    toDirectory: boolean,
    sources: readonly ResolvedSource[],
    archives: ReadonlySet<ResolvedSource>,
    sourceRoot: SourceRoot,
    owner: Owner,
  ): Promise<void> {
    const { sys } = this.options;
    const hostOwner = this.hostOwner(owner);
    let directory = destination;
    let singleName: string | undefined;
    if (!toDirectory && sources.length === 1 && sources[0].kind !== 'directory' && !archives.has(sources[0])) {
      const existing = await resolveInRoot(root, destination, diskView, { followFinal: true }).catch(() => undefined);
      if (existing?.kind !== 'directory') {
        directory = posix.dirname(destination);
        singleName = posix.basename(destination);
      }
    }
    const target = await makeDirectories(root, directory, hostOwner, sys);
    for (const source of sources) {
      const staging = join(target, `.skiff-build-${randomBytes(6).toString('hex')}`);
      try {
        if (archives.has(source)) {
          const { stream } = await decompress(createReadStream(source.hostPath), `the archive ${source.path}`);
          await extractTar(stream, staging, {
            sys,
            whiteouts: false,
            preserveOwnership: true,
            ...(this.options.ids ? { ids: this.options.ids } : {}),
          });
        } else {
          // A symlink given as the source is copied as its target's content under its own name.
          const name = source.kind === 'directory' ? '' : (singleName ?? posix.basename(posix.normalize(source.path)));
          const entries: AsyncIterable<TarEntry> = sourceRoot.entries(source, name, owner);
          await extractTar(packTar(entries), staging, {
            sys,
            whiteouts: false,
            preserveOwnership: true,
            ...(this.options.ids ? { ids: this.options.ids } : {}),
          });
        }
        await mergeInto(staging, target);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
  }
}

/** The config of an image made `FROM scratch`. */
function scratchConfig(): ImageConfig {
  const platform = hostPlatform();
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: [DEFAULT_PATH_ENV] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/**
 * Creates the directory `path` of the rootfs and its missing parents (owned by `owner`, mode
 * 0755), every component resolved inside the root; returns its host path.
 */
async function makeDirectories(
  root: string,
  path: string,
  owner: { uid: number; gid: number },
  sys: SysCalls,
): Promise<string> {
  const components = posix
    .normalize(`/${path}`)
    .split('/')
    .filter((part) => part !== '');
  let hostPath = root;
  for (let i = 1; i <= components.length; i++) {
    const prefix = `/${components.slice(0, i).join('/')}`;
    let resolved;
    try {
      resolved = await resolveInRoot(root, prefix, diskView, { followFinal: true });
    } catch (error) {
      if (error instanceof PathResolveError) throw invalidArgument(`cannot make ${path}: ${error.message}`);
      throw error;
    }
    if (resolved.kind === 'missing') {
      await mkdir(resolved.hostPath, { mode: 0o755 });
      sys.lchown(resolved.hostPath, owner.uid, owner.gid);
    } else if (resolved.kind !== 'directory') {
      throw invalidArgument(`cannot make ${path}: ${resolved.containerPath} exists and is not a directory`);
    }
    hostPath = resolved.hostPath;
  }
  return hostPath;
}

/** Moves an unpacked tree into place: into directories that exist, over anything else, never through a symlink. */
async function mergeInto(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const source = join(from, name);
    const target = join(to, name);
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isDirectory() && (await lstat(source)).isDirectory()) {
      await mergeInto(source, target);
      continue;
    }
    if (existing !== undefined) await rm(target, { recursive: true, force: true });
    await rename(source, target);
  }
}

/** `--chown=user[:group]` against the rootfs's own /etc/passwd and /etc/group. */
async function chownIds(root: string, spec: string): Promise<{ uid: number; gid: number }> {
  const read = async (path: string): Promise<string | null> => {
    const resolved = await resolveInRoot(root, path, diskView, { followFinal: true }).catch(() => undefined);
    if (resolved === undefined || resolved.kind !== 'other') return null;
    return readFile(resolved.hostPath, 'utf8').catch(() => null);
  };
  const [userPart = '', groupPart] = spec.split(':', 2);
  const passwd = await read('/etc/passwd');
  const group = await read('/etc/group');
  const user = resolveUser(groupPart === undefined ? userPart : `${userPart}:${groupPart}`, passwd, group);
  // A user alone (name or number) gives the group of the same number, as Docker's --chown does.
  if (groupPart === undefined) return { uid: user.uid, gid: user.uid };
  return { uid: user.uid, gid: user.gid };
}

/** Whether ADD unpacks the file: a tar, plain or compressed (gzip, zstd), recognised by its content. */
async function isArchive(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await file.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true;
    return bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await file.close();
  }
}

function detach(sys: SysCalls, path: string): void {
  try {
    sys.umount2(path, ['detach']);
  } catch {
    // Nothing mounted there.
  }
}
