/**
 * The contract's video section (CONTRACT.md §3) from what a reader found, built in one place for the
 * ffprobe path and the in-process MP4, Matroska and AVI readers, so that they cannot drift apart. The display
 * size swaps width and height for a quarter turn and applies no sample aspect ratio (video.ts says why).
 */
import type { VideoInfo } from '../contract.js';

export type VideoFacts = Omit<VideoInfo, 'displayWidth' | 'displayHeight'>;

export function videoSection(v: VideoFacts): VideoInfo {
  const quarter = v.rotation === 90 || v.rotation === 270;
  return {
    container: v.container,
    durationSec: v.durationSec,
    width: v.width,
    height: v.height,
    rotation: v.rotation,
    displayWidth: quarter ? v.height : v.width,
    displayHeight: quarter ? v.width : v.height,
    fps: v.fps,
    frameCount: v.frameCount,
    videoCodec: v.videoCodec,
    ...(v.bitRate !== undefined ? { bitRate: v.bitRate } : {}),
    ...(v.audio ? { audio: v.audio } : {}),
  };
}
