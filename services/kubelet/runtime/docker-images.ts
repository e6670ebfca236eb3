/**
 * Images for the docker runtime: what is present, and pulls that follow the pull
 * policy and fail fast with the engine's reason (offline there is no registry:
 * the engine answers "no such host" at once; a pull that stops making progress is
 * abandoned after an idle timeout, so nothing hangs).
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { dockerMessage, statusOf } from './docker-errors.js';
import { defaultPullPolicy, normalizeImage, type PullPolicy } from './pod-spec.js';
import { ImagePullError, type ImageSummary } from './types.js';

export type DockerImagesOptions = {
  pullIdleTimeoutMs: number;
  offlineFallback: boolean;
  log: (message: string) => void;
};

export class DockerImages {
  constructor(
    private readonly docker: Docker,
    private readonly options: DockerImagesOptions,
  ) {}

  async list(): Promise<ImageSummary[]> {
    const images = await this.docker.listImages();
    return images.map((img) => ({
      names: [...(img.RepoTags ?? []), ...(img.RepoDigests ?? [])].filter((n) => !n.includes('<none>')),
      sizeBytes: img.Size,
    }));
  }

  async ensure(image: string, pullPolicy?: PullPolicy): Promise<{ imageID: string }> {
    const ref = normalizeImage(image);
    const policy = pullPolicy ?? defaultPullPolicy(ref);
    const local = await this.id(ref);
    if (local && policy !== 'Always') return { imageID: local };
    if (!local && policy === 'Never') {
      throw new ImagePullError('ErrImageNeverPull', image, `Container image "${image}" is not present with pull policy of Never`);
    }
    try {
      await this.pull(ref);
    } catch (err) {
      const why = dockerMessage(err);
      if (local && this.options.offlineFallback) {
        this.options.log(`pull of ${ref} failed (${why}); using the local image`);
        return { imageID: local };
      }
      throw new ImagePullError(
        'ErrImagePull',
        image,
        `Failed to pull image "${image}": ${why}. This node may have no registry: build or load the image ` +
          'locally (scripts/build-images.sh builds busybox, node and nats offline), then use imagePullPolicy IfNotPresent.',
        { cause: err },
      );
    }
    const pulled = await this.id(ref);
    if (!pulled) throw new ImagePullError('ErrImagePull', image, `Pull of "${image}" finished but the image is not present`);
    return { imageID: pulled };
  }

  /** The image's ID, or undefined when it is not present. */
  async id(ref: string): Promise<string | undefined> {
    try {
      return (await this.docker.getImage(ref).inspect()).Id;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Pulls, failing with the engine's reason; gives up when progress stalls. */
  private async pull(ref: string): Promise<void> {
    const idleMs = this.options.pullIdleTimeoutMs;
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(), idleMs);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), idleMs);
    };
    const stalled = () => new Error(`no progress for ${idleMs / 1000} s`);
    try {
      const stream = (await this.docker.pull(ref, { abortSignal: abort.signal })) as Readable;
      await new Promise<void>((ok, fail) => {
        abort.signal.addEventListener('abort', () => {
          stream.destroy();
          fail(stalled());
        });
        this.docker.modem.followProgress(
          stream,
          (err: Error | null, output: { error?: string }[]) => {
            // The engine reports a failed pull inside the progress stream, with status 200.
            const failed = output?.find((o) => o.error);
            if (err) fail(err);
            else if (failed) fail(new Error(failed.error));
            else ok();
          },
          touch,
        );
      });
    } catch (err) {
      if (abort.signal.aborted) throw stalled();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
